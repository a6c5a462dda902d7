"""The FHIR R4 target: `PUT Patient/{id}` then `PUT Immunization/{id}`, ids chosen here.

A PUT with a client-assigned id is an update-or-create: sent twice (the answer was lost, the
site was killed before it wrote "sent"), the registry keeps one resource with a second
version, never two. A dose struck out is sent as `entered-in-error`. 4xx: needs fixing with
the registry's OperationOutcome words; 5xx and timeouts: retried.
"""

from __future__ import annotations

import json
from typing import Any

import aiohttp

from vaxflow.config import Settings
from vaxflow.config.schema import FhirUplink
from vaxflow.queue.core.outbox import Action, Outcome, Verdict, http_verdict
from vaxflow.queue.records.fhir import immunization, patient
from vaxflow.queue.store import outbox
from vaxflow.queue.store.outbox import OutboxRow
from vaxflow.queue.store.writer import Store

FHIR_JSON = "application/fhir+json"


class FhirSender:
    """Sends dose rows to one FHIR server."""

    def __init__(
        self, http: aiohttp.ClientSession, config: FhirUplink, store: Store, settings: Settings
    ) -> None:
        self.http = http
        self.base = config.url.rstrip("/")
        self.store = store
        self.settings = settings

    async def __call__(self, row: OutboxRow) -> Verdict:
        assert row.dose_id is not None
        dose_id = row.dose_id
        record = await self.store.read(lambda c: outbox.dose_record(c, dose_id))
        if record is None:
            return Verdict(Outcome.NEEDS_FIXING, "the dose is no longer in the site's records")
        person = patient(record)
        verdict = await self.put(f"Patient/{person['id']}", person)
        if verdict.outcome is not Outcome.DONE:
            return verdict
        dose = immunization(record, self.settings)
        if row.action == Action.DELETE.value:  # (a struck record says so already)
            dose["status"] = "entered-in-error"
        return await self.put(f"Immunization/{dose['id']}", dose)

    async def put(self, path: str, resource: dict[str, Any]) -> Verdict:
        """One PUT; what its answer means."""
        body = json.dumps(resource, ensure_ascii=False).encode()
        async with self.http.put(
            f"{self.base}/{path}",
            data=body,
            headers={"Content-Type": FHIR_JSON, "Accept": FHIR_JSON},
        ) as response:
            try:
                answer: Any = await response.json(content_type=None)
            except ValueError:
                answer = None
            return http_verdict(response.status, answer)
