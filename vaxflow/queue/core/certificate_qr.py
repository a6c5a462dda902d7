"""A vaccination certificate's QR that anyone can verify offline (Ed25519, as booking QRs).

Payload: ``VXC1.<key id>.<body>.<signature>``; the body is the certificate's fields joined by
``|`` in UTF-8, base64url without padding, and the signature covers ``VXC1.<key id>.<body>``.
Fields: the name masked as on the certificate, product, manufacturer, lot, dose number, the
day (YYYYMMDD), the site id and the dose's key (`{site}/{dose id}`, as the registry has it).
A verifier holds the sites' public keys by key id, each with the site it belongs to, and
says valid, or refuses with one reason: unreadable, unknown key, tampered (the signature
does not match), or another site's key (a valid signature by a key of a site other than
the one the certificate names).
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from vaxflow.queue.core.errors import Refused

PREFIX = "VXC1"
MAX_LENGTH = 1200
FIELDS = 8
_KID = re.compile(r"^[A-Za-z0-9_-]{1,40}$")
_B64 = re.compile(r"^[A-Za-z0-9_-]*$")


@dataclass(frozen=True)
class Certificate:
    """What a certificate's QR says."""

    name: str  # masked, as printed
    product: str
    manufacturer: str
    lot: str
    dose_number: int
    given_on: date
    site_id: str
    dose_key: str

    def shown(self) -> dict[str, str | int]:
        """What a verifier shows (the server's answer and the CLI's JSON use the same keys)."""
        return {
            "name": self.name,
            "product": self.product,
            "manufacturer": self.manufacturer,
            "lot": self.lot,
            "dose_number": self.dose_number,
            "date": self.given_on.isoformat(),
            "site": self.site_id,
            "dose": self.dose_key,
        }


@dataclass(frozen=True)
class SiteKey:
    """A public key a verifier trusts, and the site it belongs to."""

    site_id: str
    public_key: str  # base64 of the raw 32 bytes


class CertificateRefused(Refused):
    """The QR is not a valid certificate; `reason` says why."""


def new_key() -> tuple[str, str]:
    """A fresh key pair as (private, public), both base64 of the raw 32 bytes."""
    private = Ed25519PrivateKey.generate()
    return (
        base64.b64encode(private.private_bytes_raw()).decode(),
        base64.b64encode(private.public_key().public_bytes_raw()).decode(),
    )


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    if not _B64.match(text):
        raise ValueError("not base64url")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def sign(certificate: Certificate, private_key_b64: str, kid: str) -> str:
    """The QR text of a certificate, signed with the site's key."""
    if not _KID.match(kid):
        raise ValueError("a key id is 1-40 letters, digits, - or _")
    fields = [
        certificate.name,
        certificate.product,
        certificate.manufacturer,
        certificate.lot,
        str(certificate.dose_number),
        f"{certificate.given_on:%Y%m%d}",
        certificate.site_id,
        certificate.dose_key,
    ]
    if any("|" in f for f in fields):
        raise ValueError("a certificate field holds |")
    key = Ed25519PrivateKey.from_private_bytes(base64.b64decode(private_key_b64))
    head = f"{PREFIX}.{kid}.{_b64('|'.join(fields).encode())}"
    return f"{head}.{_b64(key.sign(head.encode('ascii')))}"


def _unreadable() -> CertificateRefused:
    return CertificateRefused("certificate_unreadable", "This is not a vaccination certificate.")


def parse(text: str) -> tuple[str, str, bytes, bytes]:
    """(key id, signed head, body, signature) of a QR text; refused when not readable."""
    text = text.strip()
    if len(text) > MAX_LENGTH or not text.startswith(PREFIX + "."):
        raise _unreadable()
    parts = text.split(".")
    if len(parts) != 4 or not _KID.match(parts[1]):
        raise _unreadable()
    try:
        body, signature = _unb64(parts[2]), _unb64(parts[3])
    except (ValueError, binascii.Error):
        raise _unreadable() from None
    return parts[1], ".".join(parts[:3]), body, signature


def _fields(body: bytes) -> Certificate:
    try:
        fields = body.decode("utf-8").split("|")
        if len(fields) != FIELDS:
            raise ValueError("field count")
        name, product, manufacturer, lot, dose, day, site_id, dose_key = fields
        number = int(dose)
        if not 1 <= number <= 10:
            raise ValueError("dose number")
        given_on = datetime.strptime(day, "%Y%m%d").date()
    except (UnicodeDecodeError, ValueError):
        raise _unreadable() from None
    return Certificate(name, product, manufacturer, lot, number, given_on, site_id, dose_key)


def verify(text: str, keys: Mapping[str, SiteKey]) -> Certificate:
    """The certificate a QR text holds, if a trusted key signed it for its own site."""
    kid, head, body, signature = parse(text)
    key = keys.get(kid)
    if key is None:
        raise CertificateRefused(
            "certificate_unknown_key", "This certificate was signed with a key we do not know."
        )
    try:
        public = Ed25519PublicKey.from_public_bytes(base64.b64decode(key.public_key))
        public.verify(signature, head.encode("ascii"))
    except (InvalidSignature, ValueError, binascii.Error):
        raise CertificateRefused(
            "certificate_tampered", "This certificate has been changed since it was signed."
        ) from None
    certificate = _fields(body)
    if certificate.site_id != key.site_id:
        raise CertificateRefused(
            "certificate_wrong_site", "This certificate was signed with another site's key."
        )
    return certificate


@dataclass(frozen=True)
class CertificateKeys:
    """The site's signing key (if any) and every key its verifier trusts."""

    private_key: str | None = None
    key_id: str | None = None
    site_id: str = ""
    trust: dict[str, SiteKey] = field(default_factory=dict)

    def sign(self, certificate: dict[str, Any], dose_key: str) -> str | None:
        """The signed QR text of an exit certificate (None without a key)."""
        if self.private_key is None or self.key_id is None:
            return None
        shown = Certificate(
            certificate["name"],
            certificate["product_code"],
            certificate["manufacturer"],
            certificate["lot"],
            certificate["dose_number"],
            date.fromisoformat(certificate["date"]),
            self.site_id,
            dose_key,
        )
        return sign(shown, self.private_key, self.key_id)
