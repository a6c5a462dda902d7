"""A person's whole dose history through the real server: imported, merged, shown with sources."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import Any

from vaxflow.clock import FrozenClock
from vaxflow.config import Settings
from vaxflow.config.schema import Product
from vaxflow.queue.bookings.csv_import import check_csv
from vaxflow.queue.core import engine
from vaxflow.queue.server.app import create_app
from vaxflow.queue.server.appkeys import STORE
from vaxflow.queue.store.bookings import import_bookings

from .conftest import AiohttpClient, Site
from .people import resident_id, walk_in_body

HEADER = "code,name,id_type,id_number,product,dose_number,visit_date,prior_doses\n"
ZF2001 = Product(
    code="ZF2001",
    name="ZF2001, recombinant protein",
    manufacturer="Anhui Zhifei Longcom",
    doses_in_series=3,
    min_interval_days=28,
    max_interval_days=None,
)


def _today(site: Site) -> date:
    return engine.site_day(site.clock.now(), site.settings.site.timezone)


async def _import(site: Site, text: str) -> None:
    checked = check_csv(text.encode(), site.settings, today=_today(site))
    assert checked.problems == []
    await site.app[STORE].write(lambda tx: import_bookings(tx, checked.bookings), actor="test")


def _booked(site: Site, code: str, n: int) -> dict[str, Any]:
    return {
        "booking_code": code,
        "id_card": {"id_number": resident_id(n), "name": f"王芳{n}"},
        "answers": site.answers(),
        "consent_version": site.settings.consent.version,
    }


def _row(site: Site, code: str, n: int, product: str, dose: int, prior: str) -> str:
    return (
        f'{code},王芳{n},cn_resident,{resident_id(n)},{product},{dose},{_today(site)},"{prior}"\n'
    )


async def test_two_earlier_doses_from_the_csv_are_shown_with_their_source(
    aiohttp_client: AiohttpClient, settings: Settings, clock: FrozenClock, tmp_path: Path
) -> None:
    s01 = settings.stations[0].model_copy(update={"products": ["ZF2001"]})
    with_zf = settings.model_copy(
        update={"products": [*settings.products, ZF2001], "stations": [s01, *settings.stations[1:]]}
    )
    app = create_app(with_zf, db=str(tmp_path / "h.sqlite"), clock=clock)
    site = Site(await aiohttp_client(app), clock, with_zf)
    day = _today(site)
    first, second = day - timedelta(days=70), day - timedelta(days=35)
    prior = f"{first}:ZF2001:Anhui Zhifei Longcom;{second}:ZF2001:Anhui Zhifei Longcom"
    await _import(site, HEADER + _row(site, "H1", 301, "ZF2001", 3, prior))
    body = _booked(site, "H1", 301)
    pre = await site.post(
        "kiosk", "/api/checkins/precheck", {k: body[k] for k in ("booking_code", "id_card")}
    )
    assert pre["dose_number"] == 3
    assert pre["history"] == [
        {
            "date": d.isoformat(),
            "product": "ZF2001",
            "manufacturer": "Anhui Zhifei Longcom",
            "source": "booking",
            "sources": ["booking"],
        }
        for d in (first, second)
    ]
    ticket = await site.post("kiosk", "/api/checkins", body)
    # the verifying station sees the same history
    await site.open("S01", "ZF2001")
    called = await site.post("station", "/api/stations/S01/call-next")
    assert called["called"]["ticket"] == ticket["ticket"]
    verified = await site.post("station", "/api/stations/S01/verify", {"code": ticket["ticket"]})
    assert verified["match"] is True
    assert [h["date"] for h in verified["visit"]["history"]] == [
        first.isoformat(),
        second.isoformat(),
    ]
    assert {h["source"] for h in verified["visit"]["history"]} == {"booking"}


async def test_a_dose_given_here_and_in_the_booking_data_counts_once(site: Site) -> None:
    """Dosed here as a walk-in; the booking for dose 2 names the same dose (other spelling)."""
    first = walk_in_body(site.settings, 302)
    ticket = await site.post("kiosk", "/api/checkins", first)
    await site.open("S01")
    await site.post("station", "/api/stations/S01/call-next")
    await site.post("station", "/api/stations/S01/start-service", {"code": ticket["ticket"]})
    await site.post("station", "/api/stations/S01/record-dose", {"visit_id": ticket["visit_id"]})
    site.clock.advance(minutes=31)
    await site.post("observer", "/api/exit-scan", {"code": ticket["ticket"]})
    given_on = _today(site)
    site.clock.advance(timedelta(days=28).total_seconds())
    await _import(
        site, HEADER + _row(site, "H2", 302, "CORONAVAC", 2, f"{given_on}:CoronaVac:SINOVAC ")
    )
    body = _booked(site, "H2", 302)
    pre = await site.post(
        "kiosk", "/api/checkins/precheck", {k: body[k] for k in ("booking_code", "id_card")}
    )
    assert pre["dose_number"] == 2 and pre["review"] == []
    assert pre["history"] == [
        {
            "date": given_on.isoformat(),
            "product": "CORONAVAC",
            "manufacturer": "Sinovac",
            "source": "site",
            "sources": ["site", "booking"],
        }
    ]
    second = await site.post("kiosk", "/api/checkins", body)
    assert second["dose_number"] == 2
    await site.post("station", "/api/stations/S01/call-next")
    verified = await site.post("station", "/api/stations/S01/verify", {"code": second["ticket"]})
    assert [h["sources"] for h in verified["visit"]["history"]] == [["site", "booking"]]
