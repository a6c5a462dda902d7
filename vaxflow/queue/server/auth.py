"""Bearer tokens to roles: every request names who acts, for the audit trail."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from typing import TYPE_CHECKING

from aiohttp import web

from vaxflow.config import Settings
from vaxflow.config.schema import Role

if TYPE_CHECKING:
    from vaxflow.queue.core.staff_auth import StaffSession

WS_PROTOCOL_PREFIX = "bearer."


@dataclass(frozen=True)
class Principal:
    """Who is calling: a role, and an actor id that names the token without revealing it;
    with a signed-in person, the actor is `staff:<id>` and `staff` their session."""

    role: Role
    actor: str
    device: str | None
    staff: StaffSession | None = None


class TokenTable:
    """Constant-time lookup of a token's role."""

    def __init__(self, settings: Settings) -> None:
        self._digests: dict[bytes, Role] = {}
        for role, tokens in settings.tokens.items():
            for token in tokens:
                self._digests[_digest(token)] = role

    def principal(self, token: str, device: str | None) -> Principal | None:
        digest = _digest(token)
        for known, role in self._digests.items():
            if hmac.compare_digest(known, digest):
                return Principal(role, f"{role}:{digest.hex()[:8]}", device)
        return None


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8")).digest()


def bearer_token(request: web.Request) -> str | None:
    """The token from `Authorization: Bearer ...`, or from a `bearer.TOKEN` WebSocket subprotocol
    (browsers cannot set headers on a WebSocket)."""
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    for protocol in request.headers.get("Sec-WebSocket-Protocol", "").split(","):
        protocol = protocol.strip()
        if protocol.startswith(WS_PROTOCOL_PREFIX):
            return protocol[len(WS_PROTOCOL_PREFIX) :]
    return None


def device_name(request: web.Request) -> str | None:
    """The optional `X-Device-Id` header (kiosk-07, station S05), trimmed to a sane length."""
    value = request.headers.get("X-Device-Id", "").strip()
    return value[:64] or None
