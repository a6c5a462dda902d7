"""Who may see which event of the feed: the public board, staff consoles, the marshal. Pure.

A public board (role `board`, a TV anyone walks past) sees only what it shows: tickets,
masked names, where to go, countdowns, and "flagged" without the reaction; never staff
events, identity checks, doctors' decisions or device reports. Staff consoles (station,
observer) see the visits' events in full but not the staff sign-in trail, which goes to the
marshal (and admin) only.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from vaxflow.queue.core.events import EventKind


class Audience(StrEnum):
    """One encoding of the feed per audience: each batch is encoded once for each."""

    PUBLIC = "public"
    STAFF = "staff"
    MARSHAL = "marshal"


_AUDIENCE_OF_ROLE = {
    "board": Audience.PUBLIC,
    "station": Audience.STAFF,
    "observer": Audience.STAFF,
    "kiosk": Audience.STAFF,
    "marshal": Audience.MARSHAL,
    "admin": Audience.MARSHAL,
}

#: The staff sign-in trail: for the marshal only.
STAFF_EVENTS = frozenset(
    {
        EventKind.STAFF_SIGNED_IN,
        EventKind.STAFF_SIGN_IN_FAILED,
        EventKind.STAFF_LOCKED,
        EventKind.STAFF_SIGNED_OUT,
        EventKind.STAFF_THROTTLE_CLEARED,
    }
)

#: What a public board receives: the walk's visible steps and the stations' states.
PUBLIC_EVENTS = frozenset(
    {
        EventKind.CHECKED_IN,
        EventKind.CANCELLED,
        EventKind.CALLED,
        EventKind.RECALLED,
        EventKind.SKIPPED,
        EventKind.NO_SHOW,
        EventKind.SERVICE_STARTED,
        EventKind.DOSED,
        EventKind.DEFERRED,
        EventKind.REFERRED,
        EventKind.ADVERSE_FLAGGED,
        EventKind.ADVERSE_RESOLVED,
        EventKind.ADVERSE_WITHDRAWN,
        EventKind.TRANSFERRED,
        EventKind.RELEASED,
        EventKind.LEFT_EARLY,
        EventKind.STATION_OPENED,
        EventKind.STATION_RESUMED,
        EventKind.STATION_PAUSED,
        EventKind.STATION_CLOSED,
    }
)

#: Payload keys a public board may receive (the masked visit, a station's state).
PUBLIC_KEYS = frozenset(
    {
        "visit_id",
        "ticket",
        "lane",
        "state",
        "product",
        "name",
        "station_id",
        "station_name",
        "zone",
        "call_count",
        "ends_at",
        "adverse_open",
    }
)


def audience_of(role: str) -> Audience:
    """The audience a role's feed is encoded for; an unknown role gets the narrowest."""
    return _AUDIENCE_OF_ROLE.get(role, Audience.PUBLIC)


def for_audience(event: dict[str, Any], audience: Audience) -> dict[str, Any] | None:
    """The event as `audience` may see it, or None when it must not see it at all."""
    if audience is Audience.MARSHAL:
        return event
    kind = event.get("kind")
    if kind in STAFF_EVENTS:
        return None
    if audience is Audience.STAFF:
        return event
    if kind not in PUBLIC_EVENTS:
        return None
    payload = event.get("payload") or {}
    return {
        "seq": event["seq"],
        "at": event["at"],
        "kind": kind,
        "visit_id": event.get("visit_id"),
        "payload": {k: v for k, v in payload.items() if k in PUBLIC_KEYS},
    }
