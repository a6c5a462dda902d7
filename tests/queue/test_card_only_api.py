"""A booked person who brings only the ID card: found by the number, never a walk-in place."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import datetime
from datetime import time as clock_time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from sqlalchemy import select

from vaxflow.clock import FrozenClock
from vaxflow.config import Settings
from vaxflow.queue.bookings.sim_service import create_service
from vaxflow.queue.core import engine
from vaxflow.queue.core.booking import Booking
from vaxflow.queue.demo.demo_data import make_people
from vaxflow.queue.server.app import create_app
from vaxflow.queue.server.appkeys import STORE
from vaxflow.queue.store import tables as t
from vaxflow.queue.store.bookings import import_bookings

from .conftest import AiohttpClient, Site, booking_codes
from .people import walk_in_body


def card_only(
    site: Site, person: Booking, *, precheck: bool = False, **over: Any
) -> dict[str, Any]:
    """What the kiosk sends when the person placed the card and chose "no booking QR"."""
    walk_in = {"name": person.person_name, "id_number": person.id_number, **over}
    if precheck:
        return {"walk_in": walk_in}
    return {
        "walk_in": walk_in,
        "answers": site.answers(),
        "consent_version": site.settings.consent.version,
    }


async def _walk_ins_issued(site: Site) -> int:
    board = await site.get("marshal", "/api/dashboard")
    return int(board["walk_in"]["issued"])


async def _booking_row(site: Site, code: str) -> Any:
    bookings = t.bookings
    return await site.app[STORE].read(
        lambda conn: conn.execute(select(bookings).where(bookings.c.code == code)).first()
    )


async def test_a_card_only_booked_person_gets_the_bookings_lane(site: Site) -> None:
    code = booking_codes(site.settings, site.clock, product="CORONAVAC", elderly=False)[0]
    person = site.person(code)
    pre = await site.post("kiosk", "/api/checkins/precheck", card_only(site, person, precheck=True))
    assert (pre["walk_in"], pre["booking_found_by_id"]) == (False, True)
    assert pre["booking_code"] == "*" * (len(code) - 4) + code[-4:]
    assert pre["product"] == person.product
    ticket = await site.post("kiosk", "/api/checkins", card_only(site, person, product="BBIBP"))
    assert ticket["ticket"][0] in "AE" and ticket["walk_in"] is False
    assert ticket["booking_found_by_id"] is True
    assert ticket["product"] == person.product  # the booking's, not what the kiosk sent
    assert await _walk_ins_issued(site) == 0
    row = await _booking_row(site, code)
    assert row.visit_id == ticket["visit_id"]
    # the same person again, card only or with the booking QR: one person, one ticket
    again = await site.post("kiosk", "/api/checkins", card_only(site, person), expect=409)
    assert again["error"]["reason"] == "already_checked_in"
    again = await site.post("kiosk", "/api/checkins", site.check_in_body(code), expect=409)
    assert again["error"]["details"]["ticket"] == ticket["ticket"]


async def test_card_only_without_a_booking_is_still_a_walk_in(site: Site) -> None:
    only_card = {"walk_in": walk_in_body(site.settings, 401)["walk_in"]}
    pre = await site.post("kiosk", "/api/checkins/precheck", only_card)
    assert (pre["walk_in"], pre["booking_found_by_id"], pre["booking_code"]) == (True, False, None)
    ticket = await site.post("kiosk", "/api/checkins", walk_in_body(site.settings, 401))
    assert (ticket["ticket"], ticket["walk_in"], ticket["booking_found_by_id"]) == (
        "W001",
        True,
        False,
    )
    assert await _walk_ins_issued(site) == 1


async def test_the_booking_rules_apply_to_a_card_only_person(site: Site) -> None:
    young = booking_codes(site.settings, site.clock, product="CORONAVAC", elderly=False)
    person = site.person(young[1])
    other_name = await site.post(
        "kiosk", "/api/checkins", card_only(site, person, name="李四"), expect=409
    )
    assert other_name["error"]["reason"] == "name_mismatch"
    # a booking for 09:00-10:00 met at 16:00: too late, as with the QR, not a walk-in ticket
    day = engine.site_day(site.clock.now(), site.settings.site.timezone)
    zone = ZoneInfo(site.settings.site.timezone)
    late = Booking(
        **{
            **site.person(young[2]).__dict__,
            "code": "LATE1",
            "id_number": walk_in_body(site.settings, 402)["walk_in"]["id_number"],  # type: ignore[index]
            "window_start": datetime.combine(day, clock_time(9, 0), zone),
            "window_end": datetime.combine(day, clock_time(10, 0), zone),
            "birth_date": None,
        }
    )
    await site.app[STORE].write(lambda tx: import_bookings(tx, [late]), actor="test")
    refused = await site.post("kiosk", "/api/checkins", card_only(site, late), expect=409)
    assert refused["error"]["reason"] == "too_late"
    assert await _walk_ins_issued(site) == 0


# --- the booking service, asked by ID number ------------------------------------------------


@pytest.fixture
async def service_people(settings: Settings, clock: FrozenClock) -> list[Booking]:
    day = engine.site_day(clock.now(), settings.site.timezone)
    return [
        Booking(**{**p.__dict__, "code": f"SVC{i}", "source": "service"})
        for i, p in enumerate(make_people(settings, day, 40, seed=99))
        if p.dose_number == 1 and engine.age_on(p.birth_date, day) < 60  # type: ignore[arg-type]
    ]


async def _site_with_service(
    aiohttp_client: AiohttpClient,
    settings: Settings,
    clock: FrozenClock,
    tmp_path: Path,
    url: str,
) -> Site:
    configured = settings.model_copy(
        update={
            "booking": settings.booking.model_copy(
                update={"service_url": url, "service_timeout_seconds": 0.5}
            )
        }
    )
    app = create_app(configured, db=str(tmp_path / "svc.sqlite"), clock=clock)
    return Site(await aiohttp_client(app), clock, configured)


@pytest.fixture
async def service_url(service_people: list[Booking]) -> AsyncIterator[str]:
    server = TestServer(create_service(service_people))
    await server.start_server()
    yield str(server.make_url("/"))
    await server.close()


async def test_card_only_asks_the_booking_service_by_id_number(
    aiohttp_client: AiohttpClient,
    settings: Settings,
    clock: FrozenClock,
    tmp_path: Path,
    service_url: str,
    service_people: list[Booking],
) -> None:
    site = await _site_with_service(aiohttp_client, settings, clock, tmp_path, service_url)
    person = service_people[0]
    pre = await site.post("kiosk", "/api/checkins/precheck", card_only(site, person, precheck=True))
    assert (pre["walk_in"], pre["booking_found_by_id"]) == (False, True)
    ticket = await site.post("kiosk", "/api/checkins", card_only(site, person))
    assert ticket["ticket"][0] in "AE" and ticket["walk_in"] is False
    row = await _booking_row(site, person.code)  # remembered, and used by this visit
    assert (row.source, row.visit_id) == ("service", ticket["visit_id"])
    stranger = walk_in_body(site.settings, 403)
    assert (await site.post("kiosk", "/api/checkins", stranger))["ticket"] == "W001"


async def _hang(_request: web.Request) -> web.Response:
    await asyncio.sleep(30)
    return web.json_response({"bookings": []})


@pytest.mark.parametrize("service", ["hangs", "down"])
async def test_a_slow_or_down_service_costs_a_walk_in_at_most_its_timeout(
    aiohttp_client: AiohttpClient,
    settings: Settings,
    clock: FrozenClock,
    tmp_path: Path,
    service: str,
) -> None:
    app = web.Application()
    app.router.add_get("/bookings", _hang)
    server = TestServer(app)
    await server.start_server()
    url = str(server.make_url("/"))
    if service == "down":
        await server.close()
    try:
        site = await _site_with_service(aiohttp_client, settings, clock, tmp_path, url)
        started = time.monotonic()
        ticket = await site.post("kiosk", "/api/checkins", walk_in_body(site.settings, 404))
        assert ticket["ticket"] == "W001"
        assert time.monotonic() - started < 3  # the timeout is 0.5 s
    finally:
        if service == "hangs":
            await server.close()
