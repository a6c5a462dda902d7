"""The site API through the real app factory, real HTTP and real WebSockets; time is frozen."""

from __future__ import annotations

import asyncio
import inspect
import json
import re
from collections import defaultdict
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from vaxflow.clock import FrozenClock
from vaxflow.config import Settings
from vaxflow.queue.server.app import create_app

from .conftest import AiohttpClient, Site, auth, booking_codes
from .people import walk_in_body

ID_NUMBER = re.compile(r"\d{17}[\dXx]")


async def test_health_and_time_need_no_token(site: Site) -> None:
    response = await site.client.get("/api/health")
    health = await response.json()
    assert (response.status, health["status"]) == (200, "ok")
    wal = health["wal"]  # SQLite: the log's figures (issue 18); PostgreSQL: none
    assert wal is None or 0 <= wal["bytes"] <= wal["ceiling"]
    now = await (await site.client.get("/api/time")).json()
    assert now["now"] == site.clock.now().isoformat()
    assert now["epoch_ms"] == int(site.clock.now().timestamp() * 1000)


async def test_check_in_with_a_booking_issues_a_ticket(site: Site) -> None:
    young = booking_codes(site.settings, site.clock, product="CORONAVAC", elderly=False)
    ticket = await site.check_in(young[0])
    assert ticket["ticket"] == "A001"
    assert ticket["state"] == "checked_in"
    assert ticket["lane_name"] == "Booked"
    assert ticket["site_name"] == site.settings.site.name
    assert ticket["estimated_wait_minutes"] >= 1
    assert ticket["qr"] == f"VXF1:demo-stadium:{ticket['site_day']}:A001"
    assert "*" in ticket["id_number"] and not ID_NUMBER.search(json.dumps(ticket))
    second = await site.check_in(young[1])
    assert second["ticket"] == "A002"


async def test_elderly_people_go_to_the_priority_lane(site: Site) -> None:
    old = booking_codes(site.settings, site.clock, product="CORONAVAC", elderly=True)
    assert (await site.check_in(old[0]))["ticket"] == "E001"


async def test_refusals_carry_a_reason_code_and_a_message(site: Site) -> None:
    code = booking_codes(site.settings, site.clock, product="BBIBP", elderly=False)[0]
    first = await site.check_in(code)
    again = await site.post("kiosk", "/api/checkins", site.check_in_body(code), expect=409)
    assert again["error"]["reason"] == "already_checked_in"
    assert again["error"]["details"]["ticket"] == first["ticket"]
    assert again["error"]["messages"]["zh-CN"] == f"您已签到，您的号码是 {first['ticket']}。"
    assert (
        again["error"]["messages"]["en"]
        == f"You are already checked in: your number is {first['ticket']}."
    )
    assert again["error"]["hints"]["en"]
    unknown = await site.post(
        "kiosk", "/api/checkins", site.check_in_body(code, booking_code="NOPE"), expect=404
    )
    assert unknown["error"]["reason"] == "unknown_booking"
    both = await site.post(
        "kiosk",
        "/api/checkins",
        site.check_in_body(code, walk_in={"name": "王芳", "id_number": "x"}),
        expect=422,
    )
    assert both["error"]["reason"] == "booking_or_walk_in"


async def test_booking_for_another_day_is_refused(site: Site) -> None:
    code = booking_codes(site.settings, site.clock, product="BBIBP", elderly=False)[0]
    body = site.check_in_body(code)
    site.clock.advance(minutes=24 * 60)
    refused = await site.post("kiosk", "/api/checkins", body, expect=409)
    assert refused["error"]["reason"] == "wrong_day"


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"{not json", "invalid_json"),
        (b'{"booking_code": ""}', "invalid_body"),
        (b'{"booking_code": "DEMO0001", "surprise": 1}', "invalid_body"),
        (b'{"walk_in": {"name": "A"}}', "invalid_body"),
        (b"[1, 2]", "invalid_body"),
    ],
)
async def test_bad_bodies_get_json_errors(site: Site, body: bytes, reason: str) -> None:
    response = await site.client.post("/api/checkins", data=body, headers=auth("kiosk"))
    assert response.status == 422
    assert (await response.json())["error"]["reason"] == reason


async def test_oversized_body_is_refused(site: Site) -> None:
    body = b'{"booking_code": "' + b"x" * 70_000 + b'"}'
    response = await site.client.post("/api/checkins", data=body, headers=auth("kiosk"))
    assert response.status == 413
    assert (await response.json())["error"]["reason"] == "body_too_large"


async def test_unknown_route_is_a_json_404(site: Site) -> None:
    response = await site.client.get("/api/nothing-here")
    assert response.status == 404
    assert (await response.json())["error"]["reason"] == "not_found"


async def test_walk_ins_until_capacity(
    aiohttp_client: AiohttpClient, settings: Settings, clock: FrozenClock, tmp_path: Path
) -> None:
    small = settings.model_copy(
        update={"walk_in": settings.walk_in.model_copy(update={"daily_capacity": 2})}
    )
    client = await aiohttp_client(create_app(small, db=str(tmp_path / "w.sqlite"), clock=clock))
    tickets = []
    for n in range(3):
        person = walk_in_body(settings, n)
        response = await client.post("/api/checkins", json=person, headers=auth("kiosk"))
        tickets.append((response.status, await response.json()))
    assert [t[1]["ticket"] for t in tickets[:2]] == ["W001", "W002"]
    assert tickets[2][0] == 409
    assert tickets[2][1]["error"]["reason"] == "walk_in_full"


async def test_a_replayed_request_returns_the_first_answer(site: Site) -> None:
    person = walk_in_body(site.settings, 1)
    first = await site.post("kiosk", "/api/checkins", person, key="req-1")
    replay = await site.post("kiosk", "/api/checkins", person, key="req-1")
    assert replay["ticket"] == first["ticket"] == "W001"
    assert replay["visit_id"] == first["visit_id"]
    stats = await site.get("marshal", "/api/stats")
    assert stats["tickets_issued"] == 1
    other = walk_in_body(site.settings, 2)
    clash = await site.post("kiosk", "/api/checkins", other, key="req-1", expect=422)
    assert clash["error"]["reason"] == "idempotency_key_reused"
    # a refusal is remembered too: the replay does not slip through later
    unknown = {"booking_code": "NOPE", "id_card": site.card("DEMO0001")}
    await site.post("kiosk", "/api/checkins", unknown, key="r2", expect=404)
    await site.post("kiosk", "/api/checkins", unknown, key="r2", expect=404)


async def test_concurrent_kiosks_get_distinct_consecutive_numbers(site: Site) -> None:
    codes = [f"DEMO{i:04d}" for i in range(1, 121)]
    tickets = await asyncio.gather(
        *(site.check_in(code, device=f"kiosk-{i % 30}") for i, code in enumerate(codes))
    )
    by_lane: dict[str, list[int]] = defaultdict(list)
    for ticket in tickets:
        by_lane[ticket["lane"]].append(int(ticket["ticket"][1:]))
    assert len({t["ticket"] for t in tickets}) == len(codes)
    for numbers in by_lane.values():
        assert sorted(numbers) == list(range(1, len(numbers) + 1))
    stats = await site.get("marshal", "/api/stats")
    assert stats["tickets_issued"] == stats["waiting"] == len(codes)
    assert sum(stats["waiting_by_lane"].values()) == len(codes)


async def _dose(site: Site, station: str, code: str) -> dict[str, Any]:
    """Check in, call, scan and vaccinate one person at `station`."""
    ticket = await site.check_in(code)
    called = (await site.post("station", f"/api/stations/{station}/call-next"))["called"]
    assert called["ticket"] == ticket["ticket"]
    served = await site.post(
        "station", f"/api/stations/{station}/start-service", {"code": ticket["qr"]}
    )
    assert served["state"] == "in_service"
    return await site.post(  # type: ignore[no-any-return]
        "station", f"/api/stations/{station}/record-dose", {"visit_id": ticket["visit_id"]}
    )


async def test_the_walk_from_check_in_to_exit(site: Site) -> None:
    await site.open("S01")
    code = booking_codes(site.settings, site.clock, product="CORONAVAC", elderly=False)[0]
    dosed = await _dose(site, "S01", code)
    assert dosed["state"] == "observing"
    assert dosed["ends_at"] == site.clock.advance(0).replace(minute=30).isoformat()
    site.clock.advance(minutes=29)
    early = await site.post("observer", "/api/exit-scan", {"code": dosed["qr"]})
    assert early["may_leave"] is False and early["remaining_seconds"] == 60
    board = await site.get("board", "/api/observation")
    assert [p["ticket"] for p in board["people"]] == [dosed["ticket"]]
    assert board["people"][0]["remaining_seconds"] == 60
    site.clock.advance(minutes=1)
    done = await site.post("observer", "/api/exit-scan", {"code": dosed["ticket"]})
    assert done["may_leave"] is True and done["visit"]["state"] == "released"
    twice = await site.post("observer", "/api/exit-scan", {"code": dosed["ticket"]})
    assert twice["may_leave"] is True
    stats = await site.get("marshal", "/api/stats")
    assert (stats["released"], stats["observing"], stats["waiting"]) == (1, 0, 0)


async def test_one_dose_per_visit_even_when_retried(site: Site) -> None:
    await site.open("S01")
    code = booking_codes(site.settings, site.clock, product="CORONAVAC", elderly=False)[0]
    dosed = await _dose(site, "S01", code)
    again = await site.post(
        "station", "/api/stations/S01/record-dose", {"visit_id": dosed["visit_id"]}, expect=409
    )
    assert again["error"]["reason"] == "not_in_service"


async def test_call_next_serves_priority_and_product(site: Site) -> None:
    await site.open("S05", "BBIBP")
    young = booking_codes(site.settings, site.clock, product="BBIBP", elderly=False)
    old = booking_codes(site.settings, site.clock, product="BBIBP", elderly=True)
    other = booking_codes(site.settings, site.clock, product="CORONAVAC", elderly=False)
    await site.check_in(other[0])  # waits for another product: never called here
    a = await site.check_in(young[0])
    site.clock.advance(minutes=2)
    e = await site.check_in(old[0])
    site.clock.advance(minutes=1)
    # A has waited 3 min (score 4), E 1 min x weight 3 (score 6): E first
    first = (await site.post("station", "/api/stations/S05/call-next"))["called"]
    assert first["ticket"] == e["ticket"]
    busy = await site.post("station", "/api/stations/S05/call-next", expect=409)
    assert busy["error"]["reason"] == "station_busy"
    await site.post("station", "/api/stations/S05/skip")
    second = (await site.post("station", "/api/stations/S05/call-next"))["called"]
    assert second["ticket"] == a["ticket"]
    await site.post("station", "/api/stations/S05/skip")
    nobody = await site.post("station", "/api/stations/S05/call-next")
    assert nobody == {"called": None}


async def test_skip_recall_and_no_show(site: Site) -> None:
    await site.open("S01")
    code = booking_codes(site.settings, site.clock, product="CORONAVAC", elderly=False)[0]
    ticket = await site.check_in(code)
    await site.post("station", "/api/stations/S01/call-next")
    repeated = await site.post("station", "/api/stations/S01/recall")
    assert repeated["call_count"] == 2
    skipped = await site.post("station", "/api/stations/S01/skip")
    assert skipped["state"] == "skipped"
    recalled = await site.post(
        "station", "/api/stations/S01/recall", {"visit_id": ticket["visit_id"]}
    )
    assert (recalled["state"], recalled["call_count"]) == ("recalled", 3)
    gone = await site.post("station", "/api/stations/S01/skip")
    assert gone["state"] == "no_show"
    stations = await site.get("marshal", "/api/stations")
    assert next(s for s in stations if s["station_id"] == "S01")["visit_id"] is None


async def test_adverse_reaction_holds_the_exit(site: Site) -> None:
    await site.open("S01")
    code = booking_codes(site.settings, site.clock, product="CORONAVAC", elderly=False)[0]
    dosed = await _dose(site, "S01", code)
    vid = dosed["visit_id"]
    await site.post(
        "observer", f"/api/observation/{vid}/flag", {"kind": "dizziness", "severity": "mild"}
    )
    site.clock.advance(minutes=45)
    held = await site.post("observer", "/api/exit-scan", {"code": dosed["ticket"]})
    assert (held["may_leave"], held["reason"]) == (False, "adverse_open")
    refused = await site.post("observer", f"/api/observation/{vid}/release", expect=409)
    assert refused["error"]["reason"] == "adverse_open"
    await site.post("observer", f"/api/observation/{vid}/resolve", {"outcome": "resolved"})
    released = await site.post("observer", f"/api/observation/{vid}/release")
    assert released["state"] == "released"


async def test_defer_at_the_station_frees_it(site: Site) -> None:
    await site.open("S01")
    code = booking_codes(site.settings, site.clock, product="CORONAVAC", elderly=False)[0]
    ticket = await site.check_in(code)
    await site.post("station", "/api/stations/S01/call-next")
    deferred = await site.post(
        "station", "/api/stations/S01/defer", {"visit_id": ticket["visit_id"], "reason": "fever"}
    )
    assert (deferred["state"], deferred["reason"]) == ("deferred", "fever")
    closed = await site.post("station", "/api/stations/S01/close")
    assert closed["state"] == "closed"


async def test_print_failure_is_a_flag_not_a_lost_ticket(site: Site) -> None:
    code = booking_codes(site.settings, site.clock, product="CORONAVAC", elderly=False)[0]
    ticket = await site.check_in(code)
    failed = await site.post(
        "kiosk",
        f"/api/visits/{ticket['visit_id']}/print-status",
        {"ok": False, "reason": "paper_out"},
    )
    assert (failed["print_failed"], failed["state"]) == (True, "checked_in")
    found = await site.get("kiosk", f"/api/tickets/{ticket['ticket']}")
    assert found["visit_id"] == ticket["visit_id"] and found["print_failed"] is True


async def test_station_sees_the_full_id_number_and_nobody_else(site: Site) -> None:
    code = booking_codes(site.settings, site.clock, product="CORONAVAC", elderly=False)[0]
    ticket = await site.check_in(code)
    waiting = await site.get("station", f"/api/tickets/{ticket['ticket']}")
    assert not ID_NUMBER.search(json.dumps(waiting))  # no station serves the person yet
    await site.open("S01")
    await site.post("station", "/api/stations/S01/call-next")
    for_station = await site.get("station", f"/api/tickets/{ticket['ticket']}")
    for_kiosk = await site.get("kiosk", f"/api/tickets/{ticket['ticket']}")
    assert ID_NUMBER.fullmatch(for_station["id_number"])
    assert not ID_NUMBER.search(json.dumps(for_kiosk))


async def test_device_health_reaches_the_marshal(site: Site) -> None:
    report = {
        "device_id": "kiosk-01/printer",
        "kind": "printer",
        "url": "tcp://printer:9100",
        "state": "fault",
        "reason": "paper_out",
        "detail": "Paper out",
    }
    await site.post("kiosk", "/api/devices/health", report)
    devices = await site.get("marshal", "/api/devices")
    assert [(d["device_id"], d["state"], d["reason"]) for d in devices] == [
        ("kiosk-01/printer", "fault", "paper_out")
    ]


async def _read_until_live(ws: aiohttp.ClientWebSocketResponse) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    while True:
        message = await asyncio.wait_for(ws.receive_json(), 5)
        if message["kind"] == "live":
            return events
        events.append(message)


async def test_event_feed_replays_then_streams_and_resumes(site: Site) -> None:
    codes = booking_codes(site.settings, site.clock, product="CORONAVAC", elderly=False)
    await site.check_in(codes[0])
    async with site.client.ws_connect("/ws/events?since=0", headers=auth("board")) as ws:
        backlog = await _read_until_live(ws)
        kinds = [e["kind"] for e in backlog]
        assert kinds == ["checked_in"]  # the public board: no import or staff events
        seqs = [e["seq"] for e in backlog]
        assert seqs == sorted(seqs)
        second = await site.check_in(codes[1])
        live = await asyncio.wait_for(ws.receive_json(), 5)
        assert (live["kind"], live["payload"]["ticket"]) == ("checked_in", second["ticket"])
        assert not ID_NUMBER.search(json.dumps(live))
        last_seen = live["seq"]
    await site.check_in(codes[2])
    async with site.client.ws_connect(f"/ws/events?since={last_seen}", headers=auth("board")) as ws:
        resumed = await _read_until_live(ws)
        assert [e["payload"]["ticket"] for e in resumed] == ["A003"]


async def test_event_feed_accepts_a_token_subprotocol_and_checks_origin(site: Site) -> None:
    async with site.client.ws_connect(
        "/ws/events", protocols=("vaxflow", "bearer.demo-marshal-token")
    ) as ws:
        assert (await _read_until_live(ws))[0]["kind"] == "bookings_imported"
    with pytest.raises(aiohttp.WSServerHandshakeError) as err:
        await site.client.ws_connect(
            "/ws/events", headers={**auth("board"), "Origin": "https://evil.example"}
        )
    assert err.value.status == 403
    with pytest.raises(aiohttp.WSServerHandshakeError) as err:
        await site.client.ws_connect("/ws/events")
    assert err.value.status == 401


async def test_openapi_describes_every_route(site: Site) -> None:
    from vaxflow.queue.server.routes import ROUTES

    doc = await (await site.client.get("/api/openapi.json")).json()
    assert doc["openapi"].startswith("3.")
    for route in ROUTES:
        op = doc["paths"][route.path][route.method.lower()]
        assert op["x-roles"] == sorted(route.roles or [])
        if route.body is not None:
            assert "requestBody" in op
        if route.response is not None:  # the answer's model, as SiteClient parses it
            schema = op["responses"]["200"]["content"]["application/json"]["schema"]
            schema = schema["items"] if route.response_is_list else schema
            assert schema["$ref"].endswith("/" + route.response.__name__), route.path
            assert route.response.__name__ in doc["components"]["schemas"]
        # Every query parameter the handler reads is described.
        read = set(re.findall(r"request\.query\.get\(\"(\w+)\"", inspect.getsource(route.handler)))
        described = {p["name"] for p in op.get("parameters", []) if p["in"] == "query"}
        assert read <= described, (route.path, read - described)
    assert "CheckInRequest" in doc["components"]["schemas"]


async def test_event_feed_in_batches_one_array_per_commit(site: Site) -> None:
    codes = booking_codes(site.settings, site.clock, product="CORONAVAC", elderly=False)
    await site.check_in(codes[0])
    async with site.client.ws_connect("/ws/events?since=0&batch=1", headers=auth("marshal")) as ws:
        backlog = await asyncio.wait_for(ws.receive_json(), 5)
        assert [e["kind"] for e in backlog] == ["bookings_imported", "checked_in"]
        assert (await asyncio.wait_for(ws.receive_json(), 5))["kind"] == "live"
        await asyncio.gather(site.check_in(codes[1]), site.check_in(codes[2]))
        seen: list[dict[str, Any]] = []
        while len(seen) < 2:
            frame = await asyncio.wait_for(ws.receive_json(), 5)
            assert isinstance(frame, list) and frame
            seen += frame
        assert sorted(e["payload"]["ticket"] for e in seen) == ["A002", "A003"]
        assert [e["seq"] for e in seen] == sorted(e["seq"] for e in seen)


async def test_a_reaction_flagged_by_mistake_is_undone_by_its_device_within_a_minute(
    site: Site,
) -> None:
    await site.open("S01")
    codes = booking_codes(site.settings, site.clock, product="CORONAVAC", elderly=False)
    first, second = [(await _dose(site, "S01", code))["visit_id"] for code in codes[:2]]
    rash = {"kind": "rash", "severity": "mild"}
    for vid in (first, second):
        await site.post("observer", f"/api/observation/{vid}/flag", rash, device="tab-1")
    site.clock.advance(seconds=59)
    other = await site.post(
        "observer", f"/api/observation/{first}/withdraw", expect=409, device="tab-2"
    )
    assert other["error"]["reason"] == "withdraw_other_device"
    undone = await site.post("observer", f"/api/observation/{first}/withdraw", device="tab-1")
    assert undone["adverse_open"] is False and undone["state"] == "observing"
    gone = await site.post(
        "observer", f"/api/observation/{first}/withdraw", expect=409, device="tab-1"
    )
    assert gone["error"]["reason"] == "not_flagged"
    site.clock.advance(seconds=2)  # 61 s after the second flag
    late = await site.post(
        "observer", f"/api/observation/{second}/withdraw", expect=409, device="tab-1"
    )
    assert late["error"]["reason"] == "withdraw_too_late"
    not_staff = await site.post(
        "observer", f"/api/observation/{second}/resolve", {"outcome": "withdrawn"}, expect=422
    )
    assert not_staff["error"]["reason"] == "invalid_body"
    people = (await site.get("observer", "/api/observation"))["people"]
    assert [p["adverse"] is None for p in people if p["visit_id"] in (first, second)] == [
        True,
        False,
    ]
