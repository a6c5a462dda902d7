"""The server decides the dose through the real API: another manufacturer's earlier dose, a
claimed dose number that disagrees, a booster, a finished one-dose series, an overdue dose."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from vaxflow.clock import FrozenClock
from vaxflow.config import Settings
from vaxflow.queue.core import engine
from vaxflow.queue.core.booking import Booking, PriorDose
from vaxflow.queue.server.app import create_app
from vaxflow.queue.server.appkeys import STORE
from vaxflow.queue.store.bookings import import_bookings

from .conftest import AiohttpClient, Site
from .people import resident_id, walk_in_body

ADULT = date(1990, 3, 7)
MAKERS = {
    "CORONAVAC": "Sinovac",
    "BBIBP": "Sinopharm Beijing",
    "AD5-NCOV": "CanSino",
    "ZF2001": "Anhui Zhifei Longcom",
}


@pytest.fixture
async def zf_site(
    aiohttp_client: AiohttpClient, settings: Settings, clock: FrozenClock, tmp_path: Path
) -> Site:
    """The demo site with station S11 also giving ZF2001 (the demo knows it for history)."""
    data = settings.model_dump()
    data["stations"] = [
        {**s, "products": [*s["products"], "ZF2001"]} if s["id"] == "S11" else s
        for s in data["stations"]
    ]
    site = Settings.model_validate(data)
    app = create_app(site, db=str(tmp_path / "zf.sqlite"), clock=clock)
    return Site(await aiohttp_client(app), clock, site)


def _today(site: Site) -> date:
    return engine.site_day(site.clock.now(), site.settings.site.timezone)


async def _booked(
    site: Site, n: int, product: str, dose_number: int, earlier: list[tuple[int, str]]
) -> Booking:
    """A booking on today's list for person `n`, with earlier doses (days ago, product)."""
    day = _today(site)
    booking = Booking(
        code=f"SCH{n:03d}",
        person_name=f"李明{n}",
        id_type="cn_resident",
        id_number=resident_id(500 + n, ADULT),
        site_id=site.settings.site.id,
        visit_date=day,
        product=product,
        dose_number=dose_number,
        birth_date=ADULT,
        prior_doses=tuple(
            PriorDose(day - timedelta(days=ago), code, MAKERS[code], k)
            for k, (ago, code) in enumerate(earlier, start=1)
        ),
    )
    await site.app[STORE].write(lambda tx: import_bookings(tx, [booking]), actor="test")
    return booking


def _body(site: Site, booking: Booking) -> dict[str, Any]:
    return {
        "booking_code": booking.code,
        "id_card": {"id_number": booking.id_number, "name": booking.person_name},
        "answers": site.answers(),
        "consent_version": site.settings.consent.version,
    }


def _pre(site: Site, booking: Booking) -> dict[str, Any]:
    return {
        "booking_code": booking.code,
        "id_card": {"id_number": booking.id_number, "name": booking.person_name},
    }


async def _dose_recorded(
    site: Site, station: str, product: str, ticket: dict[str, Any], *, called: bool = False
) -> Any:
    if not called:
        await site.open(station, product)
        await site.post("station", f"/api/stations/{station}/call-next")
    await site.post("station", f"/api/stations/{station}/start-service", {"code": ticket["ticket"]})
    return await site.post(
        "station", f"/api/stations/{station}/record-dose", {"visit_id": ticket["visit_id"]}
    )


async def test_another_manufacturers_earlier_dose_is_refused_naming_it(site: Site) -> None:
    """One Sinovac dose 20 days ago, booked for Sinopharm "dose 1": no ticket."""
    booking = await _booked(site, 1, "BBIBP", 1, [(20, "CORONAVAC")])
    given_on = (_today(site) - timedelta(days=20)).isoformat()
    for path, body in [
        ("/api/checkins/precheck", _pre(site, booking)),
        ("/api/checkins", _body(site, booking)),
    ]:
        refused = await site.post("kiosk", path, body, expect=409)
        error = refused["error"]
        assert error["reason"] == "manufacturer_mismatch"
        assert error["details"]["previous"] == "Sinovac"
        assert error["details"]["date"] == given_on
        assert given_on in error["messages"]["en"] and "Sinovac" in error["messages"]["zh-CN"]
        assert {r["code"] for r in error["details"]["reasons"]} == {
            "manufacturer_mismatch",
            "interval_too_short",
        }


async def test_a_complete_cansino_series_gets_no_coronavac_dose_1(site: Site) -> None:
    booking = await _booked(site, 2, "CORONAVAC", 1, [(90, "AD5-NCOV")])
    refused = await site.post("kiosk", "/api/checkins", _body(site, booking), expect=409)
    assert refused["error"]["reason"] == "series_complete"
    assert refused["error"]["details"]["manufacturer"] == "CanSino"


async def test_a_claimed_dose_number_that_disagrees_goes_to_a_doctor(zf_site: Site) -> None:
    """One ZF2001 dose on record, booked as "dose 3": dose 2 is decided and recorded."""
    site = zf_site
    booking = await _booked(site, 3, "ZF2001", 3, [(40, "ZF2001")])
    pre = await site.post("kiosk", "/api/checkins/precheck", _pre(site, booking))
    assert (pre["dose_number"], pre["claimed_dose_number"], pre["dose_kind"]) == (2, 3, "primary")
    assert [d["product"] for d in pre["earlier_doses"]] == ["ZF2001"]
    assert pre["review"] == [{"code": "dose_claim_mismatch", "claimed": 3, "decided": 2}]
    ticket = await site.post("kiosk", "/api/checkins", _body(site, booking))
    assert ticket["dose_number"] == 2 and ticket["lane"] == "E"  # the doctor-review lane
    await site.open("S11", "ZF2001")
    await site.post("station", "/api/stations/S11/call-next")
    seen = await site.get("station", f"/api/tickets/{ticket['ticket']}")  # called: served here
    assert seen["review_reasons"] == ["dose_claim_mismatch"]
    dosed = await _dose_recorded(site, "S11", "ZF2001", ticket, called=True)
    assert dosed["dose_number"] == 2


async def test_a_booster_six_months_after_the_series(site: Site) -> None:
    booking = await _booked(site, 4, "CORONAVAC", 3, [(240, "CORONAVAC"), (212, "CORONAVAC")])
    pre = await site.post("kiosk", "/api/checkins/precheck", _pre(site, booking))
    assert (pre["dose_number"], pre["dose_kind"], pre["review"]) == (3, "booster", [])
    assert [d["kind"] for d in pre["earlier_doses"]] == ["primary", "primary"]
    ticket = await site.post("kiosk", "/api/checkins", _body(site, booking))
    assert (ticket["lane"], ticket["dose_number"], ticket["dose_kind"]) == ("A", 3, "booster")
    await site.open("S01")
    await site.post("station", "/api/stations/S01/call-next")
    answer = await site.post("station", "/api/stations/S01/verify", {"code": ticket["qr"]})
    assert "booster" in {f["code"] for f in answer["visit"]["flags"]}
    dosed = await site.post(
        "station", "/api/stations/S01/record-dose", {"visit_id": ticket["visit_id"]}
    )
    assert dosed["dose_number"] == 3


async def test_a_booster_too_soon_says_when(site: Site) -> None:
    booking = await _booked(site, 5, "CORONAVAC", 3, [(120, "CORONAVAC"), (92, "CORONAVAC")])
    refused = await site.post("kiosk", "/api/checkins", _body(site, booking), expect=409)
    assert refused["error"]["reason"] == "booster_too_early"
    completed = _today(site) - timedelta(days=92)
    assert refused["error"]["details"]["last_date"] == completed.isoformat()


async def test_an_overdue_dose_is_a_note_for_the_station_not_a_doctor(site: Site) -> None:
    booking = await _booked(site, 6, "CORONAVAC", 2, [(70, "CORONAVAC")])
    ticket = await site.post("kiosk", "/api/checkins", _body(site, booking))
    assert ticket["lane"] == "A"
    await site.open("S01")
    await site.post("station", "/api/stations/S01/call-next")
    seen = await site.get("station", f"/api/tickets/{ticket['ticket']}")
    assert seen["review_reasons"] == []
    assert seen["schedule_notes"] == [{"code": "dose_overdue", "days": 70, "max_days": 56}]
    answer = await site.post("station", "/api/stations/S01/verify", {"code": ticket["qr"]})
    overdue = next(f for f in answer["visit"]["flags"] if f["code"] == "overdue")
    assert overdue["text"]["en"] == "Overdue: complete as soon as possible"


async def test_a_walk_in_who_says_nothing_gets_the_dose_the_history_gives(site: Site) -> None:
    first = walk_in_body(site.settings, 31)
    ticket = await site.post("kiosk", "/api/checkins", first)
    assert ticket["dose_number"] == 1 and ticket["dose_kind"] == "primary"
    await _dose_recorded(site, "S01", "CORONAVAC", ticket)
    site.clock.advance(minutes=31)
    await site.post("observer", "/api/exit-scan", {"code": ticket["ticket"]})
    site.clock.advance(timedelta(days=21).total_seconds())
    again = await site.post("kiosk", "/api/checkins", walk_in_body(site.settings, 31))
    assert (again["dose_number"], again["lane"]) == (2, "W")
