"""A site day that crosses midnight and only moves forward (issue 18), on an injected clock.

The day turns at the site file's `[site] day_turns_at` (04:00 site time unless set), not at
midnight: a person dosed at 23:58 is found at the exit after midnight by scan and by typed
number; check-ins after midnight belong to the open day. A clock set back never reopens a
day that has turned or been closed by staff, nor reissues its numbers.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tests.queue.conftest import AiohttpClient, Site, auth, booking_codes
from tests.queue.test_durability import walk_in_body
from vaxflow.clock import FrozenClock
from vaxflow.config import Settings
from vaxflow.queue.bookings import signed_qr
from vaxflow.queue.core import engine
from vaxflow.queue.core.booking import Booking
from vaxflow.queue.demo.demo_data import make_people, seed_bookings
from vaxflow.queue.server.app import create_app
from vaxflow.queue.server.appkeys import STORE

SHANGHAI = ZoneInfo("Asia/Shanghai")


def at(day: int, hour: int, minute: int = 0) -> datetime:
    """November `day`, 2026, site time (Asia/Shanghai), as UTC."""
    return datetime(2026, 11, day, hour, minute, tzinfo=SHANGHAI).astimezone(UTC)


class Walk:
    """People walking in and through station S01, by the API."""

    def __init__(self, site: Site) -> None:
        self.site = site
        self.people = 0

    async def check_in(self) -> dict[str, Any]:
        self.people += 1
        body = walk_in_body(self.site.settings, self.people)
        answer: dict[str, Any] = await self.site.post("kiosk", "/api/checkins", body)
        return answer

    async def dose_next(self) -> dict[str, Any]:
        called = (await self.site.post("station", "/api/stations/S01/call-next"))["called"]
        await self.site.post("station", "/api/stations/S01/start-service", {"code": called["qr"]})
        dosed: dict[str, Any] = await self.site.post(
            "station", "/api/stations/S01/record-dose", {"visit_id": called["visit_id"]}
        )
        return dosed

    async def check_in_refused(self) -> dict[str, Any]:
        self.people += 1
        body = walk_in_body(self.site.settings, self.people)
        answer: dict[str, Any] = await self.site.post("kiosk", "/api/checkins", body, expect=409)
        return answer

    async def exit(self, code: str) -> dict[str, Any]:
        answer: dict[str, Any] = await self.site.post("observer", "/api/exit-scan", {"code": code})
        return answer


async def test_a_day_crossing_midnight_keeps_serving_its_people(site: Site) -> None:
    walk = Walk(site)
    site.clock.set(at(21, 23, 50))
    await site.open("S01")
    first = await walk.check_in()
    waiting = await walk.check_in()  # still waiting at midnight
    site.clock.set(at(21, 23, 58))
    dosed = await walk.dose_next()
    assert dosed["ticket"] == first["ticket"] and dosed["state"] == "observing"

    site.clock.set(at(22, 0, 10))  # past midnight: the same site day
    late = await walk.check_in()
    assert late["site_day"] == first["site_day"] == "2026-11-21"
    assert int(late["ticket"][1:]) == int(waiting["ticket"][1:]) + 1  # numbering goes on
    early = await walk.exit(dosed["qr"])  # by scan: not wrong_day
    assert early["may_leave"] is False and 0 < early["remaining_seconds"] <= 18 * 60
    second = await walk.dose_next()  # call-next serves the day's queue
    assert second["ticket"] == waiting["ticket"]

    site.clock.set(at(22, 0, 29))
    typed = await walk.exit(dosed["ticket"])  # by typed number: not unknown_ticket
    assert typed["may_leave"] is True and typed["visit"]["ticket"] == dosed["ticket"]
    third = await walk.dose_next()
    assert third["ticket"] == late["ticket"]
    site.clock.set(at(22, 1, 0))
    assert (await walk.exit(second["ticket"]))["may_leave"] is True
    board = await site.get("board", "/api/observation")
    assert [p["ticket"] for p in board["people"]] == [third["ticket"]]


async def test_the_day_turns_at_four_and_a_clock_set_back_never_reopens_it(site: Site) -> None:
    walk = Walk(site)
    site.clock.set(at(21, 20, 0))
    old = [await walk.check_in() for _ in range(3)]
    assert {t["site_day"] for t in old} == {"2026-11-21"}

    site.clock.set(at(22, 4, 10))  # the day has turned
    new = await walk.check_in()
    assert (new["site_day"], new["ticket"]) == ("2026-11-22", "W001")

    site.clock.set(at(22, 3, 50))  # the clock is set back across the turn
    again = await walk.check_in()
    assert (again["site_day"], again["ticket"]) == ("2026-11-22", "W002")  # not W004 of the 21st
    stats = await site.get("marshal", "/api/stats")
    assert stats["tickets_issued"] == 2  # the day shown is the 22nd

    site.clock.set(at(21, 23, 0))  # even a whole day back: no number twice
    later = await walk.check_in()
    assert (later["site_day"], later["ticket"]) == ("2026-11-22", "W003")


async def test_a_closed_day_refuses_check_ins_and_its_people_finish(site: Site) -> None:
    """Staff close the 21st at 21:00 with people in every state: nobody new checks in (not on
    the 22nd either); the people of the 21st are called, dosed and leave by scan and by typed
    number; the next day opens only when staff open it, once they have all finished."""
    walk = Walk(site)
    site.clock.set(at(21, 20, 30))
    await site.open("S01")
    await walk.check_in()
    dosed = await walk.dose_next()  # observing
    called = await walk.check_in()
    waiting = await walk.check_in()
    await site.post("station", "/api/stations/S01/call-next")  # `called` is at S01

    site.clock.set(at(21, 21, 0))
    closed = await site.post("marshal", "/api/site-day/close")
    assert closed["closed"] == "2026-11-21" and closed["unfinished"] == 3
    assert closed["next_turn"] == at(22, 4, 0).isoformat()
    assert await site.post("marshal", "/api/site-day/close") == closed  # harmless twice

    site.clock.set(at(21, 21, 30))
    refused = (await walk.check_in_refused())["error"]
    assert refused["reason"] == "site_day_closed"
    assert refused["details"]["day"] == "2026-11-21" and refused["details"]["opens_at"] == "04:00"
    assert set(refused["messages"]) == {"zh-CN", "zh-TW", "en"} and refused["hints"]["en"]
    assert "04:00" in refused["messages"]["zh-CN"] and "签到" in refused["messages"]["zh-CN"]
    body = {"walk_in": walk_in_body(site.settings, 99)["walk_in"]}
    pre = await site.post("kiosk", "/api/checkins/precheck", body, expect=409)
    assert pre["error"]["reason"] == "site_day_closed"
    stats = await site.get("marshal", "/api/stats")
    assert (stats["site_day"], stats["day_closed"], stats["tickets_issued"]) == (
        "2026-11-21",
        True,
        3,
    )
    metrics = await site.client.get("/metrics", headers=auth("metrics"))
    assert "\nvaxflow_site_day_closed 1.0\n" in await metrics.text()
    shown = (await site.get("marshal", "/api/dashboard"))["site_day"]
    assert shown == {
        "day": "2026-11-21",
        "closed": True,
        "turns_at": "04:00",
        "next_turn": at(22, 4, 0).isoformat(),
    }

    # The people of the closed day finish: service by typed number, call-next, scans.
    station = "/api/stations/S01"
    await site.post("station", f"{station}/start-service", {"code": called["ticket"]})
    await site.post("station", f"{station}/record-dose", {"visit_id": called["visit_id"]})
    last = (await site.post("station", f"{station}/call-next"))["called"]
    assert last["ticket"] == waiting["ticket"]
    await site.post("station", f"{station}/start-service", {"code": last["qr"]})
    await site.post("station", f"{station}/record-dose", {"visit_id": last["visit_id"]})
    early = await site.post("marshal", "/api/site-day/open", expect=409)
    assert early["error"]["reason"] == "day_not_finished"
    assert early["error"]["details"]["unfinished"] == 3 and early["error"]["hints"]["zh-TW"]

    site.clock.set(at(21, 22, 5))
    assert (await walk.exit(dosed["qr"]))["may_leave"] is True  # by scan
    assert (await walk.exit(called["ticket"]))["may_leave"] is True  # by typed number
    assert (await walk.exit(waiting["qr"]))["may_leave"] is True

    site.clock.set(at(21, 18, 0))  # a clock set back never reopens the closed day
    back = (await walk.check_in_refused())["error"]
    assert (back["reason"], back["details"]["day"]) == ("site_day_closed", "2026-11-21")

    site.clock.set(at(21, 22, 10))
    assert await site.post("marshal", "/api/site-day/open") == {
        "closed": "2026-11-21",
        "open": "2026-11-22",
    }
    after = await walk.check_in()  # staff opened the 22nd: its numbers, from 1
    assert (after["site_day"], after["ticket"]) == ("2026-11-22", "W001")
    site.clock.set(at(21, 18, 0))  # set back again: the 22nd stays open, numbering goes on
    back_again = await walk.check_in()
    assert (back_again["site_day"], back_again["ticket"]) == ("2026-11-22", "W002")
    again = await site.post("marshal", "/api/site-day/open", expect=409)  # the 22nd is open
    assert again["error"]["reason"] == "day_not_closed"
    assert (await site.get("marshal", "/api/dashboard"))["site_day"]["closed"] is False


async def test_a_closed_day_gives_way_at_its_turn(site: Site) -> None:
    """Closed at 21:00 with nobody left: still closed at 03:59 and after a clock set back a
    whole day; at 04:00 (the site file's turn) the 22nd opens by itself, numbered from 1."""
    walk = Walk(site)
    site.clock.set(at(21, 20, 0))
    first = await walk.check_in()
    assert first["site_day"] == "2026-11-21"
    await site.post("kiosk", f"/api/visits/{first['visit_id']}/cancel")
    site.clock.set(at(21, 21, 0))
    assert (await site.post("marshal", "/api/site-day/close"))["unfinished"] == 0
    site.clock.set(at(22, 3, 59))
    assert (await walk.check_in_refused())["error"]["reason"] == "site_day_closed"
    site.clock.set(at(20, 12, 0))  # a day and more back
    assert (await walk.check_in_refused())["error"]["details"]["day"] == "2026-11-21"
    site.clock.set(at(22, 4, 1))
    morning = await walk.check_in()
    assert (morning["site_day"], morning["ticket"]) == ("2026-11-22", "W001")
    stats = await site.get("marshal", "/api/stats")
    assert (stats["site_day"], stats["day_closed"]) == ("2026-11-22", False)
    site.clock.set(at(22, 3, 0))  # back before the turn: the 22nd, open (it has numbers)
    assert (await walk.check_in())["ticket"] == "W002"


def turning_at(settings: Settings, turn: time) -> Settings:
    return settings.model_copy(
        update={"site": settings.site.model_copy(update={"day_turns_at": turn})}
    )


@pytest.fixture
async def six_am_site(
    aiohttp_client: AiohttpClient, settings: Settings, clock: FrozenClock, db_url: str
) -> Site:
    """A site whose file says `day_turns_at = "06:30"`."""
    late = turning_at(settings, time(6, 30))
    return Site(await aiohttp_client(create_app(late, db=db_url, clock=clock)), clock, late)


async def test_the_day_turns_when_the_site_file_says(six_am_site: Site) -> None:
    site, walk = six_am_site, Walk(six_am_site)
    site.clock.set(at(22, 5, 0))  # past 04:00 but before this site's 06:30: still the 21st
    night = await walk.check_in()
    assert (night["site_day"], night["ticket"]) == ("2026-11-21", "W001")
    site.clock.set(at(22, 6, 29))
    assert (await site.get("marshal", "/api/stats"))["tickets_issued"] == 1
    site.clock.set(at(22, 6, 31))  # the turn: a new day, numbered from 1
    morning = await walk.check_in()
    assert (morning["site_day"], morning["ticket"]) == ("2026-11-22", "W001")
    report = await site.client.get("/api/reports/daily?date=2026-11-21", headers=auth("marshal"))
    print(await report.text())
    assert report.status == 200


# --- booking dates are judged against the open day ----------------------------------------

PRIVATE, PUBLIC = signed_qr.new_key()


@pytest.fixture
async def keyed_site(
    aiohttp_client: AiohttpClient, settings: Settings, clock: FrozenClock, db_url: str
) -> Site:
    """A site that reads signed booking QRs, with the 21st's bookings listed."""
    keyed = settings.model_copy(
        update={"booking": settings.booking.model_copy(update={"public_keys": {"k1": PUBLIC}})}
    )
    app = create_app(keyed, db=db_url, clock=clock)
    client = await aiohttp_client(app)
    day = date(2026, 11, 21)
    await app[STORE].write(lambda tx: seed_bookings(tx, keyed, day, 200), actor="test")
    return Site(client, clock, keyed)


def signed_body(site: Site, day: int, n: int = 0) -> dict[str, Any]:
    """A signed QR check-in for November `day`, booked all that day (an adult's first dose)."""
    visit = date(2026, 11, day)
    person = [
        p
        for p in make_people(site.settings, visit, 50, seed=3)
        if p.dose_number == 1 and p.birth_date and engine.age_on(p.birth_date, visit) < 60
    ][n]
    booking = Booking(
        **{
            **person.__dict__,
            "code": f"QR{day}-{n}",
            "window_start": datetime.combine(visit, time(0, 0), SHANGHAI),
            "window_end": datetime.combine(visit, time(23, 59), SHANGHAI),
        }
    )
    return {
        "booking_qr": signed_qr.sign(booking, PRIVATE, "k1", site.settings.site.timezone),
        "id_card": {"id_number": person.id_number, "name": person.person_name},
        "answers": site.answers(),
        "consent_version": site.settings.consent.version,
    }


async def test_a_closed_day_takes_no_more_bookings(keyed_site: Site) -> None:
    """Staff closed the 21st at 19:00: a booking for the 21st (signed QR or code) and one for
    the 22nd are all refused as `site_day_closed`, not numbered; at the 22nd's turn the
    22nd's booking checks in on the 22nd."""
    site = keyed_site
    site.clock.set(at(21, 19, 0))
    code = booking_codes(site.settings, site.clock, product="CORONAVAC", elderly=False)[0]
    assert (await site.post("marshal", "/api/site-day/close"))["closed"] == "2026-11-21"
    site.clock.set(at(21, 19, 30))
    for body in (signed_body(site, 21), site.check_in_body(code), signed_body(site, 22)):
        refused = await site.post("kiosk", "/api/checkins", body, expect=409)
        assert refused["error"]["reason"] == "site_day_closed", refused
    assert (await site.get("marshal", "/api/stats"))["tickets_issued"] == 0
    site.clock.set(at(22, 4, 30))
    ticket = await site.post("kiosk", "/api/checkins", signed_body(site, 22))
    assert (ticket["site_day"], ticket["ticket"]) == ("2026-11-22", "A001")


async def test_after_a_clock_set_back_bookings_are_judged_on_the_open_day(
    keyed_site: Site,
) -> None:
    """The 22nd has opened (numbers issued); the clock is set back before its 04:00 turn. A
    booking for the 22nd checks in on the 22nd (not `wrong_day` against the schedule's 21st);
    one for the 21st is from a day that has ended."""
    site, walk = keyed_site, Walk(keyed_site)
    site.clock.set(at(22, 9, 0))
    assert (await walk.check_in())["site_day"] == "2026-11-22"
    site.clock.set(at(22, 3, 50))
    ticket = await site.post("kiosk", "/api/checkins", signed_body(site, 22))
    assert (ticket["site_day"], ticket["ticket"]) == ("2026-11-22", "A001")
    old = await site.post("kiosk", "/api/checkins", signed_body(site, 21, 1), expect=409)
    assert old["error"]["reason"] == "qr_expired"
