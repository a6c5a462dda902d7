"""Bearer tokens to roles: every request names who acts, for the audit trail."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from typing import TYPE_CHECKING

from aiohttp import web

from vaxflow.config import Settings
from vaxflow.config.schema import Role
from vaxflow.queue.api.wire import WS_PROTOCOL_PREFIX

if TYPE_CHECKING:
    from vaxflow.queue.core.staff_auth import StaffSession


@dataclass(frozen=True)
class Principal:
    """Who is calling: a role, and an actor id that names the token without revealing it;
    with a signed-in person, the actor is `staff:<id>` and `staff` their session."""

    role: Role
    actor: str
    device: str | None
    staff: StaffSession | None = None
    station: str | None = None
    """The station a station's own device token names; None for a shared token."""
    shared: bool = True
    """A shared role token (it names no device): the device is only what the caller says."""

    def limit_key(self, *, demo: bool = False) -> str:
        """What rate limits, sign-in throttles and socket caps count by: the token's device.
        A shared token counts as one device whatever X-Device-Id it sends, except on a demo
        site, whose simulated kiosks share one token and say which they are."""
        if not self.shared:
            return f"device:{self.device}"
        return f"{self.actor}/{self.device}" if demo else self.actor


@dataclass(frozen=True)
class _Grant:
    role: Role
    device: str | None  # a device token's name
    station: str | None


class TokenTable:
    """Constant-time lookup of a token's role, and for a device token, which device it is."""

    def __init__(self, settings: Settings) -> None:
        self._digests: dict[bytes, _Grant] = {}
        for role, tokens in settings.tokens.items():
            for token in tokens:
                self._digests[_digest(token)] = _Grant(role, None, None)
        for name, device in settings.device_tokens.items():
            self._digests[_digest(device.token)] = _Grant(device.kind, name, device.station)

    def principal(self, token: str, device: str | None) -> Principal | None:
        """Who a token is; `device` (X-Device-Id) is believed only for a shared token."""
        digest = _digest(token)
        found: _Grant | None = None
        for known, grant in self._digests.items():
            if hmac.compare_digest(known, digest):
                found = grant
        if found is None:
            return None
        if found.device is not None:
            return Principal(
                found.role, f"{found.role}:{found.device}", found.device, None, found.station, False
            )
        return Principal(found.role, f"{found.role}:{digest.hex()[:8]}", device)


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8")).digest()


def bearer_token(request: web.Request, *, websocket: bool = False) -> str | None:
    """The token from `Authorization: Bearer ...`, or on the WebSocket route only from a
    `bearer.TOKEN` subprotocol (browsers cannot set headers on a WebSocket)."""
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    if not websocket:
        return None
    for protocol in request.headers.get("Sec-WebSocket-Protocol", "").split(","):
        protocol = protocol.strip()
        if protocol.startswith(WS_PROTOCOL_PREFIX):
            return protocol[len(WS_PROTOCOL_PREFIX) :]
    return None


def device_name(request: web.Request) -> str | None:
    """The optional `X-Device-Id` header (kiosk-07, station S05), trimmed to a sane length."""
    value = request.headers.get("X-Device-Id", "").strip()
    return value[:64] or None
