"""A dose given in error is struck out (issue 15): one transaction marks it, audits it and
writes the registries' rows under the same dose key; the site's counts, exports, histories
and the certificate verifier leave it out. The real registries update their one record."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.queue.conftest import AiohttpClient, Site, booking_codes
from tests.uplink.peers import FhirServer, MllpListener, TcpProxy, dose, fhir_copies
from tests.uplink.test_uplink_peers import start_site, until, uplink_to
from vaxflow.clock import FrozenClock
from vaxflow.config import Settings
from vaxflow.queue.core import certificate_qr, engine
from vaxflow.queue.core.events import EventKind
from vaxflow.queue.core.outbox import OutboxState
from vaxflow.queue.core.report import build
from vaxflow.queue.demo.demo_data import seed_bookings
from vaxflow.queue.server.app import create_app
from vaxflow.queue.server.appkeys import STORE
from vaxflow.queue.store import outbox, records
from vaxflow.queue.store import tables as t
from vaxflow.queue.store.bookings import prior_doses_here


async def test_a_struck_dose_is_told_once_and_left_out_of_the_counts(
    aiohttp_client: AiohttpClient, settings: Settings, clock: FrozenClock, tmp_path: Path
) -> None:
    private, public = certificate_qr.new_key()
    key_file = tmp_path / "key.json"
    own = {"key_id": "k1", "site": settings.site.id, "private_key": private, "public_key": public}
    key_file.write_text(json.dumps(own))
    # registries named but out of reach, workers stopped: the rows stay to be looked at
    wired = uplink_to(settings, 9, 9, history=False)
    uplink = wired.uplink.model_copy(update={"certificate_key_file": str(key_file)})
    wired = wired.model_copy(update={"uplink": uplink})
    app = create_app(wired, db=str(tmp_path / "s.sqlite"), clock=clock, uplink=False)
    site = Site(await aiohttp_client(app), clock, wired)
    day = engine.site_day(clock.now(), settings.site.timezone)
    await app[STORE].write(lambda tx: seed_bookings(tx, wired, day, 200), actor="test")
    await site.open("S01")
    codes = booking_codes(settings, clock, product="CORONAVAC", elderly=False)
    wrong, right = [await dose(site, code) for code in codes[:2]]
    waiting = await site.check_in(codes[2])
    clock.advance(minutes=31)
    exited = await site.post("observer", "/api/exit/scan", {"code": wrong["ticket"]})
    qr = exited["certificate"]["qr"]

    path = f"/api/visits/{wrong['visit_id']}/strike-dose"
    struck = await site.post("marshal", path, {"reason": "wrong person at the station"})
    key = f"{settings.site.id}/1"
    assert struck["dose"] == key and struck["reason"] == "wrong person at the station"
    again = await site.post("admin", path, {"reason": "twice"}, expect=409)
    assert again["error"]["reason"] == "dose_already_struck"
    assert again["error"]["messages"]["zh-CN"]
    early = f"/api/visits/{waiting['visit_id']}/strike-dose"
    refused = await site.post("marshal", early, {"reason": "x"}, expect=409)
    assert refused["error"]["reason"] == "not_dosed_yet"
    await site.post("station", path, {"reason": "x"}, expect=403)

    store = app[STORE]
    site_id = settings.site.id
    rows = await store.read(lambda c: outbox.rows(c, site_id, OutboxState.PENDING))
    mine = [(r.target, r.action) for r in rows if r.record_key == key]
    assert mine == [("fhir", "A"), ("hl7", "A"), ("fhir", "D"), ("hl7", "D")]
    record = await store.read(lambda c: outbox.dose_record(c, 1))
    assert record is not None and record.struck_at is not None

    def audit(c: Any) -> list[Any]:
        e = t.events
        query = e.select().where(e.c.kind == EventKind.DOSE_STRUCK.value)
        return list(c.execute(query))

    (event,) = await store.read(audit)
    assert event.actor and json.loads(event.payload)["reason"] == "wrong person at the station"

    # the day's report and exports, the lots' counts and the schedule rules' history
    exported = await store.read(lambda c: records.dose_records(c, day, [site_id]))
    assert [r.dose.visit_id for r in exported] == [right["visit_id"]]
    zone, now = settings.site.timezone, clock.now()
    day_rows = await store.read(
        lambda c: records.day_rows(c, day, [site_id], timezone=zone, as_of=now)
    )
    report = build(day_rows)
    assert report.totals["doses"] == 1 and report.reconciled, report.checks
    lots = await site.get("marshal", "/api/lots")
    assert sum(lot["doses_today"] for lot in lots["lots"]) == 1
    person = site.person(codes[0])
    history = await store.read(
        lambda c: prior_doses_here(c, person.id_number, settings.site.timezone)
    )
    assert history == []
    # the certificate is still signed by us, but the verifier says the dose was struck
    response = await site.client.post("/api/certificates/verify", json={"text": qr})
    checked = await response.json()
    assert checked["valid"] is False and checked["error"]["reason"] == "dose_struck"
    assert checked["certificate"]["dose"] == key


@pytest.mark.slow
async def test_the_registries_mark_their_one_record_entered_in_error(
    aiohttp_client: AiohttpClient,
    settings: Settings,
    clock: FrozenClock,
    tmp_path: Path,
    fhir_server: FhirServer,
    mllp: MllpListener,
    fhir_link: TcpProxy,
    hl7_link: TcpProxy,
) -> None:
    wired = uplink_to(settings, fhir_link.listen_port, hl7_link.listen_port, history=False)
    site = await start_site(aiohttp_client, wired, clock, str(tmp_path / "site.sqlite"))
    store, site_id = site.app[STORE], settings.site.id

    async def settled() -> bool:
        counts = await store.read(lambda c: outbox.summary(c, site_id))
        return all(counts[t]["pending"] == 0 for t in ("fhir", "hl7"))

    await site.open("S01")
    code = booking_codes(settings, clock, product="CORONAVAC", elderly=False)[0]
    given = await dose(site, code)
    await until(settled)
    key = f"{site_id}/1"
    assert fhir_server.get(f"Immunization/{site_id}-dose-1")["status"] == "completed"
    path = f"/api/visits/{given['visit_id']}/strike-dose"
    await site.post("marshal", path, {"reason": "given to the wrong person"})
    await until(settled)
    assert fhir_server.get(f"Immunization/{site_id}-dose-1")["status"] == "entered-in-error"
    assert fhir_copies(fhir_server, {key}) == {key: 1}
    assert mllp.stored[key] == "D"
    assert [rxa21 for _, orc3, rxa21 in mllp.received if orc3 == key] == ["A", "D"]
