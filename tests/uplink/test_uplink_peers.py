"""A site day against a real FHIR server (sekmet-fhir) and a real MLLP listener (python-hl7),
through TCP proxies the test cuts: every dose arrives once, corrections update, a rejected
record waits for a person with the registry's words, and check-ins never wait for the WAN."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from tests.queue.conftest import AiohttpClient, Site, booking_codes
from tests.uplink.peers import FhirServer, MllpListener, TcpProxy, dose, fhir_copies
from vaxflow.clock import FrozenClock
from vaxflow.config import LaneKind, Settings
from vaxflow.config.schema import FhirUplink, Hl7Uplink, UplinkSettings
from vaxflow.queue.core import engine
from vaxflow.queue.core.outbox import OutboxState
from vaxflow.queue.demo.demo_data import seed_bookings
from vaxflow.queue.records.fhir import ID_SYSTEM, PRODUCT_SYSTEM, patient_id
from vaxflow.queue.server.app import create_app
from vaxflow.queue.server.appkeys import STORE, UPLINK_WORKERS
from vaxflow.queue.store import outbox

pytestmark = pytest.mark.slow


def uplink_to(settings: Settings, fhir_port: int, hl7_port: int, *, history: bool) -> Settings:
    uplink = UplinkSettings(
        fhir=FhirUplink(
            url=f"http://127.0.0.1:{fhir_port}/fhir",
            timeout_seconds=2.0,
            history=history,
            history_timeout_seconds=0.5,
        ),
        hl7=Hl7Uplink(host="127.0.0.1", port=hl7_port, timeout_seconds=2.0),
        retry_base_seconds=1.0,
        retry_max_seconds=30.0,
    )
    return settings.model_copy(update={"uplink": uplink})


async def start_site(
    aiohttp_client: AiohttpClient, settings: Settings, clock: FrozenClock, db: str
) -> Site:
    app = create_app(settings, db=db, clock=clock)
    client = await aiohttp_client(app)
    day = engine.site_day(clock.now(), settings.site.timezone)
    await app[STORE].write(lambda tx: seed_bookings(tx, settings, day, 200), actor="test")
    return Site(client, clock, settings)


async def until(what: Callable[[], Any], within: float = 15.0) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if await what():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what.__name__}")


async def test_a_day_reaches_both_registries_once_through_outages(
    aiohttp_client: AiohttpClient,
    settings: Settings,
    clock: FrozenClock,
    tmp_path: Any,
    fhir_server: FhirServer,
    mllp: MllpListener,
    fhir_link: TcpProxy,
    hl7_link: TcpProxy,
) -> None:
    wired = uplink_to(settings, fhir_link.listen_port, hl7_link.listen_port, history=False)
    site = await start_site(aiohttp_client, wired, clock, str(tmp_path / "site.sqlite"))
    store, site_id = site.app[STORE], settings.site.id
    workers = site.app[UPLINK_WORKERS]
    assert {w.target for w in workers} == {"fhir", "hl7"}

    async def summary() -> dict[str, dict[str, Any]]:
        return await store.read(lambda c: outbox.summary(c, site_id))

    async def all_settled() -> bool:
        counts = await summary()
        return all(counts[t]["pending"] == 0 for t in ("fhir", "hl7"))

    def later(seconds: float) -> None:  # the retries fall due; the workers look now
        clock.advance(seconds)
        for worker in workers:
            worker.kick()

    codes = booking_codes(settings, clock, product="CORONAVAC", elderly=False)[:7]
    rejected_key = f"{site_id}/7"  # the seventh dose: the registry refuses its lot
    mllp.reject.add(rejected_key)
    await site.open("S01")
    for code in codes[:2]:
        await dose(site, code)
    await until(all_settled)

    # the WAN goes down: the site goes on serving people, rows wait
    fhir_link.cut()
    hl7_link.cut()
    dosed = [await dose(site, code) for code in codes[2:5]]
    await site.post(
        "observer",
        f"/api/observation/{dosed[0]['visit_id']}/flag",
        {"kind": "rash", "severity": "mild"},
    )

    async def failing() -> bool:
        rows = await store.read(lambda c: outbox.rows(c, site_id, OutboxState.PENDING))
        return any(r.attempts > 0 and r.last_error for r in rows)

    await until(failing)
    # the link returns, but the registry's first answers are lost after it stored the record
    fhir_link.lose_answers = True
    fhir_link.restore()
    hl7_link.restore()
    later(60)

    async def lost() -> bool:
        return fhir_link.answers_lost >= 1

    await until(lost)
    fhir_link.lose_answers = False
    for code in codes[5:7]:
        await dose(site, code)
    for _ in range(20):
        later(60)
        if await all_settled():
            break
        await asyncio.sleep(0.2)
    await until(all_settled)

    keys = {f"{site_id}/{n}" for n in range(1, 8)}
    assert fhir_copies(fhir_server, keys) == Counter({key: 1 for key in keys})
    flagged = fhir_server.get(f"Immunization/{site_id}-dose-3")
    assert flagged["reaction"][0]["detail"]["display"] == "rash (mild)"
    assert set(mllp.stored) == keys - {rejected_key}
    assert mllp.stored[f"{site_id}/3"] == "U"  # the reaction, sent as an update
    assert all(n == 1 for key, n in mllp.copies().items() if key != f"{site_id}/3")
    fixing = await store.read(lambda c: outbox.rows(c, site_id, OutboxState.NEEDS_FIXING))
    assert [(r.target, r.record_key) for r in fixing] == [("hl7", rejected_key)]
    assert fixing[0].last_error is not None and "lot unknown" in fixing[0].last_error
    dashboard = await site.get("marshal", "/api/dashboard")
    assert dashboard["uplink"]["targets"]["hl7"]["needs_fixing"] == 1
    assert dashboard["uplink"]["targets"]["fhir"] == {
        "pending": 0,
        "sent": 8,  # seven doses and the reaction's update
        "needs_fixing": 0,
        "oldest_pending_minutes": None,
        "past_alert": False,
    }
    assert [a["target"] for a in dashboard["alerts"]["uplink"]] == ["hl7"]

    # fixed at the registry, put back in line by an operator (`vaxflow uplink retry ID`)
    mllp.reject.clear()
    assert (
        await store.write(
            lambda tx: outbox.retry(tx.conn, site_id, tx.now, fixing[0].id), actor="t"
        )
        == 1
    )
    later(0)
    await until(all_settled)
    assert rejected_key in mllp.stored


async def test_registry_history_joins_check_in_and_a_dead_registry_sends_to_review(
    aiohttp_client: AiohttpClient,
    settings: Settings,
    clock: FrozenClock,
    tmp_path: Any,
    fhir_server: FhirServer,
    fhir_link: TcpProxy,
    hl7_link: TcpProxy,
) -> None:
    wired = uplink_to(settings, fhir_link.listen_port, hl7_link.listen_port, history=True)
    site = await start_site(aiohttp_client, wired, clock, str(tmp_path / "site.sqlite"))
    first, second, third = [
        code
        for code in booking_codes(settings, clock, product="BBIBP", elderly=False)
        if not site.person(code).prior_doses
    ][:3]
    # another site gave the first person a dose five weeks ago; the registry has it (people
    # of another product than the other tests', which share this FHIR server)
    person = site.person(first)
    pid = patient_id("cn_resident", person.id_number)
    fhir_server.put(
        {
            "resourceType": "Patient",
            "id": pid,
            "identifier": [{"system": ID_SYSTEM + "cn_resident", "value": person.id_number}],
        }
    )
    fhir_server.put(
        {
            "resourceType": "Immunization",
            "id": "elsewhere-dose-1",
            "status": "completed",
            "vaccineCode": {"coding": [{"system": PRODUCT_SYSTEM, "code": "BBIBP"}]},
            "patient": {"reference": f"Patient/{pid}"},
            "occurrenceDateTime": (clock.now() - timedelta(days=35)).isoformat(),
            "manufacturer": {"display": "Sinopharm Beijing"},
            "protocolApplied": [{"doseNumberPositiveInt": 1}],
        }
    )
    body = {"booking_code": first, "id_card": site.card(first)}
    answered = await site.post("kiosk", "/api/checkins/precheck", body)
    assert [d["source"] for d in answered["history"]] == ["registry"]
    assert answered["dose_number"] == 2
    assert "prior_dose_unverified" not in str(answered)

    fhir_link.cut()  # the registry is out of reach: no hang, no silent pass
    started = time.monotonic()
    ticket = await site.check_in(second)
    assert time.monotonic() - started < 2.0
    review = wired.lane_of_kind(LaneKind.REVIEW) or wired.lane_of_kind(LaneKind.PRIORITY)
    assert review is not None and ticket["lane"] == review.prefix
    visit = await site.get("station", f"/api/tickets/{ticket['ticket']}")
    assert "prior_dose_unverified" in str(visit)
    started = time.monotonic()  # the registry just failed: the next person does not wait
    ticket = await site.check_in(third)
    assert time.monotonic() - started < 0.4
    assert ticket["lane"] == review.prefix
