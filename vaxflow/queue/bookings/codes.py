"""What a booking QR holds: a signed booking, a plain code, or a URL with the code inside."""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

from vaxflow.queue.bookings.signed_qr import looks_signed
from vaxflow.queue.core.errors import Invalid
from vaxflow.queue.core.scanned import clean_scan

_CODE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


@dataclass(frozen=True)
class ScannedBooking:
    """A scan, sorted: either the signed text to verify, or a code to look up."""

    signed: str | None = None
    code: str | None = None


def read_booking_scan(text: str, url_params: list[str]) -> ScannedBooking:
    """Sort a scanned booking QR; refuse what is none of the three forms with a clear reason."""
    raw = clean_scan(text)
    if not raw:
        raise Invalid("bad_booking_code", "The booking code is empty.")
    if looks_signed(raw):
        return ScannedBooking(signed=raw)
    if _CODE.match(raw):
        return ScannedBooking(code=raw)
    if raw.lower().startswith(("http://", "https://")) and len(raw) <= 2000:
        parts = urlsplit(raw)
        query = parse_qs(parts.query)
        for name in url_params:
            for value in query.get(name, []):
                if _CODE.match(value):
                    return ScannedBooking(code=value)
        last = parts.path.rstrip("/").rsplit("/", 1)[-1]
        if _CODE.match(last):
            return ScannedBooking(code=last)
    raise Invalid("bad_booking_code", "This QR code is not a booking code.")
