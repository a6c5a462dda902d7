"""The ticket QR payload: what the printed ticket carries and stations and exits scan back."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from vaxflow.queue.core.errors import Invalid

PREFIX = "VXF1"
_PLAIN = re.compile(r"^[A-Z][0-9]{3,5}$", re.ASCII)


@dataclass(frozen=True)
class TicketCode:
    """A scanned ticket: the plain number, and where the QR says it was issued (if it was a QR)."""

    ticket: str
    site_id: str | None = None
    site_day: date | None = None


def encode(site_id: str, day: date, ticket: str) -> str:
    """`VXF1:demo-stadium:2026-11-21:A023` — short enough for a small, robust QR."""
    return f"{PREFIX}:{site_id}:{day.isoformat()}:{ticket}"


def decode(text: str) -> TicketCode:
    """Read a scanned ticket QR or a typed ticket number; raise Invalid with a reason otherwise."""
    raw = text.strip()
    if len(raw) > 120:
        raise Invalid("bad_ticket_code", "This is not a vaxflow ticket (too long).")
    if _PLAIN.match(raw.upper()):
        return TicketCode(raw.upper())
    parts = raw.split(":")
    if len(parts) != 4 or parts[0] != PREFIX:
        raise Invalid("bad_ticket_code", "This is not a vaxflow ticket.")
    _, site_id, day_text, ticket = parts
    try:
        day = date.fromisoformat(day_text)
    except ValueError:
        raise Invalid("bad_ticket_code", "The ticket's date cannot be read.") from None
    if not _PLAIN.match(ticket) or not site_id:
        raise Invalid("bad_ticket_code", "The ticket number cannot be read.")
    return TicketCode(ticket, site_id, day)
