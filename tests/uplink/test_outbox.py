"""The outbox: its pure rules, and rows written in the transaction of each change."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from tests.queue.conftest import AiohttpClient, Site, booking_codes
from vaxflow.clock import FrozenClock
from vaxflow.config import Settings
from vaxflow.config.schema import FhirUplink, Hl7Uplink, UplinkSettings
from vaxflow.queue.bookings.sim_service import WRITE_OFFS, create_service
from vaxflow.queue.core import engine
from vaxflow.queue.core.outbox import (
    OutboxState,
    Outcome,
    Target,
    ack_verdict,
    backoff,
    http_verdict,
    operation_outcome_text,
)
from vaxflow.queue.demo.demo_data import make_people, seed_bookings
from vaxflow.queue.ops import outbox_rows
from vaxflow.queue.server.app import create_app
from vaxflow.queue.server.appkeys import STORE
from vaxflow.queue.store import outbox
from vaxflow.queue.store.bookings import remember_booking


@pytest.mark.parametrize(
    ("attempts", "jitter", "seconds"),
    [(1, 0.0, 1.0), (1, 0.999999, 2.0), (2, 0.0, 2.0), (4, 0.0, 8.0), (30, 0.0, 150.0)],
)
def test_backoff_doubles_up_to_the_cap_with_jitter(
    attempts: int, jitter: float, seconds: float
) -> None:
    wait = backoff(attempts, base_seconds=2.0, max_seconds=300.0, jitter=jitter)
    assert wait == pytest.approx(timedelta(seconds=seconds), abs=timedelta(milliseconds=1))


_OUTCOME = {
    "resourceType": "OperationOutcome",
    "issue": [{"severity": "error", "diagnostics": "Field required", "expression": ["X.y"]}],
}


@pytest.mark.parametrize(
    ("status", "body", "outcome"),
    [
        (200, None, Outcome.DONE),
        (201, {}, Outcome.DONE),
        (400, _OUTCOME, Outcome.NEEDS_FIXING),
        (422, _OUTCOME, Outcome.NEEDS_FIXING),
        (404, "nope", Outcome.NEEDS_FIXING),
        (408, None, Outcome.RETRY),
        (429, None, Outcome.RETRY),
        (500, _OUTCOME, Outcome.RETRY),
        (503, None, Outcome.RETRY),
    ],
)
def test_what_an_http_answer_means(status: int, body: Any, outcome: Outcome) -> None:
    assert http_verdict(status, body).outcome is outcome


def test_operation_outcome_words_are_kept() -> None:
    assert operation_outcome_text(_OUTCOME) == "Field required (X.y)"
    assert "Field required" in http_verdict(422, _OUTCOME).detail


@pytest.mark.parametrize(
    ("code", "outcome"),
    [
        ("AA", Outcome.DONE),
        ("CA", Outcome.DONE),
        ("AE", Outcome.NEEDS_FIXING),
        ("AR", Outcome.RETRY),
        ("", Outcome.RETRY),
    ],
)
def test_what_an_ack_means(code: str, outcome: Outcome) -> None:
    assert ack_verdict(code, "why").outcome is outcome


def uplinked(settings: Settings, *, writeoff: bool = False) -> Settings:
    """The demo site sending to a FHIR and an HL7 registry that nobody answers (port 9)."""
    booking = settings.booking.model_copy(update={"service_url": "http://127.0.0.1:9"})
    uplink = UplinkSettings(
        fhir=FhirUplink(url="http://127.0.0.1:9/fhir", history=False),
        hl7=Hl7Uplink(host="127.0.0.1", port=9),
        booking_writeoff=writeoff,
    )
    return settings.model_copy(update={"uplink": uplink, "booking": booking})


async def _dose(site: Site, station: str, code: str) -> dict[str, Any]:
    ticket = await site.check_in(code)
    await site.post("station", f"/api/stations/{station}/call-next")
    await site.post("station", f"/api/stations/{station}/start-service", {"code": ticket["qr"]})
    return await site.post(  # type: ignore[no-any-return]
        "station", f"/api/stations/{station}/record-dose", {"visit_id": ticket["visit_id"]}
    )


async def _site(
    aiohttp_client: AiohttpClient, settings: Settings, clock: FrozenClock, tmp: str
) -> Site:
    app: web.Application = create_app(settings, db=tmp, clock=clock, uplink=False)
    client = await aiohttp_client(app)
    day = engine.site_day(clock.now(), settings.site.timezone)
    await app[STORE].write(lambda tx: seed_bookings(tx, settings, day, 200), actor="test")
    return Site(client, clock, settings)


async def test_each_change_writes_its_rows_in_its_transaction(
    aiohttp_client: AiohttpClient, settings: Settings, clock: FrozenClock, tmp_path: Any
) -> None:
    site = await _site(
        aiohttp_client, uplinked(settings, writeoff=True), clock, str(tmp_path / "s.sqlite")
    )
    store = site.app[STORE]
    await site.open("S01")
    code = booking_codes(settings, clock, product="CORONAVAC", elderly=False)[0]
    dosed = await _dose(site, "S01", code)
    await site.post(
        "observer",
        f"/api/observation/{dosed['visit_id']}/flag",
        {"kind": "rash", "severity": "mild", "notes": ""},
    )
    found = await store.read(lambda c: outbox.rows(c, settings.site.id))
    assert [(r.target, r.kind, r.action) for r in found] == [
        ("booking", "booking_used", "A"),
        ("fhir", "dose", "A"),
        ("hl7", "dose", "A"),
        ("booking", "booking_dosed", "A"),
        ("fhir", "dose", "U"),
        ("hl7", "dose", "U"),
    ]
    assert {r.state for r in found} == {OutboxState.PENDING.value}
    dose_rows = [r for r in found if r.kind == "dose"]
    assert len({r.record_key for r in dose_rows}) == 1
    # a refused change writes nothing: the same ticket dosed again is refused
    await site.post(
        "station",
        "/api/stations/S01/record-dose",
        {"visit_id": dosed["visit_id"]},
        expect=409,
    )
    again = await store.read(lambda c: outbox.rows(c, settings.site.id))
    assert len(again) == len(found)
    summary = await store.read(lambda c: outbox.summary(c, settings.site.id))
    assert summary[Target.FHIR.value]["pending"] == 2
    assert summary[Target.FHIR.value]["oldest_pending"] == found[1].created_at


async def test_the_booking_service_hears_used_dosed_and_not_come_once_each(
    aiohttp_client: AiohttpClient, settings: Settings, clock: FrozenClock, tmp_path: Any
) -> None:
    day = engine.site_day(clock.now(), settings.site.timezone)
    people = make_people(settings, day, 200)
    late = replace(
        people[-1],
        code="LATE0001",
        window_start=clock.now() - timedelta(hours=3),
        window_end=clock.now() - timedelta(hours=1),
    )
    service = TestServer(create_service([*people, late]))
    await service.start_server()
    try:
        booking = settings.booking.model_copy(update={"service_url": str(service.make_url("/"))})
        wired = settings.model_copy(
            update={"booking": booking, "uplink": UplinkSettings(booking_writeoff=True)}
        )
        app = create_app(wired, db=str(tmp_path / "s.sqlite"), clock=clock)
        site = Site(await aiohttp_client(app), clock, wired)
        await app[STORE].write(lambda tx: seed_bookings(tx, wired, day, 200), actor="test")
        await app[STORE].write(lambda tx: remember_booking(tx, late), actor="test")
        await app[STORE].write(lambda tx: outbox_rows.sweep_no_shows(tx, wired), actor="test")
        await site.open("S01")
        code = booking_codes(settings, clock, product="CORONAVAC", elderly=False)[0]
        await _dose(site, "S01", code)
        heard = service.app[WRITE_OFFS]
        for _ in range(200):
            if len(heard) >= 3:
                break
            await asyncio.sleep(0.05)
        assert sorted((h["code"], h["event"]) for h in heard.values()) == [
            (code, "dosed"),
            (code, "used"),
            ("LATE0001", "no_show"),
        ]
        # swept again: written off once
        again = await app[STORE].write(
            lambda tx: outbox_rows.sweep_no_shows(tx, wired), actor="test"
        )
        assert again == 0
    finally:
        await service.close()


async def test_a_withdrawn_reaction_writes_its_correction_and_is_left_out(
    aiohttp_client: AiohttpClient, settings: Settings, clock: FrozenClock, tmp_path: Any
) -> None:
    uplinked_settings = uplinked(settings)
    site = await _site(aiohttp_client, uplinked_settings, clock, str(tmp_path / "s.sqlite"))
    store = site.app[STORE]
    await site.open("S01")
    code = booking_codes(settings, clock, product="CORONAVAC", elderly=False)[0]
    vid = (await _dose(site, "S01", code))["visit_id"]
    flag = {"kind": "rash", "severity": "mild"}
    await site.post("observer", f"/api/observation/{vid}/flag", flag, device="tab-1")
    clock.advance(seconds=30)
    await site.post("observer", f"/api/observation/{vid}/withdraw", device="tab-1")
    found = await store.read(lambda c: outbox.rows(c, settings.site.id))
    assert [(r.target, r.action) for r in found if r.kind == "dose"] == [
        ("fhir", "A"),
        ("hl7", "A"),
        ("fhir", "U"),  # the flag
        ("hl7", "U"),
        ("fhir", "U"),  # its correction
        ("hl7", "U"),
    ]
    record = await store.read(lambda c: outbox.dose_record(c, found[-1].dose_id or 0))
    assert record is not None and record.reactions == ()
