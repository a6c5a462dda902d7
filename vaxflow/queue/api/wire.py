"""Wire constants the server and its clients both speak."""

from __future__ import annotations

#: A WebSocket client sends its token as the subprotocol `bearer.<token>` (browsers cannot
#: set an Authorization header on an upgrade).
WS_PROTOCOL_PREFIX = "bearer."
