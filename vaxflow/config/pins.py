"""Staff PINs and badge codes as salted scrypt hashes: the site file never holds them in clear.

A hash string is `scrypt$N$r$p$<salt base64>$<hash base64>` (hashlib.scrypt, standard library),
so the parameters travel with the hash and can be raised later without breaking old entries.
PINs get a random salt each. Badges get a salt derived from the site id instead, because a
badge scan must find its owner among all staff with one scrypt computation, not one per person.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
from dataclasses import dataclass

SCHEME = "scrypt"
#: Cost parameters of new hashes: about 16 MiB and a few tens of milliseconds per check.
N, R, P = 16384, 8, 1
SALT_BYTES = 16
HASH_BYTES = 32
PIN_MIN_DIGITS = 4
PIN_MAX_DIGITS = 12
BADGE_MIN_CHARS = 4
BADGE_MAX_CHARS = 128


class HashFormatError(ValueError):
    """A hash string that `vaxflow staff hash-pin` / `hash-badge` did not make."""


class WeakSecret(ValueError):
    """A PIN or badge code that may not be used; the message says why, in Chinese and English."""


@dataclass(frozen=True)
class ScryptHash:
    """A parsed hash string."""

    n: int
    r: int
    p: int
    salt: bytes
    digest: bytes

    def __str__(self) -> str:
        salt = base64.b64encode(self.salt).decode()
        digest = base64.b64encode(self.digest).decode()
        return f"{SCHEME}${self.n}${self.r}${self.p}${salt}${digest}"


def parse_hash(text: str) -> ScryptHash:
    """Parse and check a hash string; the error says what is wrong without echoing it."""
    parts = text.split("$")
    if len(parts) != 6 or parts[0] != SCHEME:
        raise HashFormatError(
            "is not a hash made by `vaxflow staff hash-pin` or `hash-badge` "
            "(expected scrypt$16384$8$1$<salt>$<hash>)"
        )
    try:
        n, r, p = int(parts[1]), int(parts[2]), int(parts[3])
    except ValueError:
        raise HashFormatError("has scrypt parameters that are not numbers") from None
    if n < 1024 or n > 1 << 20 or n & (n - 1):
        raise HashFormatError(f"has scrypt N={n}; use a power of two from 1024 to 1048576")
    if not 1 <= r <= 32 or not 1 <= p <= 16:
        raise HashFormatError(f"has scrypt r={r}, p={p}; r must be 1-32 and p 1-16")
    try:
        salt = base64.b64decode(parts[4], validate=True)
        digest = base64.b64decode(parts[5], validate=True)
    except (binascii.Error, ValueError):
        raise HashFormatError("has a salt or hash that is not base64") from None
    if len(salt) < 8:
        raise HashFormatError("has a salt shorter than 8 bytes")
    if not 16 <= len(digest) <= 64:
        raise HashFormatError("has a hash that is not 16 to 64 bytes long")
    return ScryptHash(n, r, p, salt, digest)


def _scrypt(secret: str, n: int, r: int, p: int, salt: bytes, length: int) -> bytes:
    return hashlib.scrypt(
        secret.encode("utf-8"),
        salt=salt,
        n=n,
        r=r,
        p=p,
        dklen=length,
        maxmem=min(2**31 - 1, 132 * n * r * p + (1 << 22)),
    )


def check_pin(pin: str) -> str:
    """The PIN if it may be used: digits only, 4 to 12 of them."""
    if not pin.isascii() or not pin.isdigit():
        raise WeakSecret("PIN 只能是数字 The PIN must be digits only")
    if len(pin) < PIN_MIN_DIGITS:
        raise WeakSecret(
            f"PIN 至少 {PIN_MIN_DIGITS} 位 The PIN must have at least {PIN_MIN_DIGITS} digits"
        )
    if len(pin) > PIN_MAX_DIGITS:
        raise WeakSecret(
            f"PIN 最多 {PIN_MAX_DIGITS} 位 The PIN may have at most {PIN_MAX_DIGITS} digits"
        )
    return pin


def check_badge(badge: str) -> str:
    """The badge code, trimmed (a scanner may add spaces), if it is long enough to be a badge."""
    badge = badge.strip()
    if not BADGE_MIN_CHARS <= len(badge) <= BADGE_MAX_CHARS or not badge.isprintable():
        raise WeakSecret(
            f"工牌码应为 {BADGE_MIN_CHARS}-{BADGE_MAX_CHARS} 个可打印字符 "
            f"A badge code is {BADGE_MIN_CHARS} to {BADGE_MAX_CHARS} printable characters"
        )
    return badge


def hash_pin(pin: str, *, n: int = N, r: int = R, p: int = P) -> str:
    """A new hash string of a PIN, with a fresh random salt."""
    check_pin(pin)
    salt = secrets.token_bytes(SALT_BYTES)
    return str(ScryptHash(n, r, p, salt, _scrypt(pin, n, r, p, salt, HASH_BYTES)))


def badge_salt(site_id: str) -> bytes:
    """The one salt of a site's badges (see the module docstring for why it is shared)."""
    return hashlib.sha256(b"vaxflow-badge:" + site_id.encode("utf-8")).digest()[:SALT_BYTES]


def hash_badge(badge: str, site_id: str, *, n: int = N, r: int = R, p: int = P) -> str:
    """The hash string of a badge code for one site."""
    badge = check_badge(badge)
    salt = badge_salt(site_id)
    return str(ScryptHash(n, r, p, salt, _scrypt(badge, n, r, p, salt, HASH_BYTES)))


def derive(secret: str, like: ScryptHash) -> bytes:
    """The digest `secret` would have under `like`'s parameters and salt."""
    return _scrypt(secret, like.n, like.r, like.p, like.salt, len(like.digest))


def verify(secret: str, stored: str | ScryptHash) -> bool:
    """Whether `secret` matches a hash string; the comparison takes constant time."""
    parsed = parse_hash(stored) if isinstance(stored, str) else stored
    return hmac.compare_digest(derive(secret, parsed), parsed.digest)
