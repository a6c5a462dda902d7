"""The native board's data: clock offset, tile states, the feed followed from a real server."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from vaxflow.queue.client.board_feed import (
    CallsModel,
    ObservationModel,
    TileState,
    best_offset,
    clock_offset,
    follow,
    site_time,
)

from .conftest import Site, booking_codes

T0 = datetime(2026, 11, 21, 8, 0, tzinfo=UTC)


def _person(visit_id: int, minutes_left: float, *, flagged: bool = False) -> dict[str, Any]:
    ends = T0 + timedelta(minutes=minutes_left)
    return {
        "visit_id": visit_id,
        "ticket": f"A{visit_id:03d}",
        "name": "张*明",
        "state": "observing",
        "ends_at": ends.isoformat(),
        "adverse_open": flagged,
    }


@pytest.mark.parametrize(
    ("sent", "server", "received", "offset"),
    [(100.0, 100.5, 101.0, 0.0), (100.0, 520.5, 101.0, 420.0), (100.0, 0.0, 100.0, -100.0)],
)
def test_clock_offset_is_server_minus_midpoint(
    sent: float, server: float, received: float, offset: float
) -> None:
    assert clock_offset(sent, server, received) == offset


def test_best_offset_trusts_the_fastest_round_trip() -> None:
    assert best_offset([(0.0, 10.0, 4.0), (10.0, 20.2, 10.4), (20.0, 40.0, 30.0)]) == 10.0
    assert best_offset([]) is None


@pytest.mark.parametrize(
    ("minutes_left", "flagged", "state", "remaining"),
    [
        (30, False, TileState.OBSERVING, 1800),
        (5, False, TileState.LAST_MINUTES, 300),
        (5.01, False, TileState.OBSERVING, 301),
        (0, False, TileState.DONE, 0),
        (-3, False, TileState.DONE, 0),
        (12, True, TileState.FLAGGED, 720),
    ],
)
def test_tiles_count_down_on_server_time_whatever_the_display_clock(
    minutes_left: float, flagged: bool, state: TileState, remaining: int
) -> None:
    model = ObservationModel(last_minutes=5)
    model.load({"seq": 1, "people": [_person(1, minutes_left, flagged=flagged)]})
    display_wrong_by = 7 * 60.0  # the display's clock runs 7 minutes fast
    model.offset = -display_wrong_by
    (tile,) = model.tiles(T0.timestamp() + display_wrong_by)
    assert (tile.state, tile.remaining_seconds) == (state, remaining)


def test_events_update_the_board_once_and_in_order() -> None:
    model = ObservationModel()
    model.load({"seq": 10, "people": [_person(1, 20)]})
    assert not model.apply({"seq": 9, "visit_id": 2, "payload": _person(2, 30)})  # old
    assert model.apply({"seq": 11, "visit_id": 2, "payload": _person(2, 30)})
    assert model.apply({"seq": 12, "visit_id": 1, "payload": _person(1, 20, flagged=True)})
    assert model.apply(
        {"seq": 13, "visit_id": 2, "payload": {**_person(2, 30), "state": "released"}}
    )
    assert not model.apply({"seq": 14, "visit_id": None, "payload": {"station_id": "S01"}})
    assert [(t.ticket, t.state) for t in model.tiles(T0.timestamp())] == [
        ("A001", TileState.FLAGGED)
    ]
    assert model.seq == 14


async def _until(check: Callable[[], bool], seconds: float = 5.0) -> None:
    async with asyncio.timeout(seconds):
        while not check():  # noqa: ASYNC110 (polls a plain model, no event to wait on)
            await asyncio.sleep(0.02)


async def test_follow_keeps_the_model_current_from_a_real_server(site: Site) -> None:
    await site.open("S01")
    code = booking_codes(site.settings, site.clock, product="CORONAVAC", elderly=False)[0]
    model = ObservationModel()
    base = str(site.client.make_url("")).rstrip("/")
    task = asyncio.create_task(follow(base, "demo-board-token", model, lambda: None))
    try:
        await _until(lambda: model.online)
        ticket = await site.check_in(code)
        await site.post("station", "/api/stations/S01/call-next")
        await site.post("station", "/api/stations/S01/start-service", {"code": ticket["qr"]})
        vid = ticket["visit_id"]
        await site.post("station", "/api/stations/S01/record-dose", {"visit_id": vid})
        await _until(lambda: vid in model.people)
        await site.post(
            "observer", f"/api/observation/{vid}/flag", {"kind": "rash", "severity": "mild"}
        )
        await _until(lambda: model.people[vid]["adverse_open"])
        # the frozen server clock is far from this machine's: the offset makes up for it
        (tile,) = model.tiles(datetime.now(UTC).timestamp())
        assert tile.state is TileState.FLAGGED and tile.remaining_seconds == 30 * 60
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


def _called(seq: int, visit_id: int, station: str, zone: str, count: int = 1) -> dict[str, Any]:
    payload = {
        "visit_id": visit_id,
        "ticket": f"A{visit_id:03d}",
        "station_id": station,
        "station_name": f"Station {station[1:]}",
        "zone": zone,
        "call_count": count,
    }
    kind = "recalled" if count > 1 else "called"
    return {"seq": seq, "kind": kind, "visit_id": visit_id, "payload": payload}


def test_call_board_keeps_the_newest_calls_per_zone_and_marks_repeats() -> None:
    model = CallsModel(keep_per_zone=2)
    model.load(
        {
            "seq": 5,
            "zones": ["Hall A", "Hall B"],
            "calls": [_called(0, 2, "S02", "Hall A")["payload"]],  # newest first
        }
    )
    assert model.apply(_called(6, 3, "S03", "Hall A"))
    assert model.apply(_called(7, 4, "S05", "Hall B"))
    assert model.apply(_called(8, 5, "S04", "Hall A"))  # pushes the oldest of Hall A out
    assert model.apply(_called(9, 3, "S03", "Hall A", count=2))  # recalled: back on top
    zones = model.by_zone()
    assert [(c.ticket, c.repeated) for c in zones["Hall A"]] == [("A003", True), ("A005", False)]
    assert [c.ticket for c in zones["Hall B"]] == ["A004"]
    latest = model.latest()
    assert latest is not None and latest.ticket == "A003"
    assert model.apply({"seq": 10, "kind": "service_started", "visit_id": 3, "payload": {}})
    latest = model.latest()
    assert latest is not None and latest.ticket == "A005"  # A003 reached the station
    assert model.by_zone()["Hall A"][0].arrived
    assert not model.apply(_called(10, 9, "S09", "Hall C"))  # already seen
    assert model.apply(_called(11, 9, "S09", "Hall C"))  # a zone not in the snapshot
    assert model.zones == ["Hall A", "Hall B", "Hall C"]


def test_only_live_calls_are_announced() -> None:
    model = CallsModel()
    model.load({"seq": 0, "zones": ["Hall A"], "calls": []})
    model.apply(_called(1, 1, "S01", "Hall A"))  # a catch-up after a reconnect: not live
    model.online = True
    model.apply(_called(2, 2, "S02", "Hall A"))
    model.apply(_called(3, 2, "S02", "Hall A", count=2))
    assert [(c.ticket, c.call_count) for c in model.take_announcements()] == [
        ("A002", 1),
        ("A002", 2),
    ]
    assert model.take_announcements() == []
    for n in range(4, 20):  # a burst: only the newest few are still worth saying
        model.apply(_called(n, n, "S01", "Hall A"))
    assert [c.ticket for c in model.take_announcements()] == [f"A{n:03d}" for n in range(14, 20)]


async def test_follow_keeps_the_call_board_current_from_a_real_server(site: Site) -> None:
    await site.open("S01")
    codes = booking_codes(site.settings, site.clock, product="CORONAVAC", elderly=False)
    first = await site.check_in(codes[0])
    await site.post("station", "/api/stations/S01/call-next")  # before the board starts
    model = CallsModel()
    base = str(site.client.make_url("")).rstrip("/")
    task = asyncio.create_task(
        follow(base, "demo-board-token", model, lambda: None, snapshot="/api/boards/calls")
    )
    try:
        await _until(lambda: model.online)
        assert [c.ticket for c in model.calls] == [first["ticket"]]
        assert "Hall A" in model.zones and model.take_announcements() == []
        await site.post("station", "/api/stations/S01/recall")
        await _until(lambda: model.calls[0].call_count == 2)
        (announced,) = model.take_announcements()
        assert (announced.ticket, announced.station_id) == (first["ticket"], "S01")
        await site.post("station", "/api/stations/S01/start-service", {"code": first["qr"]})
        await _until(lambda: model.latest() is None)
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


def test_boards_tell_the_time_in_the_sites_zone_not_their_own() -> None:
    noon_utc = datetime(2026, 11, 21, 4, 5, tzinfo=UTC).timestamp()
    assert site_time(noon_utc, "Asia/Shanghai") == "12:05"
    assert site_time(noon_utc, "Europe/London") == "04:05"
    own = time.strftime("%H:%M", time.localtime(noon_utc))
    assert site_time(noon_utc, None) == own  # not known yet: the display's own zone
    assert site_time(noon_utc, "Not/AZone") == own


@pytest.mark.parametrize("token", ["wrong-token", "demo-kiosk-token"])
async def test_follow_stops_when_the_server_refuses_the_token(site: Site, token: str) -> None:
    """401 (unknown token) and 403 (a kiosk's token) end the feed at once, with the model
    marked refused for the board to say so; they are not retried as if the server were away."""
    model = CallsModel()
    base = str(site.client.make_url("")).rstrip("/")
    changes: list[bool] = []
    await asyncio.wait_for(
        follow(
            base, token, model, lambda: changes.append(model.refused), snapshot="/api/boards/calls"
        ),
        timeout=5,
    )
    assert model.refused and not model.online and changes[-1] is True


async def test_follow_retries_a_server_that_does_not_answer() -> None:
    """Nothing listens: the board keeps retrying (offline), never marked refused."""
    import socket

    with socket.socket() as sock:  # a port that was free a moment ago: connection refused
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    model = ObservationModel()
    changes: list[bool] = []
    task = asyncio.create_task(
        follow(
            f"http://127.0.0.1:{port}",
            "demo-board-token",
            model,
            lambda: changes.append(model.online),
        )
    )
    try:
        await _until(lambda: len(changes) >= 2)  # tried, waited, tried again
        assert not task.done() and not model.refused and not model.online
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


async def test_follow_refuses_a_snapshot_that_breaks_the_contract(
    aiohttp_server: Callable[..., Any], caplog: pytest.LogCaptureFixture
) -> None:
    """A server whose snapshot is not the route's declared model (a wrong field type, a
    missing one) is not drawn from: the board stays offline, says why in its log, retries."""
    from aiohttp import web

    async def now(_request: web.Request) -> web.Response:
        return web.json_response(
            {"now": T0.isoformat(), "epoch_ms": 1_763_712_000_000, "timezone": "Asia/Shanghai"}
        )

    async def broken(_request: web.Request) -> web.Response:
        return web.json_response({"seq": "not a number", "people": [{"visit_id": 1}]})

    app = web.Application()
    app.router.add_get("/api/time", now)
    app.router.add_get("/api/boards/observation", broken)
    server = await aiohttp_server(app)
    model = ObservationModel()
    changes: list[bool] = []
    task = asyncio.create_task(
        follow(str(server.make_url("")).rstrip("/"), "t", model, lambda: changes.append(True))
    )
    try:
        await _until(lambda: len(changes) >= 2)
        assert not task.done() and not model.online and not model.refused
        assert model.seq == 0 and model.people == {}
        assert any("ObservationBoardResponse" in r.getMessage() for r in caplog.records)
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
