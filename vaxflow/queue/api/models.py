"""Request and response bodies of the site API; the OpenAPI document is built from them."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from vaxflow.queue.core.model import AdverseOutcome, VisitState
from vaxflow.queue.core.scanned import clean_optional_scan

#: Largest row id the store hands out (SQLite and PostgreSQL integers are 64-bit; ids are
#: far below this), so a path or body number beyond it is refused instead of overflowing.
MAX_ID = 2**31 - 1
#: Scanned text in its one form (full-width folded, IME punctuation, spaces removed) before
#: the field's own checks: every scanner path gives the same code.
_SCANNED = BeforeValidator(clean_optional_scan)


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class WalkInBody(_Body):
    """A person without a booking, from their ID card."""

    name: str = Field(min_length=1, max_length=100)
    id_number: str = Field(min_length=1, max_length=40)
    id_type: str = Field(default="cn_resident", max_length=20)
    birth_date: date | None = None
    sex: Literal["male", "female", "unknown"] | None = None
    product: str | None = Field(default=None, max_length=40)
    dose_number: int | None = Field(default=None, ge=1, le=10)
    """The dose the person says this is; the server decides it from the dose history."""


class IdCardBody(_Body):
    """What the ID-card reader read (or staff typed from a passport)."""

    id_type: str = Field(default="cn_resident", max_length=20)
    id_number: str = Field(min_length=1, max_length=40)
    name: str = Field(min_length=1, max_length=100)
    birth_date: date | None = None
    sex: Literal["male", "female", "unknown"] | None = None


class GuardianBody(_Body):
    """A minor's guardian: their own document (read by the same reader), how they are
    related to the child, and the consent version they agreed to for the child."""

    id_type: str = Field(default="cn_resident", max_length=20)
    id_number: str = Field(min_length=1, max_length=40)
    name: str = Field(min_length=1, max_length=100)
    birth_date: date | None = None
    """Taken only at the staff desk, for a document that shows no birth date (passport)."""
    sex: Literal["male", "female", "unknown"] | None = None
    """As the reader read it; not stored."""
    relation: (
        Literal["parent", "legal_guardian", "grandparent", "adult_sibling", "other_relative"] | None
    ) = None
    consent_version: str | None = Field(default=None, max_length=40)


class PrecheckRequest(_Body):
    """A booking (scanned QR text, or a code) with the ID card, or a walk-in person;
    for a minor, the guardian once the kiosk has read their card."""

    booking_qr: Annotated[str | None, _SCANNED] = Field(default=None, min_length=1, max_length=2000)
    booking_code: Annotated[str | None, _SCANNED] = Field(
        default=None, pattern=r"^[A-Za-z0-9_-]{1,64}$"
    )
    id_card: IdCardBody | None = None
    walk_in: WalkInBody | None = None
    guardian: GuardianBody | None = None


class CheckInRequest(PrecheckRequest):
    """The precheck's fields plus the health answers and the consent version agreed to."""

    answers: dict[str, bool] | None = Field(default=None, max_length=50)
    consent_version: str | None = Field(default=None, max_length=40)


class DeskCheckInRequest(CheckInRequest):
    """A check-in typed by signed-in staff at the desk: a child's number from the household
    register (户口本) in `id_card` or `walk_in`, or a guardian whose document has no birth date."""

    id_source: Literal["household_register", "id_card"] = "household_register"


class PrecheckResponse(BaseModel):
    eligible: bool
    person: dict[str, object]
    product: str
    product_name: str
    product_names: dict[str, str] = {}
    """The product's name per language when the site file gives them (else product_name)."""
    dose_number: int
    """Decided from the dose history and the site's policy, not from the claim."""
    dose_kind: Literal["primary", "booster"]
    claimed_dose_number: int | None
    """What the booking or the kiosk said, when it said anything."""
    earlier_doses: list[dict[str, object]]
    """The earlier doses that counted: given_on, product, manufacturer, kind, dose_number."""
    not_counted: list[dict[str, object]]
    """Earlier doses on record that did not count, each with why."""
    walk_in: bool
    booking_found_by_id: bool = False
    """A card-only (walk-in) request found the person's booking for today by the ID number."""
    booking_code: str | None = None
    """The booking checked in, masked (`****0012`)."""
    history: list[dict[str, object]] = []
    """Every earlier dose: date, product, manufacturer, source and all sources that reported it."""
    review: list[dict[str, object]]
    notes: list[dict[str, object]]
    """Notes for the station that change no lane, e.g. an overdue dose."""
    questions: list[dict[str, object]]
    booked_answers: dict[str, bool] | None = None
    """The booking app's answers to every question (id -> yes), to confirm on one screen."""
    consent: dict[str, object]
    minor: bool = False
    guardian_required: bool = False
    """A minor: the kiosk reads the guardian's card and asks the relation before the questions."""
    guardian: dict[str, object] | None = None


class CancelRequest(_Body):
    reason: str = Field(default="cancelled", max_length=200)


class BirthDateRequest(_Body):
    birth_date: date
    """As read from the passport or permit by staff at the desk (ISO date)."""


class PrintStatusRequest(_Body):
    ok: bool
    reason: str = Field(default="", max_length=60)


class OpenStationRequest(_Body):
    product: str = Field(min_length=1, max_length=40)
    lot: str = Field(min_length=1, max_length=40)
    vaccinator: str | None = Field(default=None, min_length=1, max_length=100)
    """Who signs the doses; a signed-in staff member's name replaces it."""


class RecallRequest(_Body):
    visit_id: int | None = Field(default=None, ge=1, le=MAX_ID)


class TicketScanRequest(_Body):
    """A scanned ticket QR payload or a typed ticket number such as A023."""

    code: Annotated[str, _SCANNED] = Field(min_length=1, max_length=120)


class DoseRequest(_Body):
    visit_id: int = Field(ge=1, le=MAX_ID)
    observation_minutes: int | None = Field(default=None, ge=0, le=240)


class StationOutcomeRequest(_Body):
    visit_id: int = Field(ge=1, le=MAX_ID)
    reason: str = Field(min_length=1, max_length=200)


class FlagRequest(_Body):
    kind: str = Field(min_length=1, max_length=60)
    severity: Literal["mild", "moderate", "severe"]
    notes: str = Field(default="", max_length=1000)


class ResolveRequest(_Body):
    # a withdrawal has its own route (the flagging device, within a minute)
    outcome: Literal[AdverseOutcome.RESOLVED, AdverseOutcome.TRANSFERRED]


class LeftEarlyRequest(_Body):
    reason: str = Field(default="left before the end of observation", max_length=200)


class DeviceHealthRequest(_Body):
    device_id: str = Field(min_length=1, max_length=64)
    kind: Literal["scanner", "idcard", "printer", "voice"]
    url: str = Field(max_length=200)
    state: Literal["ok", "warning", "fault", "offline", "unknown"]
    reason: str = Field(default="", max_length=60)
    detail: str = Field(default="", max_length=300)


class EmptyRequest(_Body):
    pass


class WalkInCapacityRequest(_Body):
    capacity: int = Field(ge=0, le=100_000)


class StaffSignInRequest(_Body):
    staff_id: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_-]{1,20}$")
    pin: str | None = Field(default=None, max_length=12)
    badge: str | None = Field(default=None, min_length=1, max_length=128)


class ThrottleClearRequest(_Body):
    staff_id: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_-]{1,20}$")
    """Clear this staff number's throttles at every device."""
    device: str | None = Field(default=None, min_length=1, max_length=80)
    """Clear this device's throttle (as named on the sign-in failure events)."""


class DecisionRequest(_Body):
    kind: Literal["manufacturer_switch"]
    """What is decided: completing the series with another manufacturer's product."""
    approve: bool
    """True: the dose may be given; False: the visit ends for today."""
    reason: str = Field(min_length=1, max_length=500)
    """The doctor's words, e.g. "first product unavailable at this site" (kept, not fed)."""


class VerifyRequest(_Body):
    code: str = Field(min_length=1, max_length=512)
    """The ticket's QR or number, or the ID card's number (typed, scanned or read)."""
    by: str = Field(default="scan", pattern=r"^(scan|typed|id_reader)$")
    """How the code was entered, for the audit trail."""


# --- responses (documented; handlers build plain dicts of the same shape) ----------------


class ErrorBody(BaseModel):
    reason: str
    message: str
    details: dict[str, object] | None = None


class ErrorResponse(BaseModel):
    error: ErrorBody


class VisitResponse(BaseModel):
    visit_id: int
    ticket: str
    lane: str
    state: VisitState
    product: str
    name: str
    station_id: str | None
    station_name: str | None
    zone: str | None
    call_count: int
    ends_at: str | None
    adverse_open: bool
    print_failed: bool
    site_day: str
    dose_number: int
    dose_kind: Literal["primary", "booster"] | None = None
    walk_in: bool
    checked_in_at: str
    id_number: str
    age: int | None
    dosed_at: str | None
    finished_at: str | None
    reason: str | None
    qr: str


class TicketResponse(VisitResponse):
    lane_name: str
    site_name: str
    estimated_wait_minutes: int


class SeatWarning(BaseModel):
    """The observation area is nearly full or full (observation_nearly_full, observation_full)."""

    reason: str
    observing: int
    seats: int
    messages: dict[str, str] = {}
    hints: dict[str, str] = {}


class CallResponse(BaseModel):
    called: VisitResponse | None
    warning: SeatWarning | None = None
    """Present when observation seats are nearly full or full (reason, observing, seats)."""


class ExitScanResponse(BaseModel):
    may_leave: bool
    remaining_seconds: int | None
    reason: str | None = None
    visit: VisitResponse


class StationResponse(BaseModel):
    station_id: str
    name: str
    zone: str
    products: list[str]
    state: str
    product: str | None
    lot: str | None
    vaccinator: str | None
    visit_id: int | None


class LaneStats(BaseModel):
    prefix: str
    name: str
    waiting: int
    estimated_wait_minutes: int


class StatsResponse(BaseModel):
    site_id: str
    site_day: str
    day_closed: bool = False
    """Staff closed the site day: no check-ins until the next day opens (issue 18)."""
    carried_over: int = 0
    """Unfinished visits of the day before, carried over at the day's turn (issue 18): they
    are not in `by_state` (the open day's), their waiting people are in `waiting`."""
    at: str
    checked_in: int
    tickets_issued: int
    waiting: int
    called: int
    skipped: int
    in_service: int
    observing: int
    released: int
    finished: int
    by_state: dict[str, int]
    waiting_by_lane: dict[str, int]
    lanes: list[LaneStats]
    stations_open: int
    observation_seats: int


class TimeResponse(BaseModel):
    now: str
    epoch_ms: int
    timezone: str
    """The site's IANA time zone (Asia/Shanghai): what displays show their clocks in."""


class WalFigures(BaseModel):
    """The SQLite write-ahead log (issue 18); sizes in bytes."""

    bytes: int
    ceiling: int
    db_bytes: int
    max_bytes: int
    lag_bytes: int
    checkpoints: int
    truncates: int
    last_checkpoint_ms: float
    refused_batches: int


class ClockStepSeen(BaseModel):
    """A wall-clock step the server saw (served time, seconds: + forward)."""

    at: str
    seconds: float


class ClockFigures(BaseModel):
    """Served time against the wall clock (issue 18): steps are left out of served time."""

    steady: bool
    wall_minus_served: float
    steps: list[ClockStepSeen]


class HealthResponse(BaseModel):
    status: Literal["ok"]
    wal: WalFigures | None = None
    clock: ClockFigures | None = None


class OkResponse(BaseModel):
    ok: bool


# --- the answers the clients read (issue 14: SiteClient parses them with these) -----------


class StationStateResponse(BaseModel):
    """A station after open, pause, resume or close."""

    station_id: str
    state: str
    product: str | None
    lot: str | None
    vaccinator: str | None
    visit_id: int | None


class LotStation(BaseModel):
    station_id: str
    state: str


class LotInUse(BaseModel):
    product: str
    lot: str
    doses_today: int
    last_dose_at: str | None
    stations: list[LotStation]
    """The stations that have this lot loaded now."""


class LotsResponse(BaseModel):
    site_day: str
    product: str | None
    lots: list[LotInUse]
    """Most doses today first."""


class QuestionResponse(BaseModel):
    id: str
    effect: Literal["pass", "defer", "refer"]
    text: dict[str, str]
    """The question in every language the site offers."""


class ScreeningItem(BaseModel):
    id: str
    text: dict[str, str]
    effect: str | None
    answer: bool


class FlagChip(BaseModel):
    code: str
    text: dict[str, str]


class DecisionRecord(BaseModel):
    """A doctor's recorded decision (another manufacturer to complete the series)."""

    kind: str
    approve: bool
    reason: str
    previous: str | None
    booked: str | None
    dose_number: int | None
    decided_by: str
    decided_at: str


class DoctorDecisions(BaseModel):
    needed: list[dict[str, object]]
    """Decisions the dose waits for: kind and the switch's details (previous, booked, date)."""
    recorded: list[DecisionRecord]


class GuardianView(BaseModel):
    """A minor's guardian as staff consoles show them: name, relation, masked number."""

    name: str | None
    id_type: str | None
    id_number: str
    relation: str
    relation_text: dict[str, str]
    consent_version: str | None


class IdNote(BaseModel):
    """A remark on the document for the station (a region code not in the current list); the
    reason's parameters come as further fields."""

    model_config = ConfigDict(extra="allow")

    code: str
    messages: dict[str, str]
    hints: dict[str, str]


class VerifiedPerson(VisitResponse):
    """The verifying station's view of the person: the full ID number, the answers with their
    words, flags, every earlier dose and the decisions the dose waits for."""

    screening: dict[str, bool] = {}
    review_reasons: list[str] = []
    schedule_notes: list[dict[str, object]] = []
    consent_version: str | None = None
    id_note: IdNote | None = None
    screening_items: list[ScreeningItem]
    flags: list[FlagChip]
    history: list[dict[str, object]]
    guardian: GuardianView | None
    id_source: str
    doctor_decisions: DoctorDecisions


class MaskedVisit(BaseModel):
    """Whose a mismatching scan is, as much as another station may show: masked."""

    visit_id: int
    ticket: str
    name: str
    id_number: str
    state: str
    station_id: str | None


class VerifyResponse(BaseModel):
    match: bool
    scanned: Literal["id_card", "ticket"]
    visit: VerifiedPerson
    """The person this station called (a match starts the service)."""
    found: MaskedVisit | None
    """On a mismatch: whose the scan is, or None when nobody today has it."""


class DecisionResponse(BaseModel):
    decision: DecisionRecord
    visit: VisitResponse


class StaffPerson(BaseModel):
    id: str
    name: str
    label: str
    roles: list[str]


class StaffMeResponse(BaseModel):
    signed_in: bool
    required: bool
    configured: bool
    idle_minutes: float
    """The idle time-out, in minutes."""
    badge_needs_pin: bool
    staff: StaffPerson | None = None


class StaffSignInResponse(StaffMeResponse):
    session: str
    """The token for the X-Staff-Session header."""


class SignOutResponse(BaseModel):
    signed_out: bool


class ObservedPerson(BaseModel):
    visit_id: int
    ticket: str
    lane: str
    state: VisitState
    product: str
    name: str
    station_id: str | None
    station_name: str | None
    zone: str | None
    call_count: int
    ends_at: str | None
    adverse_open: bool
    print_failed: bool
    adverse: dict[str, object] | None
    remaining_seconds: int
    may_leave: bool


class ObservationResponse(BaseModel):
    at: str
    people: list[ObservedPerson]


class CertificateVerifyRequest(_Body):
    """A certificate QR's text, as scanned (issue 15)."""

    text: str = Field(min_length=1, max_length=2000)


class StrikeDoseRequest(_Body):
    """Why a dose given in error is struck out (issue 15); kept with the dose and audited."""

    reason: str = Field(min_length=1, max_length=200)


class StrikeDoseResponse(BaseModel):
    """The struck dose: the registries are told under the same dose key."""

    visit_id: int
    ticket: str
    dose: str
    product: str
    lot: str
    dose_number: int
    struck_at: str
    struck_by: str
    reason: str


# --- boards, the exit point and the marshal dashboard (issue 14: every JSON answer a model) ---


class BoardVisit(BaseModel):
    """A visit as boards and the event feed may know it: masked name, no ID number."""

    visit_id: int
    ticket: str
    lane: str
    state: VisitState
    product: str
    name: str
    station_id: str | None
    station_name: str | None
    zone: str | None
    station_names: dict[str, str]
    """The station's name in each language the site gives (may be empty)."""
    zone_names: dict[str, str]
    call_count: int
    ends_at: str | None
    adverse_open: bool
    print_failed: bool


class Reaction(BaseModel):
    """An open adverse reaction as boards and consoles show it."""

    kind: str
    severity: str
    flagged_at: str


class BoardObservedPerson(BoardVisit):
    adverse: Reaction | None
    remaining_seconds: int
    """Seconds left when the snapshot was made; boards count down from `ends_at`."""
    may_leave: bool


class ObservationBoardResponse(BaseModel):
    """Everyone in observation, and the event number to follow the feed from."""

    seq: int
    at: str
    seats: int
    last_minutes: int
    """The last minutes of observation a board highlights."""
    people: list[BoardObservedPerson]


class CalledVisit(BoardVisit):
    called_at: str | None


class BoardStation(BaseModel):
    station_id: str
    name: str
    zone: str
    names: dict[str, str]
    zone_names: dict[str, str]


class CallBoardResponse(BaseModel):
    """The people being called now (newest call first), the stations and their zones."""

    seq: int
    at: str
    zones: list[str]
    zone_names: dict[str, dict[str, str]]
    """A zone's name in each language, for the zones that have names."""
    stations: list[BoardStation]
    calls: list[CalledVisit]


class DeviceResponse(BaseModel):
    """A device's latest health report."""

    device_id: str
    kind: str
    url: str
    state: str
    reason: str
    detail: str
    reported_at: str


class DashboardLane(LaneStats):
    names: dict[str, str]
    called_last_hour: int
    wait_p50_minutes: float | None
    """Waits of the people called in the last hour (None: nobody called)."""
    wait_p90_minutes: float | None
    oldest_wait_minutes: float | None
    """How long the first person still waiting has waited (None: nobody waits)."""


class DashboardStation(StationResponse):
    doses_today: int
    doses_last_hour: int


class ObservationSeats(BaseModel):
    observing: int
    seats: int
    warning: SeatWarning | None


class AdverseAlert(BaseModel):
    visit_id: int
    ticket: str
    kind: str
    severity: str
    flagged_at: str
    station_id: str | None
    name: str


class NoShow(BaseModel):
    visit_id: int
    ticket: str
    finished_at: str


class SkippedVisit(BaseModel):
    visit_id: int
    ticket: str


class NextDose(BaseModel):
    """When the next dose of the series may be given (site days; `latest` None: open)."""

    earliest: str
    latest: str | None


class Certificate(BaseModel):
    """A vaccination certificate (masked person), with its signed QR when the site has a key."""

    site_name: str
    ticket: str
    name: str
    id_number: str
    product: str
    product_code: str
    manufacturer: str
    lot: str
    dose_number: int
    doses_in_series: int
    date: str
    next_dose: NextDose | None
    qr: str | None = None


class ReprintItem(BaseModel):
    """A certificate the exit printer failed to print (or lost mid-print)."""

    visit_id: int
    ticket: str
    name: str
    product: str
    lot: str
    dose_number: int
    reason: str
    failed_at: str
    certificate: Certificate


class StorageOutage(BaseModel):
    """The database cannot save: since when, why, how many requests were refused."""

    since: str
    disk_full: bool
    wal_backlog: bool
    refused: int


class UplinkTarget(BaseModel):
    """One registry's outbox figures (issue 15)."""

    pending: int
    sent: int
    needs_fixing: int
    oldest_pending_minutes: float | None
    past_alert: bool


class UplinkAlert(UplinkTarget):
    target: str


class OutboxRowView(BaseModel):
    id: int
    target: str
    kind: str
    record_key: str
    action: str
    visit_id: int | None
    dose_id: int | None
    booking_code: str | None
    created_at: str
    state: str
    attempts: int
    due_at: str
    sent_at: str | None
    last_error: str | None


class UplinkFigures(BaseModel):
    targets: dict[str, UplinkTarget]
    deadline_hours: float
    alert_after_hours: float
    alerts: list[UplinkAlert]
    needs_fixing: list[OutboxRowView]


class RegionShipping(BaseModel):
    """How far the region is behind this site (issue 16); seconds, None: never / no outage."""

    cursor: int | None
    backlog: int | None
    sent: int
    last_error: str | None
    last_sent_seconds: float | None
    failing_seconds: float | None


class DashboardAlerts(BaseModel):
    adverse: list[AdverseAlert]
    devices: list[DeviceResponse]
    """The devices whose state is not ok."""
    no_shows: list[NoShow]
    reprints: list[ReprintItem] = []
    storage: StorageOutage | None = None
    uplink: list[UplinkAlert] = []
    clock: ClockFigures | None = None
    """A wall-clock step the served time left out (None: none seen)."""


class WalkInFigures(BaseModel):
    capacity: int
    issued: int


class SiteDayView(BaseModel):
    """The open site day (issue 18): closed by staff until the next day opens."""

    day: str
    closed: bool
    turns_at: str
    """The site file's `day_turns_at` (HH:MM, site time)."""
    next_turn: str
    """When the next day opens by the schedule (UTC, ISO 8601)."""


class DashboardResponse(BaseModel):
    """What the marshal's dashboard shows; /metrics reads its gauges from the same answer."""

    seq: int
    at: str
    site_name: str
    target_wait_minutes: float
    stats: StatsResponse
    lanes: list[DashboardLane]
    stations: list[DashboardStation]
    doses_by_hour: list[int]
    """Doses given in each local hour of the site day (24 numbers)."""
    observation: ObservationSeats
    alerts: DashboardAlerts
    skipped: list[SkippedVisit]
    devices: list[DeviceResponse]
    walk_in: WalkInFigures
    site_day: SiteDayView
    region: RegionShipping | None = None
    """None when the site ships to no region."""
    wal: WalFigures | None = None
    """None on PostgreSQL."""
    uplink: UplinkFigures | None = None


class ExitCertificateScanResponse(ExitScanResponse):
    """The exit scan with the certificate (when the person may leave)."""

    certificate: Certificate | None = None
    print: Literal["queued"] | None = None
    """"queued" when the exit printer was asked to print the certificate."""


class ReprintsResponse(BaseModel):
    seq: int
    printer_configured: bool
    certificates: list[ReprintItem]
    """Oldest first."""


class ReprintResponse(BaseModel):
    visit_id: int
    ticket: str
    printed: bool
    already_printed: bool
    """True when it was no longer listed: nothing printed again."""


class WalkInCapacityResponse(BaseModel):
    capacity: int


class DayClosedResponse(BaseModel):
    closed: str
    """The site day closed (it stays the site day, closed, until the next opens)."""
    next_turn: str
    """When the next day opens by the schedule (UTC, ISO 8601)."""
    unfinished: int
    """People of the closed day still on site: they finish as usual."""


class DayOpenedResponse(BaseModel):
    closed: str
    """The site day that was closed."""
    open: str
    """The site day now open."""


class ThrottleClearResponse(BaseModel):
    cleared: int
    """How many throttles were cleared."""


class CertifiedDose(BaseModel):
    """What a certificate QR says."""

    name: str
    product: str
    manufacturer: str
    lot: str
    dose_number: int
    date: str
    site: str
    dose: str


class CertificateVerifyResponse(BaseModel):
    """Valid with what the certificate says, or why not (`error`)."""

    valid: bool
    certificate: CertifiedDose | None = None
    error: ErrorBody | None = None
