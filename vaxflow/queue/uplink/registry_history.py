"""Earlier doses from the registry at check-in: a FHIR search with a short deadline.

`GET {fhir}/Immunization?patient.identifier={system}|{number}`: each completed Immunization
becomes a `PriorDose` from the "registry" (merged with the other sources by `history`).
No answer in time, an error or an unreadable answer: None, and the check-in goes on with the
local history and `prior_dose_unverified` (the review lane): never a hang, never a silent pass.
"""

from __future__ import annotations

import logging
import time
from datetime import date, datetime
from typing import Any

import aiohttp

from vaxflow.config.schema import FhirUplink
from vaxflow.queue.core.booking import PriorDose
from vaxflow.queue.records.fhir import ID_SYSTEM, PRODUCT_SYSTEM

log = logging.getLogger(__name__)

#: The most doses read from one answer (a person has a handful).
MAX_DOSES = 20


def prior_doses(bundle: Any) -> tuple[PriorDose, ...]:
    """The completed doses of a searchset Bundle (ValueError: not a Bundle we can read)."""
    try:
        return _prior_doses(bundle)
    except (AttributeError, TypeError, KeyError, IndexError) as err:  # a shape we did not expect
        raise ValueError(f"an unreadable Bundle: {type(err).__name__}") from err


def _prior_doses(bundle: Any) -> tuple[PriorDose, ...]:
    if not isinstance(bundle, dict) or bundle.get("resourceType") != "Bundle":
        raise ValueError("not a FHIR Bundle")
    found = []
    for entry in (bundle.get("entry") or [])[:MAX_DOSES]:
        resource = entry.get("resource") if isinstance(entry, dict) else None
        if not isinstance(resource, dict) or resource.get("resourceType") != "Immunization":
            continue
        if resource.get("status") != "completed":
            continue
        when = resource.get("occurrenceDateTime")
        if not isinstance(when, str) or len(when) < 10:
            raise ValueError("an Immunization without its date")
        given_on = (
            datetime.fromisoformat(when).date() if len(when) > 10 else date.fromisoformat(when)
        )
        codings = (resource.get("vaccineCode") or {}).get("coding") or []
        product = next(
            (c.get("code") for c in codings if c.get("system") == PRODUCT_SYSTEM),
            (resource.get("vaccineCode") or {}).get("text") or "unknown",
        )
        manufacturer = (resource.get("manufacturer") or {}).get("display") or "unknown"
        protocol = (resource.get("protocolApplied") or [{}])[0]
        number = protocol.get("doseNumberPositiveInt") if isinstance(protocol, dict) else None
        found.append(
            PriorDose(
                given_on,
                str(product)[:40],
                str(manufacturer)[:100],
                number if isinstance(number, int) else None,
                "registry",
            )
        )
    return tuple(found)


#: After the registry failed to answer, check-ins skip it for this long, in seconds: a WAN
#: outage costs each person nothing instead of the deadline twice (precheck, check-in).
SKIP_AFTER_FAILURE_SECONDS = 30.0


class RegistryHistory:
    """Asks the registry, and stops asking for a while after it failed (a circuit breaker)."""

    def __init__(self, config: FhirUplink | None) -> None:
        self.config = config
        self._skip_until = 0.0

    @property
    def enabled(self) -> bool:
        return self.config is not None and self.config.history

    async def ask(
        self, http: aiohttp.ClientSession, id_type: str, id_number: str
    ) -> tuple[PriorDose, ...] | None:
        """The registry's doses, or None (unverified) when it failed now or a moment ago."""
        if self.config is None or time.monotonic() < self._skip_until:
            return None
        found = await fetch_history(http, self.config, id_type, id_number)
        if found is None:
            self._skip_until = time.monotonic() + SKIP_AFTER_FAILURE_SECONDS
        return found


async def fetch_history(
    http: aiohttp.ClientSession, config: FhirUplink, id_type: str, id_number: str
) -> tuple[PriorDose, ...] | None:
    """The registry's doses for this person, or None when it did not answer in time."""
    params = {"patient.identifier": f"{ID_SYSTEM}{id_type}|{id_number}", "_count": "50"}
    url = f"{config.url.rstrip('/')}/Immunization"
    try:
        async with http.get(
            url,
            params=params,
            headers={"Accept": "application/fhir+json"},
            timeout=aiohttp.ClientTimeout(total=config.history_timeout_seconds),
        ) as response:
            if response.status != 200:
                log.warning("registry history: HTTP %d", response.status)
                return None
            return prior_doses(await response.json(content_type=None))
    except (aiohttp.ClientError, TimeoutError, OSError, ValueError) as err:
        log.warning("registry history: %s", type(err).__name__)
        return None
