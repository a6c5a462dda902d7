"""Dose records as HL7 v2.5.1 VXU^V04 messages for immunization registries (pure functions).

One message per outbox row: the dose id in ORC-3 (the placer's stable id, the same as the
FHIR identifier), RXA-21 saying whether it is added (A), updated (U: a reaction, a
correction) or struck out (D), and MSH-10 from the outbox row, so a resend after a lost ACK
carries the same control id and the registry can drop the repeat. Text is UTF-8 (MSH-18).
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from vaxflow.config import Settings
from vaxflow.queue.records.fhir import ID_TYPE_CODES
from vaxflow.queue.store.records import DoseRecord

SEGMENT = "\r"
_ESCAPES = (("\\", "\\E\\"), ("|", "\\F\\"), ("^", "\\S\\"), ("&", "\\T\\"), ("~", "\\R\\"))
_SEX = {"male": "M", "m": "M", "female": "F", "f": "F"}


def escape(text: str) -> str:
    """A value with HL7's delimiters escaped, and no line breaks (they end segments)."""
    for raw, escaped in _ESCAPES:
        text = text.replace(raw, escaped)
    return text.replace("\r", " ").replace("\n", " ")


def ts(at: datetime, timezone: str) -> str:
    """An HL7 DTM in the site's time zone with its offset: 20261205083000+0800."""
    return at.astimezone(ZoneInfo(timezone)).strftime("%Y%m%d%H%M%S%z")


def vxu(
    record: DoseRecord,
    settings: Settings,
    *,
    message_id: str,
    action: str,
    dose_key: str,
    now: datetime,
    receiving_application: str = "IIS",
    receiving_facility: str = "IIS",
    sending_facility: str | None = None,
) -> str:
    """The VXU^V04 of one dose (segments joined by carriage returns)."""
    if action not in ("A", "U", "D"):
        raise ValueError(f"RXA-21 is A, U or D, not {action!r}")
    zone = settings.site.timezone
    dose = record.dose
    product = settings.product(dose.product)
    product_name = product.name if product is not None else dose.product
    station = settings.station(dose.station_id)
    station_name = station.name if station is not None else dose.station_id
    id_type = record.id_type or "cn_resident"
    id_code = ID_TYPE_CODES.get(id_type, ("NI", ""))[0]
    facility = sending_facility or settings.site.id
    e = escape
    msh = (
        f"MSH|^~\\&|VAXFLOW|{e(facility)}|{e(receiving_application)}|{e(receiving_facility)}|"
        f"{ts(now, zone)}||VXU^V04^VXU_V04|{e(message_id)}|P|2.5.1|||ER|AL|||UNICODE UTF-8"
    )
    pid = (
        f"PID|1||{e(record.id_number)}^^^{e(id_type)}^{id_code}||{e(record.person_name)}||"
        f"{record.birth_date.strftime('%Y%m%d') if record.birth_date else ''}|"
        f"{_SEX.get((record.sex or '').lower(), 'U')}"
    )
    orc = f"ORC|RE||{e(dose_key)}^VAXFLOW"
    completion = "CP"
    rxa = (
        f"RXA|0|1|{ts(dose.given_at, zone)}|{ts(dose.given_at, zone)}|"
        f"{e(dose.product)}^{e(product_name)}^VAXFLOW|1|||00^New record^NIP001|"
        f"^{e(dose.vaccinator)}|^^^{e(settings.site.id)}&{e(station_name)}||||"
        f"{e(dose.lot)}||^{e(dose.manufacturer)}|||{completion}|{action}"
    )
    segments = [msh, pid, orc, rxa]
    segments.append(f"OBX|1|NM|30973-2^Dose number in series^LN|1|{dose.dose_number}||||||F")
    for n, reaction in enumerate(record.reactions, start=2):
        segments.append(
            f"OBX|{n}|ST|31044-1^Reaction^LN|{n}|"
            f"{e(reaction.kind)} ({e(reaction.severity)})||||||F|||{ts(reaction.flagged_at, zone)}"
        )
    return SEGMENT.join(segments) + SEGMENT
