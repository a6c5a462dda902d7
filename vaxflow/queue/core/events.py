"""Every kind of event the site records: one list, so a typo is an error and not a new kind.

The values are the strings stored in the `events` table and sent on the live feed, unchanged
from before the enum (old databases, the boards' JavaScript and other clients keep working).
`Tx.emit` accepts members only. A visit's outcome events share their names with the visit
states they end in (`deferred`, `referred`, `no_show`, ...).
"""

from __future__ import annotations

from enum import StrEnum


class EventKind(StrEnum):
    """What happened; the `kind` column of the audit trail and of feed messages."""

    # a visit's walk through the site
    CHECKED_IN = "checked_in"
    CANCELLED = "cancelled"
    PRINTED = "printed"
    PRINT_FAILED = "print_failed"
    BIRTH_DATE_CONFIRMED = "birth_date_confirmed"
    ID_ENTERED_AT_DESK = "id_entered_at_desk"
    GUARDIAN_CONSENTED = "guardian_consented"
    CALLED = "called"
    RECALLED = "recalled"
    SKIPPED = "skipped"
    NO_SHOW = "no_show"
    SERVICE_STARTED = "service_started"
    IDENTITY_VERIFIED = "identity_verified"
    IDENTITY_MISMATCH = "identity_mismatch"
    DOCTOR_DECISION = "doctor_decision"
    DOSED = "dosed"
    DEFERRED = "deferred"
    REFERRED = "referred"
    ADVERSE_FLAGGED = "adverse_flagged"
    ADVERSE_RESOLVED = "adverse_resolved"
    DOSE_STRUCK = "dose_struck"  # a dose given in error struck out; payload: reason (issue 15)
    ADVERSE_WITHDRAWN = "adverse_withdrawn"  # flagged by mistake, taken back within a minute
    TRANSFERRED = "transferred"
    RELEASED = "released"
    LEFT_EARLY = "left_early"
    # the exit's certificates
    CERTIFICATE_QUEUED = "certificate_queued"
    CERTIFICATE_PRINTED = "certificate_printed"
    CERTIFICATE_PRINT_FAILED = "certificate_print_failed"
    # stations
    STATION_OPENED = "station_opened"
    STATION_RESUMED = "station_resumed"
    STATION_PAUSED = "station_paused"
    STATION_CLOSED = "station_closed"
    # the site
    BOOKINGS_IMPORTED = "bookings_imported"
    WALK_IN_CAPACITY_SET = "walk_in_capacity_set"
    DEVICE_HEALTH = "device_health"
    DAY_CLOSED = "day_closed"  # staff closed the site day; payload: day (issue 18)
    DAY_OPENED = "day_opened"  # staff opened the next site day early; payload: day
    # staff sign-in (read back after a restart, see staff_auth.restore)
    STAFF_SIGNED_IN = "staff_signed_in"
    STAFF_SIGN_IN_FAILED = "staff_sign_in_failed"
    STAFF_LOCKED = "staff_locked"
    STAFF_SIGNED_OUT = "staff_signed_out"
    STAFF_THROTTLE_CLEARED = "staff_throttle_cleared"


#: The feed's message after the backlog: "caught up, live from here". Not an event kind.
LIVE = "live"

#: Events that call a person to a station (set a visit's `called_at`).
CALLS = frozenset({EventKind.CALLED, EventKind.RECALLED})
#: Events after which a called person has reached the station (or will not come).
ARRIVALS = frozenset(
    {
        EventKind.SERVICE_STARTED,
        EventKind.SKIPPED,
        EventKind.NO_SHOW,
        EventKind.CANCELLED,
        EventKind.DEFERRED,
        EventKind.REFERRED,
        EventKind.DOSED,
    }
)
#: Events that end an observation.
OBSERVATION_ENDS = frozenset({EventKind.RELEASED, EventKind.LEFT_EARLY, EventKind.TRANSFERRED})
#: A certificate print's events at the exit.
CERTIFICATES = (
    EventKind.CERTIFICATE_QUEUED,
    EventKind.CERTIFICATE_PRINTED,
    EventKind.CERTIFICATE_PRINT_FAILED,
)
