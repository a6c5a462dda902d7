"""Staff sign-in against the real app: PINs, badges, lockout, idle sign-out, the audit trail."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from sqlalchemy import select

from vaxflow.clock import FrozenClock
from vaxflow.config import Settings
from vaxflow.queue.demo.demo_data import seed_bookings
from vaxflow.queue.server import staff_handlers
from vaxflow.queue.server.app import create_app
from vaxflow.queue.server.appkeys import STORE
from vaxflow.queue.store import tables as t
from vaxflow.queue.store.writer import Event, events_after

from .conftest import AiohttpClient, Site, auth, booking_codes

SIGN_IN = "/api/staff/sign-in"


async def _sign_in(site: Site, role: str, expect: int = 200, **body: Any) -> Any:
    response = await site.client.post(SIGN_IN, json=body, headers=auth(role))
    data = await response.json()
    assert response.status == expect, data
    return data


def _as(role: str, session: str) -> dict[str, str]:
    return {**auth(role), "X-Staff-Session": session}


async def _events(site: Site) -> list[Event]:
    store = site.app[STORE]
    return await store.read(lambda conn: events_after(conn, store.site_id, 0, 100_000))


async def _dose_one(site: Site, headers: dict[str, str]) -> dict[str, Any]:
    codes = booking_codes(site.settings, site.clock, product="CORONAVAC", elderly=False)
    await site.check_in(codes[0])
    client = site.client
    body = {"product": "CORONAVAC", "lot": "LOT-1"}  # no typed name: the session signs
    assert (await client.post("/api/stations/S01/open", json=body, headers=headers)).status == 200
    called = await (await client.post("/api/stations/S01/call-next", headers=headers)).json()
    ticket = called["called"]["ticket"]
    scan = await client.post(
        "/api/stations/S01/start-service", json={"code": ticket}, headers=headers
    )
    visit = await scan.json()
    dosed = await client.post(
        "/api/stations/S01/record-dose", json={"visit_id": visit["visit_id"]}, headers=headers
    )
    assert dosed.status == 200, await dosed.text()
    return await dosed.json()  # type: ignore[no-any-return]


async def test_a_signed_in_vaccinator_is_the_actor_of_every_event_and_signs_the_dose(
    site: Site,
) -> None:
    signed = await _sign_in(site, "station", staff_id="N0001", pin="1234")
    assert signed["signed_in"] and signed["staff"]["id"] == "N0001"
    session = signed["session"]
    assert len(session) >= 40
    me = await (await site.client.get("/api/staff/me", headers=_as("station", session))).json()
    assert me["staff"]["name"] == "王芳 Wang Fang" and not me["required"]

    dosed = await _dose_one(site, _as("station", session))
    events = await _events(site)
    mine = [e for e in events if e.kind in ("station_opened", "called", "service_started", "dosed")]
    assert {e.actor for e in mine} == {"staff:N0001"}
    assert all(e.device and e.device.startswith("station:") for e in mine)  # which device, too
    store = site.app[STORE]
    rows = await store.read(
        lambda conn: conn.execute(select(t.doses.c.vaccinator, t.doses.c.visit_id)).all()
    )
    assert [(r.vaccinator, r.visit_id) for r in rows] == [
        ("王芳 Wang Fang (N0001)", dosed["visit_id"])
    ]
    stations = await site.get("station", "/api/stations")
    assert next(s for s in stations if s["station_id"] == "S01")["vaccinator"] == (
        "王芳 Wang Fang (N0001)"
    )

    out = await site.client.post("/api/staff/sign-out", headers=_as("station", session))
    assert (await out.json()) == {"signed_out": True}
    again = await site.client.post("/api/staff/sign-out", headers=_as("station", session))
    assert (await again.json()) == {"signed_out": False}  # a retried sign-out is fine
    stale = await site.client.post("/api/stations/S01/pause", headers=_as("station", session))
    assert stale.status == 401
    assert (await stale.json())["error"]["reason"] == "staff_session_expired"
    kinds = [e.kind for e in await _events(site) if e.kind.startswith("staff_")]
    assert kinds == ["staff_signed_in", "staff_signed_out"]


async def test_wrong_pins_slow_that_device_down_and_every_attempt_is_audited(site: Site) -> None:
    for _ in range(4):
        wrong = await _sign_in(site, "station", 401, staff_id="N0002", pin="0000")
        assert wrong["error"]["reason"] == "sign_in_failed"
        assert wrong["error"]["details"]["retry_after_seconds"] == 0
    fifth = await _sign_in(site, "station", 401, staff_id="N0002", pin="0000")
    assert fifth["error"]["details"]["retry_after_seconds"] == 15  # the free tries are used
    slowed = await _sign_in(site, "station", 429, staff_id="N0002", pin="1234")  # even right
    assert slowed["error"]["reason"] == "sign_in_throttled"
    assert "稍候" in slowed["error"]["messages"]["zh-CN"]
    site.clock.advance(seconds=16)
    again = await _sign_in(site, "station", 401, staff_id="N0002", pin="0000")
    assert again["error"]["details"]["retry_after_seconds"] == 30  # doubled
    site.clock.advance(seconds=31)
    ok = await _sign_in(site, "station", staff_id="N0002", pin="1234")
    assert ok["staff"]["id"] == "N0002"

    events = [e for e in await _events(site) if e.kind.startswith("staff_")]
    assert [e.kind for e in events] == [
        *["staff_sign_in_failed"] * 5,
        "staff_locked",
        "staff_sign_in_failed",
        "staff_locked",
        "staff_signed_in",
    ]
    assert events[0].payload["reason"] == "sign_in_failed"
    assert events[0].payload["staff_id"] == "N0002"
    assert events[0].actor.startswith("station:")  # failures name the device, not the person
    text = json.dumps([e.payload for e in events])
    assert "0000" not in text and "1234" not in text and ok["session"] not in text


async def test_unknown_staff_numbers_and_badges_answer_like_a_wrong_pin(site: Site) -> None:
    wrong = await _sign_in(site, "station", 401, staff_id="X9999", pin="1234")
    assert wrong["error"]["reason"] == "sign_in_failed"
    pin = await _sign_in(site, "station", 401, staff_id="N0001", pin="9999")
    badge = await _sign_in(site, "station", 401, badge="DEMO-BADGE-9999")
    assert wrong["error"] == pin["error"] == badge["error"]  # nothing tells them apart
    missing = await _sign_in(site, "station", 422, staff_id="N0001")
    assert missing["error"]["reason"] == "pin_required"
    nobody = await _sign_in(site, "station", 422)
    assert nobody["error"]["reason"] == "staff_id_required"


async def test_roles_of_the_person_and_of_the_device_must_agree(site: Site) -> None:
    refused = await _sign_in(site, "station", 403, staff_id="N0003", pin="1234")  # observer
    assert refused["error"]["reason"] == "staff_role_forbidden"
    assert "N0003" in refused["error"]["hints"]["en"]
    await _sign_in(site, "board", 403, staff_id="N0003", pin="1234")  # boards have no people
    session = (await _sign_in(site, "station", staff_id="N0002", pin="1234"))["session"]
    # A session belongs to the device it was opened on.
    elsewhere = await site.client.get("/api/staff/me", headers=_as("observer", session))
    assert (await elsewhere.json())["error"]["reason"] == "staff_session_expired"


async def test_a_badge_alone_signs_its_owner_in_and_an_unknown_badge_does_not(site: Site) -> None:
    signed = await _sign_in(site, "station", badge=" DEMO-BADGE-0001 ")
    assert signed["staff"]["id"] == "N0001"
    unknown = await _sign_in(site, "station", 401, badge="DEMO-BADGE-9999")
    assert unknown["error"]["reason"] == "sign_in_failed"
    by = [e.payload["by"] for e in await _events(site) if e.kind == "staff_signed_in"]
    assert by == ["badge"]


async def test_sign_in_is_not_replayed_from_idempotency_storage(site: Site) -> None:
    headers = {**auth("station"), "Idempotency-Key": "same-key-1"}
    first = await (
        await site.client.post(SIGN_IN, json={"staff_id": "N0001", "pin": "1234"}, headers=headers)
    ).json()
    second = await (
        await site.client.post(SIGN_IN, json={"staff_id": "N0001", "pin": "1234"}, headers=headers)
    ).json()
    assert first["session"] != second["session"]
    store = site.app[STORE]
    stored = await store.read(lambda conn: conn.execute(select(t.idempotency.c.response)).all())
    assert not any(first["session"] in r.response for r in stored)


@pytest.fixture
async def strict_site(
    aiohttp_client: AiohttpClient, settings: Settings, clock: FrozenClock, db_url: str
) -> Site:
    """The demo site with staff sign-in required."""
    rules = settings.staff_sign_in.model_copy(update={"required": True, "badge_needs_pin": True})
    strict = settings.model_copy(update={"staff_sign_in": rules})
    app = create_app(strict, db=db_url, clock=clock)
    client = await aiohttp_client(app)
    from vaxflow.queue.core import engine

    day = engine.site_day(clock.now(), strict.site.timezone)
    await app[STORE].write(lambda tx: seed_bookings(tx, strict, day, 200), actor="test")
    return Site(client, clock, strict)


async def test_when_required_staff_actions_need_a_person(strict_site: Site) -> None:
    site = strict_site
    refused = await site.post("station", "/api/stations/S01/pause", expect=401)
    assert refused["error"]["reason"] == "staff_sign_in_required"
    assert "工号" in refused["error"]["messages"]["zh-CN"]
    await site.post("observer", "/api/exit-scan", {"code": "A001"}, expect=401)
    await site.post("marshal", "/api/walk-in-capacity", {"capacity": 5}, expect=401)
    # Reading, machines and scripts go on without a person.
    await site.get("station", "/api/stations")
    await site.check_in(
        booking_codes(site.settings, site.clock, product="CORONAVAC", elderly=False)[1]
    )
    health = {"device_id": "S01-scanner", "kind": "scanner", "url": "sim://", "state": "ok"}
    await site.post("station", "/api/devices/health", health)
    await site.post(
        "admin",
        "/api/stations/S02/open",
        {"product": "CORONAVAC", "lot": "L", "vaccinator": "Admin"},
    )

    need_pin = await _sign_in(site, "station", 422, badge="DEMO-BADGE-0001")
    assert need_pin["error"]["reason"] == "pin_required"
    session = (await _sign_in(site, "station", badge="DEMO-BADGE-0001", pin="1234"))["session"]
    dosed = await _dose_one(site, _as("station", session))
    assert dosed["state"] == "observing"

    site.clock.advance(minutes=16)  # idle longer than staff_sign_in.idle_minutes
    idle = await site.client.post("/api/stations/S01/pause", headers=_as("station", session))
    assert idle.status == 401
    assert (await idle.json())["error"]["reason"] == "staff_session_expired"
    out = [e for e in await _events(site) if e.kind == "staff_signed_out"]
    assert [(e.actor, e.payload["why"]) for e in out] == [("staff:N0001", "idle")]


async def test_a_console_left_signed_in_is_signed_out_in_the_audit_trail_unused(
    site: Site,
) -> None:
    session = (await _sign_in(site, "station", staff_id="N0001", pin="1234"))["session"]
    site.clock.advance(minutes=16)  # idle past staff_sign_in.idle_minutes; nobody uses it
    sweeper = asyncio.create_task(staff_handlers.sweep_idle_sessions(site.app, every=0.01))
    try:
        for _ in range(200):
            out = [e for e in await _events(site) if e.kind == "staff_signed_out"]
            if out:
                break
            await asyncio.sleep(0.01)
    finally:
        sweeper.cancel()
    assert [(e.actor, e.payload["why"]) for e in out] == [("staff:N0001", "idle")]
    later = await site.client.post("/api/stations/S01/pause", headers=_as("station", session))
    assert later.status == 401


async def test_when_required_a_ticket_shows_the_full_id_only_to_a_signed_in_person(
    strict_site: Site,
) -> None:
    site = strict_site
    code = booking_codes(site.settings, site.clock, product="CORONAVAC", elderly=False)[2]
    ticket = (await site.check_in(code))["ticket"]
    full = site.person(code).id_number
    session = (await _sign_in(site, "station", staff_id="N0001", pin="1234"))["session"]
    opened = {"product": "CORONAVAC", "lot": "LOT-2611", "vaccinator": "Nurse Li"}
    for path, body in (("open", opened), ("call-next", {})):
        answer = await site.client.post(
            f"/api/stations/S01/{path}", json=body, headers=_as("station", session)
        )
        assert answer.status == 200, await answer.json()
    nobody = await site.get("station", f"/api/tickets/{ticket}")
    assert nobody["id_number"] != full and "*" in nobody["id_number"]
    response = await site.client.get(f"/api/tickets/{ticket}", headers=_as("station", session))
    assert (await response.json())["id_number"] == full


async def test_a_restart_does_not_free_a_staff_number_someone_is_guessing(
    aiohttp_client: AiohttpClient, settings: Settings, clock: FrozenClock, db_url: str
) -> None:
    async def started() -> Site:
        app = create_app(settings, db=db_url, clock=clock)
        return Site(await aiohttp_client(app), clock, settings)

    before = await started()
    for _ in range(3):
        await _sign_in(before, "station", 401, staff_id="N0002", pin="0000")
    await before.client.close()  # the server stops: its memory of the attempts is gone

    after = await started()
    wrong = await _sign_in(after, "station", 401, staff_id="N0002", pin="0000")
    assert wrong["error"]["details"]["retry_after_seconds"] == 0  # the 4th of 5 free
    fifth = await _sign_in(after, "station", 401, staff_id="N0002", pin="0000")
    assert fifth["error"]["details"]["retry_after_seconds"] == 15  # slowed now
    await after.client.close()

    again = await started()
    slowed = await _sign_in(again, "station", 429, staff_id="N0002", pin="1234")
    assert slowed["error"]["reason"] == "sign_in_throttled"  # still slowed after a restart
    clock.advance(seconds=16)
    assert (await _sign_in(again, "station", staff_id="N0002", pin="1234"))["staff"]["id"] == (
        "N0002"
    )
