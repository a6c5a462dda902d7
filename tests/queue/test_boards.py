"""Boards, exit certificates and the marshal's dashboard through the real app; time is frozen."""

from __future__ import annotations

import asyncio
import shutil
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from vaxflow.clock import FrozenClock
from vaxflow.config import Settings
from vaxflow.config.schema import Product
from vaxflow.hardware.announcer import Announcer
from vaxflow.hardware.certificate_print import print_outcome
from vaxflow.queue.core import engine
from vaxflow.queue.core.report import build
from vaxflow.queue.ops import boards
from vaxflow.queue.server.app import create_app
from vaxflow.queue.server.appkeys import STORE
from vaxflow.queue.server.board_handlers import PRINT_TASKS
from vaxflow.queue.store.records import day_rows

from .conftest import AiohttpClient, Site, auth, booking_codes
from .people import walk_in_body


def _product(doses: int, low: int, high: int | None) -> Product:
    return Product(
        code="P",
        name="P",
        manufacturer="M",
        doses_in_series=doses,
        min_interval_days=low,
        max_interval_days=high,
    )


@pytest.mark.parametrize(
    ("doses", "low", "high", "dose_number", "given", "window"),
    [
        (2, 21, 56, 1, date(2026, 11, 21), (date(2026, 12, 12), date(2027, 1, 16))),
        (2, 21, 56, 2, date(2026, 11, 21), None),  # series complete
        (3, 28, None, 2, date(2026, 2, 1), (date(2026, 3, 1), None)),  # no upper limit
        (2, 0, 0, 1, date(2024, 2, 29), (date(2024, 2, 29), date(2024, 2, 29))),
        (1, 0, None, 1, date(2026, 11, 21), None),  # single-dose product
        (2, 21, 56, 5, date(2026, 11, 21), None),  # booster past the series
    ],
)
def test_next_dose_window(
    doses: int,
    low: int,
    high: int | None,
    dose_number: int,
    given: date,
    window: tuple[date, date | None] | None,
) -> None:
    got = boards.next_dose_window(_product(doses, low, high), dose_number, given)
    assert (None if got is None else (got.earliest, got.latest)) == window


@pytest.mark.parametrize(
    ("observing", "seats", "reason"),
    [
        (0, 100, None),
        (89, 100, None),
        (90, 100, "observation_nearly_full"),
        (100, 100, "observation_full"),
        (120, 100, "observation_full"),
        (1, 1, "observation_full"),
    ],
)
def test_seat_warning_levels(observing: int, seats: int, reason: str | None) -> None:
    warning = boards.seat_warning(observing, seats)
    assert (warning and warning["reason"]) == reason
    if warning:
        assert str(observing) in warning["messages"]["zh-CN"]


def test_announcement_says_ticket_and_station_in_both_languages() -> None:
    zh, en = boards.announcement_texts("A023", "Station 5")
    assert (zh, en) == ("请 A 0 2 3 号到 5号接种台", "A 0 2 3, please go to Station 5")


async def _dose(site: Site, station: str, code: str) -> dict[str, Any]:
    ticket = await site.check_in(code)
    await site.post("station", f"/api/stations/{station}/call-next")
    await site.post("station", f"/api/stations/{station}/start-service", {"code": ticket["qr"]})
    return await site.post(  # type: ignore[no-any-return]
        "station", f"/api/stations/{station}/record-dose", {"visit_id": ticket["visit_id"]}
    )


def _codes(site: Site) -> list[str]:
    return booking_codes(site.settings, site.clock, product="CORONAVAC", elderly=False)


async def test_nobody_leaves_before_ends_at_nor_flagged_before_resolved(site: Site) -> None:
    await site.open("S01")
    dosed = await _dose(site, "S01", _codes(site)[0])
    vid, path = dosed["visit_id"], f"/api/observation/{dosed['visit_id']}"
    site.clock.advance(minutes=30, seconds=-1)
    early = await site.post("observer", f"{path}/release", expect=409)
    assert early["error"]["reason"] == "observation_not_finished"
    scan = await site.post("observer", "/api/exit/scan", {"code": dosed["ticket"]})
    assert (scan["may_leave"], scan["remaining_seconds"], scan.get("certificate")) == (
        False,
        1,
        None,
    )
    await site.post("observer", f"{path}/flag", {"kind": "rash", "severity": "mild"})
    site.clock.advance(minutes=20)
    held = await site.post("observer", f"{path}/release", expect=409)
    assert held["error"]["reason"] == "adverse_open"
    scan = await site.post("observer", "/api/exit/scan", {"code": dosed["ticket"]})
    assert (scan["may_leave"], scan["reason"]) == (False, "adverse_open")
    board = await site.get("board", "/api/boards/observation")
    assert [(p["visit_id"], p["adverse_open"]) for p in board["people"]] == [(vid, True)]
    await site.post("observer", f"{path}/resolve", {"outcome": "resolved"})
    released = await site.post("observer", f"{path}/release")
    assert released["state"] == "released"


async def test_exit_scan_gives_the_certificate_with_the_next_dose_window(site: Site) -> None:
    await site.open("S01")
    dosed = await _dose(site, "S01", _codes(site)[0])
    site.clock.advance(minutes=30)
    scan = await site.post("observer", "/api/exit/scan", {"code": dosed["qr"]})
    assert scan["may_leave"] is True and "print" not in scan  # no exit printer configured
    cert = scan["certificate"]
    assert cert["lot"] == "LOT-2611" and cert["manufacturer"] == "Sinovac"
    assert "*" in cert["id_number"] and "*" in cert["name"]
    assert (cert["dose_number"], cert["doses_in_series"]) == (1, 2)
    day = date.fromisoformat(cert["date"])
    assert cert["next_dose"] == {
        "earliest": date.fromordinal(day.toordinal() + 21).isoformat(),
        "latest": date.fromordinal(day.toordinal() + 56).isoformat(),
    }


@pytest.mark.parametrize("fault", ["", "paper_out"])
async def test_certificate_prints_after_commit_and_a_failure_keeps_the_release(
    aiohttp_client: AiohttpClient,
    settings: Settings,
    clock: FrozenClock,
    tmp_path: Path,
    fault: str,
) -> None:
    url = f"sim://?dir={tmp_path / 'slips'}" + (f"&fault={fault}" if fault else "")
    observation = settings.observation.model_copy(update={"exit_printer": url})
    printing = settings.model_copy(update={"observation": observation})
    app = create_app(
        printing, db=str(tmp_path / "p.sqlite"), clock=clock, certificate_printer=print_outcome
    )
    site = Site(await aiohttp_client(app), clock, printing)
    walk_in = await site.post("kiosk", "/api/checkins", walk_in_body(settings, 0))
    await site.open("S01")
    await site.post("station", "/api/stations/S01/call-next")
    await site.post("station", "/api/stations/S01/start-service", {"code": walk_in["ticket"]})
    await site.post("station", "/api/stations/S01/record-dose", {"visit_id": walk_in["visit_id"]})
    clock.advance(minutes=30)
    scan = await site.post("observer", "/api/exit/scan", {"code": walk_in["ticket"]})
    assert (scan["may_leave"], scan["print"]) == (True, "queued")
    await asyncio.gather(*app[PRINT_TASKS])
    slips = sorted((tmp_path / "slips").glob("*")) if (tmp_path / "slips").exists() else []
    assert bool(slips) is (fault == "")
    again = await site.get("observer", f"/api/tickets/{walk_in['ticket']}")
    assert again["state"] == "released"


async def test_dashboard_numbers_match_stats(site: Site) -> None:
    await site.open("S01")
    codes = _codes(site)
    await _dose(site, "S01", codes[0])
    for code in codes[1:4]:
        await site.check_in(code)
    site.clock.advance(minutes=3)
    await site.post("station", "/api/stations/S01/call-next")
    await site.post("station", "/api/stations/S01/skip")
    dash = await site.get("marshal", "/api/dashboard")
    stats = await site.get("marshal", "/api/stats")
    assert dash["stats"] == stats
    assert dash["observation"]["observing"] == stats["observing"] == 1
    lane_a = next(lane for lane in dash["lanes"] if lane["prefix"] == "A")
    assert lane_a["waiting"] == stats["waiting_by_lane"]["A"] == 2
    assert lane_a["called_last_hour"] == 2 and lane_a["wait_p90_minutes"] == 2.7  # 0, 3
    s01 = next(s for s in dash["stations"] if s["station_id"] == "S01")
    assert (s01["doses_today"], s01["doses_last_hour"]) == (1, 1)
    assert [s["ticket"] for s in dash["skipped"]] == [
        (await site.get("station", f"/api/tickets/{dash['skipped'][0]['ticket']}"))["ticket"]
    ]
    assert sum(dash["doses_by_hour"]) == 1


async def test_the_dashboard_and_the_report_give_the_same_waits(site: Site) -> None:
    """One percentile for both: the marshal's live p50/p90 and the day report's, same data."""
    await site.open("S01")
    for code, wait in zip(_codes(site), (2, 4, 6, 8), strict=False):
        ticket = await site.check_in(code)
        site.clock.advance(minutes=wait)
        await site.post("station", "/api/stations/S01/call-next")
        await site.post("station", "/api/stations/S01/start-service", {"code": ticket["qr"]})
        await site.post(
            "station", "/api/stations/S01/record-dose", {"visit_id": ticket["visit_id"]}
        )
    dash = await site.get("marshal", "/api/dashboard")
    lane = next(lane for lane in dash["lanes"] if lane["called_last_hour"])
    store, tz = site.app[STORE], site.settings.site.timezone
    rows = await store.read(
        lambda conn: day_rows(
            conn,
            engine.site_day(site.clock.now(), tz),
            [store.site_id],
            timezone=tz,
            as_of=site.clock.now(),
        )
    )
    report = build(rows)
    (hour,) = [h for h in report.hours if h.waits]
    (whole_day,) = report.per_site
    live = (lane["wait_p50_minutes"], lane["wait_p90_minutes"])
    assert live == (hour.wait_p50_minutes, hour.wait_p90_minutes)
    assert live == (whole_day.wait_p50_minutes, whole_day.wait_p90_minutes)
    assert live == (5.0, 7.4)  # 2, 4, 6, 8 minutes, interpolated between ranks


async def test_call_next_warns_when_observation_seats_fill(
    aiohttp_client: AiohttpClient, settings: Settings, clock: FrozenClock, tmp_path: Path
) -> None:
    observation = settings.observation.model_copy(update={"seats": 2})
    small = settings.model_copy(update={"observation": observation})
    app = create_app(small, db=str(tmp_path / "s.sqlite"), clock=clock)
    site = Site(await aiohttp_client(app), clock, small)
    await site.open("S01")
    for n in range(3):
        await site.post("kiosk", "/api/checkins", walk_in_body(settings, n))
    warnings = []
    for _ in range(3):
        called = await site.post("station", "/api/stations/S01/call-next")
        warnings.append(called.get("warning", {}).get("reason"))
        visit = called["called"]
        await site.post("station", "/api/stations/S01/start-service", {"code": visit["ticket"]})
        await site.post("station", "/api/stations/S01/record-dose", {"visit_id": visit["visit_id"]})
    assert warnings == [None, None, "observation_full"]  # nearly full: see the table test


async def test_marshal_sets_walk_in_capacity_for_the_day(site: Site) -> None:
    await site.post("marshal", "/api/walk-in-capacity", {"capacity": 1})
    await site.post("kiosk", "/api/checkins", walk_in_body(site.settings, 0))
    full = await site.post("kiosk", "/api/checkins", walk_in_body(site.settings, 1), expect=409)
    assert full["error"]["reason"] == "walk_in_full"
    dash = await site.get("marshal", "/api/dashboard")
    assert dash["walk_in"] == {"capacity": 1, "issued": 1}
    site.clock.advance(minutes=24 * 60)  # the next site day goes back to the site file
    dash = await site.get("marshal", "/api/dashboard")
    assert dash["walk_in"]["capacity"] == site.settings.walk_in.daily_capacity


async def test_board_snapshots_carry_the_event_number_to_resume_from(site: Site) -> None:
    await site.open("S01")
    dosed = await _dose(site, "S01", _codes(site)[0])
    ticket = await site.check_in(_codes(site)[1])
    await site.post("station", "/api/stations/S01/call-next")
    obs = await site.get("board", "/api/boards/observation")
    calls = await site.get("board", "/api/boards/calls")
    assert obs["seq"] == calls["seq"] > 0
    assert [p["ticket"] for p in obs["people"]] == [dosed["ticket"]]
    assert obs["people"][0]["ends_at"] == dosed["ends_at"]
    assert [(c["ticket"], c["zone"]) for c in calls["calls"]] == [(ticket["ticket"], "Hall A")]
    assert "id_number" not in calls["calls"][0]
    async with site.client.ws_connect(
        f"/ws/events?since={obs['seq']}", headers=auth("board")
    ) as ws:
        assert (await ws.receive_json())["kind"] == "live"


async def test_announcement_is_a_wav_or_a_reasoned_404(
    aiohttp_client: AiohttpClient, settings: Settings, clock: FrozenClock, tmp_path: Path
) -> None:
    """The server given espeak-ng's announcer, as `vaxflow server` and `vaxflow demo` give it."""
    announcer = Announcer(tmp_path / "announcements")
    app = create_app(settings, db=str(tmp_path / "s.sqlite"), clock=clock, announce=announcer.wav)
    site = Site(await aiohttp_client(app), clock, settings)
    response = await site.client.get("/api/announcements/S05/A023.wav", headers=auth("board"))
    body = await response.read()
    if shutil.which("espeak-ng"):
        assert response.status == 200 and body[:4] == b"RIFF"
        assert response.content_type == "audio/wav"
    else:
        assert response.status == 404
    bad = await site.client.get("/api/announcements/S99/A023.wav", headers=auth("board"))
    assert (await bad.json())["error"]["reason"] == "unknown_station"


async def test_a_server_given_no_announcer_says_it_cannot_speak(site: Site) -> None:
    response = await site.client.get("/api/announcements/S05/A023.wav", headers=auth("board"))
    assert response.status == 404
    assert (await response.json())["error"]["reason"] == "speech_unavailable"


async def test_pages_and_scripts_are_served_without_a_token(site: Site) -> None:
    for path in ["/board/observation", "/board/calls", "/station/S01", "/observer", "/exit"]:
        response = await site.client.get(path)
        text = await response.text()
        assert response.status == 200 and "/web/" in text, path
        assert "http://" not in text and "https://" not in text  # nothing from a CDN
    script = await site.client.get("/web/common.js")
    assert script.status == 200 and "bearer." in await script.text()
    marshal = await site.client.get("/marshal")
    assert marshal.status == 200
    await marshal.read()


async def test_board_snapshot_equals_the_observation_list(site: Site) -> None:
    await site.open("S01")
    for code in _codes(site)[:3]:
        await _dose(site, "S01", code)
        site.clock.advance(minutes=10)
    first = (await site.get("board", "/api/observation"))["people"]
    await site.post(
        "observer",
        f"/api/observation/{first[1]['visit_id']}/flag",
        {"kind": "rash", "severity": "mild"},
    )
    assert (await site.get("board", "/api/boards/observation"))["people"] == (
        await site.get("board", "/api/observation")
    )["people"]


async def test_consoles_read_the_screening_questions_in_every_language(site: Site) -> None:
    questions = await site.get("station", "/api/questions")
    assert [q["id"] for q in questions] == [q.id for q in site.settings.questions]
    assert set(questions[0]["text"]) == set(site.settings.site.languages)


async def test_a_walk_in_sent_to_the_review_lane_still_takes_a_walk_in_place(site: Site) -> None:
    """A walk-in of review age goes to the review/priority lane as a booked person would, and
    the day's walk-in places count them all, whatever lane they went to."""
    await site.post("marshal", "/api/walk-in-capacity", {"capacity": 2})
    elderly = await site.post(
        "kiosk", "/api/checkins", walk_in_body(site.settings, 0, date(1950, 5, 1))
    )
    assert elderly["ticket"] == "E001"
    assert (await site.post("kiosk", "/api/checkins", walk_in_body(site.settings, 1)))[
        "ticket"
    ] == "W001"
    full = await site.post("kiosk", "/api/checkins", walk_in_body(site.settings, 2), expect=409)
    assert full["error"]["reason"] == "walk_in_full"
    dash = await site.get("marshal", "/api/dashboard")
    assert dash["walk_in"] == {"capacity": 2, "issued": 2}
    stats = await site.get("marshal", "/api/stats")
    assert stats["tickets_issued"] == 2  # tickets, not places: that counter is not a lane
