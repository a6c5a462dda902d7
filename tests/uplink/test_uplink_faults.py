"""The FHIR registry answering 500 for a while, and rejecting one record with 422: check-ins
and doses go on, every record reaches the real FHIR server (sekmet-fhir) once when it answers
again, and the rejected one waits for a person with the registry's OperationOutcome words.
The HL7 registry answering AR (busy) for a record: it is sent again, under the same MSH-10,
until an AA, and stored once."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from tests.conftest import DEMO_CONFIG
from tests.queue.conftest import AiohttpClient, booking_codes
from tests.uplink.peers import FhirServer, MllpListener, dose, fhir_copies
from tests.uplink.test_uplink_peers import start_site, until
from vaxflow.cli import main
from vaxflow.clock import FrozenClock
from vaxflow.config import Settings
from vaxflow.config.schema import FhirUplink, Hl7Uplink, UplinkSettings
from vaxflow.queue.core.outbox import OutboxState
from vaxflow.queue.server.appkeys import STORE, UPLINK_WORKERS
from vaxflow.queue.store import outbox

pytestmark = pytest.mark.slow

REFUSAL = {
    "resourceType": "OperationOutcome",
    "issue": [
        {
            "severity": "error",
            "code": "invalid",
            "diagnostics": "Immunization.lotNumber: lot not registered",
            "expression": ["Immunization.lotNumber"],
        }
    ],
}


class FaultyRegistry:
    """The registry's HTTP front: 500 for everything while `failing`, 422 with an
    OperationOutcome for the Immunization ids in `reject`, else the real FHIR server's answer."""

    def __init__(self, fhir: FhirServer) -> None:
        self.upstream = f"http://127.0.0.1:{fhir.port}"
        self.failing = False
        self.reject: set[str] = set()
        self.errors: Counter[int] = Counter()
        self.app = web.Application()
        self.app.router.add_route("*", "/{tail:.*}", self.handle)
        self.app.cleanup_ctx.append(self._session)

    async def _session(self, _app: web.Application) -> AsyncIterator[None]:
        async with aiohttp.ClientSession() as self.http:
            yield

    async def handle(self, request: web.Request) -> web.StreamResponse:
        if self.failing:
            self.errors[500] += 1
            return web.Response(status=500, text="internal error")
        if request.path.rsplit("/", 1)[-1] in self.reject:
            self.errors[422] += 1
            return web.json_response(REFUSAL, status=422)
        async with self.http.request(
            request.method,
            f"{self.upstream}{request.path_qs}",
            data=await request.read(),
            headers={k: v for k, v in request.headers.items() if k.lower() != "host"},
        ) as answer:
            return web.Response(
                status=answer.status,
                body=await answer.read(),
                content_type=answer.content_type,
            )


def fhir_only(settings: Settings, url: str) -> Settings:
    """Only a FHIR registry, and a site id of its own (the FHIR server is the session's)."""
    uplink = UplinkSettings(
        fhir=FhirUplink(url=url, timeout_seconds=2.0, history=False),
        retry_base_seconds=1.0,
        retry_max_seconds=30.0,
    )
    site = settings.site.model_copy(update={"id": "demo-faults"})
    return settings.model_copy(update={"uplink": uplink, "site": site})


def hl7_only(settings: Settings, port: int) -> Settings:
    uplink = UplinkSettings(
        hl7=Hl7Uplink(host="127.0.0.1", port=port, timeout_seconds=2.0),
        retry_base_seconds=1.0,
        retry_max_seconds=30.0,
    )
    site = settings.site.model_copy(update={"id": "demo-faults"})
    return settings.model_copy(update={"uplink": uplink, "site": site})


async def test_a_registry_answering_500_then_422_for_one_record(
    aiohttp_client: AiohttpClient,
    aiohttp_server: Any,
    settings: Settings,
    clock: FrozenClock,
    tmp_path: Any,
    fhir_server: FhirServer,
    capsys: pytest.CaptureFixture[str],
) -> None:
    registry = FaultyRegistry(fhir_server)
    front: TestServer = await aiohttp_server(registry.app)
    wired = fhir_only(settings, str(front.make_url("/fhir")))
    site = await start_site(aiohttp_client, wired, clock, str(tmp_path / "site.sqlite"))
    store, site_id = site.app[STORE], wired.site.id
    workers = site.app[UPLINK_WORKERS]

    async def settled() -> bool:
        counts = await store.read(lambda c: outbox.summary(c, site_id))
        return bool(counts["fhir"]["pending"] == 0)

    def later(seconds: float) -> None:
        clock.advance(seconds)
        for worker in workers:
            worker.kick()

    codes = booking_codes(wired, clock, product="CORONAVAC", elderly=False)[:4]
    rejected = f"{site_id}-dose-3"
    registry.reject.add(rejected)
    registry.failing = True
    await site.open("S01")
    for code in codes:  # the registry is failing: the site doses people as ever
        await dose(site, code)

    async def retried() -> bool:
        rows = await store.read(lambda c: outbox.rows(c, site_id, OutboxState.PENDING))
        return any(r.attempts > 0 and r.last_error for r in rows)

    await until(retried)
    pending = await store.read(lambda c: outbox.rows(c, site_id, OutboxState.PENDING))
    assert len(pending) == 4 and all(r.state == OutboxState.PENDING for r in pending)
    assert registry.errors[500] >= 1
    # the marshal is alerted after `alert_after_hours` (4), well before the 24-hour limit
    dashboard = await site.get("marshal", "/api/dashboard")
    assert dashboard["alerts"]["uplink"] == []
    clock.advance(minutes=4 * 60 + 1)
    dashboard = await site.get("marshal", "/api/dashboard")
    (alert,) = dashboard["alerts"]["uplink"]
    assert alert["target"] == "fhir" and alert["past_alert"] and alert["pending"] == 4
    assert alert["oldest_pending_minutes"] >= 241

    registry.failing = False
    for _ in range(20):
        later(60)
        if await settled():
            break
        await asyncio.sleep(0.2)
    await until(settled)
    keys = {f"{site_id}/{n}" for n in range(1, 5)}
    assert fhir_copies(fhir_server, keys) == Counter({k: 1 for k in keys - {f"{site_id}/3"}})
    fixing = await store.read(lambda c: outbox.rows(c, site_id, OutboxState.NEEDS_FIXING))
    assert [r.record_key for r in fixing] == [f"{site_id}/3"]
    assert fixing[0].last_error is not None and "lot not registered" in fixing[0].last_error
    assert registry.errors[422] == 1  # a 4xx is not retried by itself
    dashboard = await site.get("marshal", "/api/dashboard")
    assert dashboard["uplink"]["targets"]["fhir"]["needs_fixing"] == 1

    # the operator's commands: what needs fixing, with the registry's words; put it back
    config = tmp_path / "site.toml"
    config.write_text(
        DEMO_CONFIG.read_text(encoding="utf-8").replace('id = "demo-stadium"', 'id = "demo-faults"')
    )
    files = ["--config", str(config), "--db", str(tmp_path / "site.sqlite")]
    assert main(["uplink", "status", "--json", *files]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["targets"]["fhir"]["needs_fixing"] == 1
    assert [r["record_key"] for r in shown["needs_fixing"]] == [f"{site_id}/3"]
    assert "lot not registered" in shown["needs_fixing"][0]["last_error"]
    registry.reject.clear()  # fixed at the registry
    assert main(["uplink", "retry", str(fixing[0].id), *files]) == 0
    assert capsys.readouterr().out == "1 row(s) put back in line\n"
    assert main(["uplink", "retry", str(fixing[0].id), *files]) == 1
    assert "is not waiting to be fixed" in capsys.readouterr().err
    clock.set(datetime.now(UTC))  # the command put it back in line at the real time
    later(0)
    await until(settled)
    assert fhir_copies(fhir_server, keys) == Counter({k: 1 for k in keys})


async def test_an_hl7_registry_answering_ar_gets_the_record_again_until_it_takes_it(
    aiohttp_client: AiohttpClient,
    settings: Settings,
    clock: FrozenClock,
    tmp_path: Any,
    mllp: MllpListener,
) -> None:
    wired = hl7_only(settings, mllp.port)
    site = await start_site(aiohttp_client, wired, clock, str(tmp_path / "site.sqlite"))
    store, site_id = site.app[STORE], wired.site.id
    (worker,) = site.app[UPLINK_WORKERS]
    busy = f"{site_id}/1"
    mllp.busy.add(busy)
    await site.open("S01")
    for code in booking_codes(wired, clock, product="CORONAVAC", elderly=False)[:2]:
        await dose(site, code)

    async def refused_twice() -> bool:
        return [k for _, k, _ in mllp.received].count(busy) >= 2

    for _ in range(50):  # each retry falls due as the clock moves on
        clock.advance(60)
        worker.kick()
        if await refused_twice():
            break
        await asyncio.sleep(0.1)
    assert await refused_twice()
    assert mllp.stored == {}  # one target's rows go in order: the next waits behind it
    rows = await store.read(lambda c: outbox.rows(c, site_id, OutboxState.PENDING))
    assert [r.record_key for r in rows] == [busy, f"{site_id}/2"]
    assert rows[0].last_error and "busy" in rows[0].last_error and rows[0].attempts >= 2

    mllp.busy.clear()

    async def settled() -> bool:
        clock.advance(60)
        worker.kick()
        counts = await store.read(lambda c: outbox.summary(c, site_id))
        return bool(counts["hl7"]["pending"] == 0)

    await until(settled)
    assert mllp.stored == {busy: "A", f"{site_id}/2": "A"}
    assert mllp.copies() == Counter({busy: 1, f"{site_id}/2": 1})  # one MSH-10 for all tries
