"""Dose records as HL7 FHIR R4 resources for the immunization registry (pure functions).

One `Immunization` per dose and one `Patient` per person. The registry export is the one
place where a person's full ID number leaves the site, as the Patient's identifier; the
Patient's resource id is a one-way digest of it, so references and logs never carry it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any

from vaxflow.config import Settings
from vaxflow.queue.store.records import DoseRecord

#: Code systems. Products use the site's own codes (a registry maps them to its vocabulary).
PRODUCT_SYSTEM = "urn:vaxflow:product"
DOSE_SYSTEM = "urn:vaxflow:dose"
STATION_SYSTEM = "urn:vaxflow:station"
ID_SYSTEM = "urn:vaxflow:id:"  # + the ID type: urn:vaxflow:id:cn_resident
V2_0203 = "http://terminology.hl7.org/CodeSystem/v2-0203"
V2_0443 = "http://terminology.hl7.org/CodeSystem/v2-0443"
#: HL7 v2 table 0203 identifier types of the documents people check in with.
ID_TYPE_CODES = {
    "cn_resident": ("NNCHN", "National Person Identifier (China)"),
    "passport": ("PPN", "Passport number"),
    "hk_macau_permit": ("PPN", "Travel permit number"),
    "taiwan_permit": ("PPN", "Travel permit number"),
}
_GENDER = {"male": "male", "m": "male", "female": "female", "f": "female"}


def patient_id(id_type: str | None, id_number: str) -> str:
    """A stable, non-reversible Patient id for a document number (same person, same id)."""
    digest = hashlib.sha256(f"{id_type or 'unknown'}:{id_number.strip().upper()}".encode())
    return "p-" + digest.hexdigest()[:32]


def _instant(at: datetime) -> str:
    return at.isoformat(timespec="seconds")


def patient(record: DoseRecord) -> dict[str, Any]:
    """The person a dose went into, identified by their document number."""
    id_type = record.id_type or "cn_resident"
    code, display = ID_TYPE_CODES.get(id_type, ("NI", "National unique individual identifier"))
    resource: dict[str, Any] = {
        "resourceType": "Patient",
        "id": patient_id(record.id_type, record.id_number),
        "identifier": [
            {
                "use": "official",
                "type": {"coding": [{"system": V2_0203, "code": code, "display": display}]},
                "system": ID_SYSTEM + id_type,
                "value": record.id_number,
            }
        ],
        "name": [{"text": record.person_name}],
        "gender": _GENDER.get((record.sex or "").lower(), "unknown"),
    }
    if record.birth_date is not None:
        resource["birthDate"] = record.birth_date.isoformat()
    return resource


def immunization(record: DoseRecord, settings: Settings | None = None) -> dict[str, Any]:
    """One dose: vaccine, manufacturer, lot, dose number, when, by whom, where, reactions."""
    dose = record.dose
    product = settings.product(dose.product) if settings is not None else None
    station = settings.station(dose.station_id) if settings is not None else None
    site_name = settings.site.name if settings is not None else dose.site_id
    coding: dict[str, Any] = {"system": PRODUCT_SYSTEM, "code": dose.product}
    if product is not None:
        coding["display"] = product.name
    protocol: dict[str, Any] = {"doseNumberPositiveInt": dose.dose_number}
    if product is not None:
        protocol["series"] = product.name
        protocol["seriesDosesPositiveInt"] = product.doses_in_series
    station_name = station.name if station is not None else dose.station_id
    resource: dict[str, Any] = {
        "resourceType": "Immunization",
        "id": f"{dose.site_id}-dose-{record.dose_id}",
        "identifier": [{"system": DOSE_SYSTEM, "value": f"{dose.site_id}/{record.dose_id}"}],
        "status": "completed" if record.struck_at is None else "entered-in-error",
        "vaccineCode": {"coding": [coding], "text": product.name if product else dose.product},
        "patient": {"reference": f"Patient/{patient_id(record.id_type, record.id_number)}"},
        "occurrenceDateTime": _instant(dose.given_at),
        "recorded": _instant(dose.given_at),
        "primarySource": True,
        "location": {
            "identifier": {"system": STATION_SYSTEM, "value": f"{dose.site_id}/{dose.station_id}"},
            "display": f"{site_name} / {station_name}",
        },
        "manufacturer": {"display": dose.manufacturer},
        "lotNumber": dose.lot,
        "performer": [
            {
                "function": {
                    "coding": [
                        {"system": V2_0443, "code": "AP", "display": "Administering Provider"}
                    ]
                },
                "actor": {"display": dose.vaccinator},
            }
        ],
        "protocolApplied": [protocol],
    }
    if record.reactions:
        resource["reaction"] = [
            {
                "date": _instant(reaction.flagged_at),
                "detail": {"display": f"{reaction.kind} ({reaction.severity})"},
                "reported": False,
            }
            for reaction in record.reactions
        ]
    return resource


def resources(
    records: Sequence[DoseRecord], sites: Mapping[str, Settings] | None = None
) -> Iterator[dict[str, Any]]:
    """Each Patient once, before the first Immunization that refers to it; `sites` gives
    product, station and site names by site id where their site files are known."""
    seen: set[str] = set()
    for record in records:
        pid = patient_id(record.id_type, record.id_number)
        if pid not in seen:
            seen.add(pid)
            yield patient(record)
        yield immunization(record, (sites or {}).get(record.dose.site_id))
