"""Signed, self-contained booking QR codes for sites without a booking service.

Payload: ``VXB1.<key id>.<body>.<signature>``: the body is the booking's fields joined by
``|`` in UTF-8, base64url without padding, and the Ed25519 signature covers
``VXB1.<key id>.<body>``. Plain ASCII, so any scanner delivers it unchanged.

Body fields: code, name, id_type, id_number, site, visit day (YYYYMMDD), window (HHMM-HHMM),
product, dose number, and - when the person had earlier doses - a tenth field with every
earlier dose in the text form of `history.py` (``2021-03-01:CORONAVAC:Sinovac;...``).
A nine-field body (no earlier doses, or an older issuer) is still read. An eleventh field
holds the health questions answered in the booking app (``fever=no;allergy=no``; the tenth
is then present, empty without earlier doses).
"""

from __future__ import annotations

import base64
import binascii
import re
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from vaxflow.queue.core.booking import Booking, PriorDose, format_answers, parse_answers
from vaxflow.queue.core.errors import Invalid, Refused
from vaxflow.queue.core.history import BadHistory, format_history, parse_history

PREFIX = "VXB1"
MAX_LENGTH = 1000
_KID = re.compile(r"^[A-Za-z0-9_-]{1,20}$")
_WINDOW = re.compile(r"^(\d{2})(\d{2})-(\d{2})(\d{2})$")


def looks_signed(text: str) -> bool:
    return text.strip().startswith(PREFIX + ".")


def new_key() -> tuple[str, str]:
    """A fresh key pair as (private, public), both base64 of the raw 32 bytes."""
    private = Ed25519PrivateKey.generate()
    raw_private = private.private_bytes_raw()
    raw_public = private.public_key().public_bytes_raw()
    return base64.b64encode(raw_private).decode(), base64.b64encode(raw_public).decode()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    if not re.fullmatch(r"[A-Za-z0-9_-]*", text):
        raise ValueError("not base64url")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def sign(booking: Booking, private_key_b64: str, kid: str, timezone: str) -> str:
    """The QR text for a booking (issuing side: the booking app, or `vaxflow bookings sign`)."""
    if not _KID.match(kid):
        raise Invalid("bad_key_id", "A key id is 1-20 letters, digits, - or _.")
    zone = ZoneInfo(timezone)
    if booking.window_start is None or booking.window_end is None:
        raise Invalid("window_required", "A signed booking needs its time window.")
    window = (
        f"{booking.window_start.astimezone(zone):%H%M}-{booking.window_end.astimezone(zone):%H%M}"
    )
    fields = [
        booking.code,
        booking.person_name,
        booking.id_type,
        booking.id_number,
        booking.site_id,
        f"{booking.visit_date:%Y%m%d}",
        window,
        booking.product,
        str(booking.dose_number),
    ]
    if booking.prior_doses or booking.answers:
        try:
            fields.append(format_history(booking.prior_doses))
        except ValueError as err:
            raise Invalid("bad_field", str(err)) from None
    if booking.answers:
        fields.append(format_answers(booking.answers))
    if any("|" in f for f in fields):
        raise Invalid("bad_field", "Booking fields may not contain '|'.")
    body = _b64("|".join(fields).encode("utf-8"))
    try:
        key = Ed25519PrivateKey.from_private_bytes(base64.b64decode(private_key_b64, validate=True))
    except (binascii.Error, ValueError) as err:
        raise Invalid("bad_private_key", "The private key is not a base64 Ed25519 key.") from err
    signed = f"{PREFIX}.{kid}.{body}"
    text = f"{signed}.{_b64(key.sign(signed.encode('ascii')))}"
    if len(text) > MAX_LENGTH:
        raise Invalid("bad_field", f"The booking does not fit a {MAX_LENGTH}-character code.")
    return text


def verify(
    text: str, public_keys: dict[str, str], site_id: str, timezone: str, today: date
) -> Booking:
    """Check a scanned QR and return its booking, or refuse with a distinct reason."""
    text = text.strip()
    if len(text) > MAX_LENGTH:
        raise Invalid("qr_malformed", "This booking code is too long to be ours.")
    parts = text.split(".")
    if len(parts) != 4 or parts[0] != PREFIX or not _KID.match(parts[1]):
        raise Invalid("qr_malformed", "This booking code cannot be read.")
    _, kid, body, signature = parts
    key_text = public_keys.get(kid)
    if key_text is None:
        raise Refused("qr_unknown_key", "This booking code was issued by an unknown issuer.")
    try:
        raw_signature = _unb64(signature)
        raw_body = _unb64(body)
    except (ValueError, binascii.Error):
        raise Invalid("qr_malformed", "This booking code cannot be read.") from None
    key = Ed25519PublicKey.from_public_bytes(base64.b64decode(key_text))
    try:
        key.verify(raw_signature, f"{PREFIX}.{kid}.{body}".encode("ascii"))
    except InvalidSignature:
        raise Refused("qr_tampered", "This booking code has been altered or forged.") from None
    booking = _parse_body(raw_body, timezone)
    if booking.site_id != site_id:
        raise Refused(
            "qr_wrong_site",
            "This booking is for another vaccination site.",
            booked_site=booking.site_id,
        )
    if booking.visit_date < today:
        raise Refused(
            "qr_expired",
            "This booking was for an earlier day.",
            booking_date=booking.visit_date.isoformat(),
        )
    return booking


def _parse_body(raw: bytes, timezone: str) -> Booking:
    """Fields of a correctly signed body; a signed but malformed body is still refused."""
    try:
        fields = raw.decode("utf-8").split("|")
        answers = parse_answers(fields.pop()) if len(fields) == 11 else ()
        history = fields.pop() if len(fields) == 10 else ""
        code, name, id_type, id_number, site, day_text, window, product, dose = fields
        day = datetime.strptime(day_text, "%Y%m%d").date()
        match = _WINDOW.match(window)
        if match is None:
            raise ValueError(window)
        h1, m1, h2, m2 = (int(g) for g in match.groups())
        zone = ZoneInfo(timezone)
        start = datetime.combine(day, time(h1, m1), zone)
        end = datetime.combine(day, time(h2, m2), zone)
        dose_number = int(dose)
        prior: tuple[PriorDose, ...] = parse_history(history, visit_date=day)
    except (ValueError, UnicodeDecodeError, BadHistory):
        raise Invalid("qr_malformed", "This booking code's contents cannot be read.") from None
    return Booking(
        code=code,
        person_name=name,
        id_type=id_type,
        id_number=id_number,
        site_id=site,
        visit_date=day,
        product=product,
        dose_number=dose_number,
        window_start=start,
        window_end=end,
        prior_doses=prior,
        source="qr",
        answers=answers,
    )
