"""Nobody is stranded at the schedule's day turn (issue 18), on an injected clock.

At the site file's `day_turns_at` (04:00 here) the next site day opens by itself. People of
the day before who are still waiting, called, in service or observing are carried over: a
station calls the waiting ones before the new day's queue, their tickets are found by scan
and by typed number (the new day's W001 does not hide the old W001 at the exit), the call
board still shows them, the marshal counts them, and they get no second ticket. A visit left
unfinished long before (checked in over `engine.CARRY_OVER` ago) is a record nobody closed,
not a person in the building: it is not called, and its person may check in anew.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from tests.queue.conftest import Site
from tests.queue.test_durability import walk_in_body
from tests.queue.test_site_day import Walk, at
from vaxflow.queue.core.report import build, reconcile
from vaxflow.queue.ops.uplink_summary import daily_summary
from vaxflow.queue.server.appkeys import STORE
from vaxflow.queue.store.records import day_bounds, day_rows


async def check_in_as(site: Site, index: int, *, expect: int = 200) -> dict[str, Any]:
    body = walk_in_body(site.settings, index)
    answer: dict[str, Any] = await site.post("kiosk", "/api/checkins", body, expect=expect)
    return answer


async def call(site: Site, station: str) -> dict[str, Any] | None:
    called: dict[str, Any] | None = (
        await site.post("station", f"/api/stations/{station}/call-next")
    )["called"]
    return called


async def start(site: Site, station: str, code: str) -> dict[str, Any]:
    answer: dict[str, Any] = await site.post(
        "station", f"/api/stations/{station}/start-service", {"code": code}
    )
    return answer


async def dose(site: Site, station: str, visit_id: int) -> dict[str, Any]:
    answer: dict[str, Any] = await site.post(
        "station", f"/api/stations/{station}/record-dose", {"visit_id": visit_id}
    )
    return answer


async def test_people_in_every_state_at_the_turn_all_finish(site: Site) -> None:
    walk = Walk(site)
    walk.people = 100  # the 22nd's walk-ins are other people than the 21st's
    site.clock.set(at(22, 3, 30))  # the 21st's small hours: its people are still here
    for station in ("S01", "S02", "S03"):
        await site.open(station)
    old = [await check_in_as(site, i) for i in range(1, 6)]  # W001..W005 of the 21st
    assert [t["ticket"] for t in old] == ["W001", "W002", "W003", "W004", "W005"]
    site.clock.set(at(22, 3, 45))
    observing = await call(site, "S01")
    assert observing is not None and observing["ticket"] == "W001"
    await start(site, "S01", observing["qr"])
    await dose(site, "S01", observing["visit_id"])  # observation ends 04:15
    called = await call(site, "S02")  # W002: called, not yet at the station
    in_service = await call(site, "S03")
    assert called is not None and in_service is not None
    await start(site, "S03", in_service["qr"])  # W003: in service; W004, W005 waiting

    site.clock.set(at(22, 4, 5))  # the turn has passed: the 22nd is open
    new = await walk.check_in()
    assert (new["site_day"], new["ticket"]) == ("2026-11-22", "W001")
    again = await check_in_as(site, 4, expect=409)  # W004's person, still waiting
    assert (again["error"]["reason"], again["error"]["details"]["ticket"]) == (
        "already_checked_in",
        "W004",
    )
    stats = await site.get("marshal", "/api/stats")
    assert (stats["site_day"], stats["carried_over"]) == ("2026-11-22", 5)
    assert stats["waiting"] == 3  # W004 and W005 of the 21st, W001 of the 22nd
    board = await site.get("board", "/api/boards/calls")
    assert called["ticket"] in [c["ticket"] for c in board["calls"]]

    # At the exit a typed "W001" is the 21st's W001, observing since 03:45: not the 22nd's.
    early = await walk.exit("W001")
    assert (early["may_leave"], early["visit"]["visit_id"]) == (False, observing["visit_id"])
    assert 0 < early["remaining_seconds"] <= 10 * 60

    # The called person arrives and shows their ID card at S02: verified, served.
    card = walk_in_body(site.settings, 2)["walk_in"]["id_number"]
    checked = await site.post(
        "station", "/api/stations/S02/verify", {"code": card, "by": "id_reader"}
    )
    assert (checked["match"], checked["visit"]["state"]) == (True, "in_service")
    # ... and the one in service at S03 is dosed.
    await dose(site, "S02", called["visit_id"])
    await dose(site, "S03", in_service["visit_id"])
    # W004's ticket typed at S03 before it calls again: not the called person, a mismatch.
    other = await site.post("station", "/api/stations/S01/call-next")
    assert other["called"]["ticket"] == "W004"
    typed = await site.post("station", "/api/stations/S01/verify", {"code": "W005", "by": "typed"})
    assert (typed["match"], typed["found"]["ticket"]) == (False, "W005")
    ok = await site.post("station", "/api/stations/S01/verify", {"code": "W004", "by": "typed"})
    assert ok["match"] is True
    await dose(site, "S01", other["called"]["visit_id"])
    # The stations call the 21st's waiting people before the 22nd's W001.
    order = [await call(site, s) for s in ("S02", "S03")]
    assert [(c or {}).get("ticket") for c in order] == ["W005", "W001"]
    assert order[1] is not None and order[1]["visit_id"] == new["visit_id"]
    for station, person in zip(("S02", "S03"), order, strict=True):
        assert person is not None
        await start(site, station, person["ticket"] if station == "S02" else person["qr"])
        await dose(site, station, person["visit_id"])
    order.insert(0, other["called"])

    # Both W001s observing now: a typed number could release the wrong one, the scan cannot.
    site.clock.set(at(22, 4, 16))
    typed = await site.post("observer", "/api/exit-scan", {"code": "W001"}, expect=409)
    assert typed["error"]["reason"] == "ticket_ambiguous"
    assert "W001" in typed["error"]["messages"]["zh-CN"], typed["error"]
    assert "2026-11-21" in typed["error"]["hints"]["zh-TW"]
    scanned = await walk.exit(observing["qr"])
    assert scanned["may_leave"] is True and scanned["visit"]["visit_id"] == observing["visit_id"]
    assert (await walk.exit(observing["qr"]))["may_leave"] is True  # scanning twice is fine
    assert (await walk.exit("W001"))["visit"]["visit_id"] == new["visit_id"]  # one left
    site.clock.set(at(22, 5, 0))
    for person in (called, in_service, *order):
        assert person is not None
        assert (await walk.exit(person["qr"]))["may_leave"] is True
    board = await site.get("board", "/api/observation")
    assert board["people"] == []
    stats = await site.get("marshal", "/api/stats")
    assert (stats["carried_over"], stats["waiting"], stats["observing"]) == (0, 0, 0)
    assert stats["released"] == 1  # the 22nd's own W001; the 21st's count on the 21st


async def test_a_visit_left_unfinished_long_ago_is_not_carried_over(site: Site) -> None:
    site.clock.set(at(21, 19, 0))
    await site.open("S01")
    stale = await check_in_as(site, 1)  # went home without being called; nobody closed it
    site.clock.set(at(22, 9, 0))  # the next morning, 14 hours on
    assert await call(site, "S01") is None
    fresh = await check_in_as(site, 1)  # the same person, back: a new ticket today
    assert (fresh["site_day"], fresh["ticket"]) == ("2026-11-22", "W001")
    stats = await site.get("marshal", "/api/stats")
    assert (stats["carried_over"], stats["waiting"]) == (0, 1)
    called = await call(site, "S01")
    assert called is not None and called["visit_id"] == fresh["visit_id"]
    old_scan = await site.post("observer", "/api/exit-scan", {"code": stale["qr"]}, expect=409)
    assert old_scan["error"]["reason"] == "wrong_day"


async def test_a_scanned_ticket_of_an_older_day_is_still_refused(site: Site) -> None:
    """Two turns on, yesterday's visits are not today's: the scan says `wrong_day`."""
    site.clock.set(at(21, 3, 50))
    ticket = await check_in_as(site, 1)
    assert ticket["site_day"] == "2026-11-20"
    site.clock.set(at(22, 4, 10))
    refused = await site.post("observer", "/api/exit-scan", {"code": ticket["qr"]}, expect=409)
    assert refused["error"]["reason"] == "wrong_day"


async def test_the_marshal_sees_and_recalls_a_carried_over_person(site: Site) -> None:
    site.clock.set(at(22, 3, 40))
    await site.open("S01")
    waiting = await check_in_as(site, 1)
    skipped = await check_in_as(site, 2)
    called = await call(site, "S01")
    assert called is not None and called["ticket"] == waiting["ticket"]  # W001 first
    await site.post("station", "/api/stations/S01/skip")
    site.clock.set(at(22, 4, 20))
    board = await site.get("marshal", "/api/dashboard")
    assert waiting["visit_id"] in [p["visit_id"] for p in board["skipped"]]
    lane = next(x for x in board["lanes"] if x["prefix"] == "W")
    assert lane["waiting"] == 1 and lane["oldest_wait_minutes"] >= 40  # W002, since 03:40
    back = await site.post("station", "/api/stations/S01/recall", {"visit_id": waiting["visit_id"]})
    assert back["state"] == "recalled"
    await start(site, "S01", waiting["qr"])
    await dose(site, "S01", waiting["visit_id"])
    after = await call(site, "S01")
    assert after is not None and after["visit_id"] == skipped["visit_id"]


async def test_a_carried_over_dose_counts_once_on_its_day(site: Site) -> None:
    """Dosed at 04:10 after checking in at 03:55: the 21st's report and its registry summary
    both count it, the 22nd's neither, and the report's own checks still reconcile."""
    site.clock.set(at(22, 3, 55))
    await site.open("S01")
    ticket = await check_in_as(site, 1)
    site.clock.set(at(22, 4, 10))
    await check_in_as(site, 2)  # the 22nd's W001, still waiting
    called = await call(site, "S01")
    assert called is not None and called["visit_id"] == ticket["visit_id"]
    await start(site, "S01", called["qr"])
    await dose(site, "S01", called["visit_id"])
    site.clock.set(at(22, 4, 45))
    assert (await site.post("observer", "/api/exit-scan", {"code": ticket["qr"]}))["may_leave"]

    settings, store = site.settings, site.app[STORE]
    now = site.clock.now()
    for day, doses in ((date(2026, 11, 21), 1), (date(2026, 11, 22), 0)):
        _start, end_at = day_bounds(day, settings.site.timezone, settings.site.day_turns_at)

        def read(conn: Any, day: date = day, end_at: Any = end_at) -> tuple[Any, Any]:
            summary = daily_summary(conn, settings, day, now)
            rows = day_rows(
                conn, day, [store.site_id], timezone=settings.site.timezone, as_of=min(now, end_at)
            )
            return summary, rows

        summary, rows = await store.read(read)
        assert summary["doses"] == doses, (day, summary)
        report = build(rows)
        assert report.totals["doses"] == doses, day
        assert all(check.ok for check in reconcile(rows, report)), reconcile(rows, report)
