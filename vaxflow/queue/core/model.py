"""Domain model: visit and station lifecycles as enums with named state sets, and plain records."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum


class VisitState(StrEnum):
    """Where a person is on the walk through the site."""

    CHECKED_IN = "checked_in"
    CALLED = "called"
    SKIPPED = "skipped"
    RECALLED = "recalled"
    NO_SHOW = "no_show"
    IN_SERVICE = "in_service"
    OBSERVING = "observing"
    RELEASED = "released"
    DEFERRED = "deferred"
    REFERRED = "referred"
    LEFT_EARLY = "left_early"
    CANCELLED = "cancelled"
    TRANSFERRED = "transferred"


#: In the queue, not yet called.
WAITING_STATES = frozenset({VisitState.CHECKED_IN})
#: Called to a station and expected to walk there.
CALLED_STATES = frozenset({VisitState.CALLED, VisitState.RECALLED})
#: Holding a station: called, or being served.
AT_STATION_STATES = CALLED_STATES | {VisitState.IN_SERVICE}
#: Before the dose: the check-in may still be cancelled.
PRE_DOSE_STATES = WAITING_STATES | AT_STATION_STATES | {VisitState.SKIPPED}
#: Vaccinated and timed.
OBSERVATION_STATES = frozenset({VisitState.OBSERVING})
#: Nothing more happens to the visit.
FINAL_STATES = frozenset(
    {
        VisitState.NO_SHOW,
        VisitState.RELEASED,
        VisitState.DEFERRED,
        VisitState.REFERRED,
        VisitState.LEFT_EARLY,
        VisitState.CANCELLED,
        VisitState.TRANSFERRED,
    }
)
#: A dose was given in these states.
DOSED_STATES = OBSERVATION_STATES | {
    VisitState.RELEASED,
    VisitState.LEFT_EARLY,
    VisitState.TRANSFERRED,
}


class StationState(StrEnum):
    """An injection station's shift."""

    CLOSED = "closed"
    OPEN = "open"
    PAUSED = "paused"


class AdverseOutcome(StrEnum):
    """How staff closed an adverse-reaction flag."""

    RESOLVED = "resolved"
    TRANSFERRED = "transferred"
    #: Flagged by mistake and taken back by the same device within `WITHDRAW_SECONDS`: the
    #: reaction never happened (registries and reports leave it out). Not a staff outcome.
    WITHDRAWN = "withdrawn"


#: How long (in seconds) the device that flagged a reaction may take it back.
WITHDRAW_SECONDS = 60


@dataclass(frozen=True)
class Visit:
    """One person's visit on one site day; the ticket is its public name."""

    id: int
    site_id: str
    site_day: date
    ticket: str
    lane: str
    state: VisitState
    product: str
    dose_number: int
    person_name: str
    id_number: str
    birth_date: date | None
    booking_code: str | None
    walk_in: bool
    checked_in_at: datetime
    call_count: int = 0
    called_at: datetime | None = None
    station_id: str | None = None
    service_started_at: datetime | None = None
    dosed_at: datetime | None = None
    observation_minutes: int | None = None
    observation_ends_at: datetime | None = None
    finished_at: datetime | None = None
    adverse_open: bool = False
    print_failed: bool = False
    reason: str | None = None
    id_type: str | None = None
    sex: str | None = None
    screening: str | None = None  # JSON: {question id: answer}
    consent_version: str | None = None
    review_reasons: str | None = None  # JSON: [reason codes] that sent them to review
    dose_kind: str | None = None  # primary | booster, as the schedule decided (None: before it)
    schedule_notes: str | None = None  # JSON: [{code, params}] for the station ("overdue")


@dataclass(frozen=True)
class StationStatus:
    """A station's live state; `visit_id` is the person it is calling or serving."""

    site_id: str
    station_id: str
    state: StationState
    product: str | None = None
    lot: str | None = None
    vaccinator: str | None = None
    visit_id: int | None = None
    changed_at: datetime | None = None


@dataclass(frozen=True)
class LaneHead:
    """The first waiting person of one lane that a station could serve."""

    visit_id: int
    lane: str
    checked_in_at: datetime
