"""Site operations: load records, apply the pure engine, save, and append the event — in one Tx."""

from __future__ import annotations

import json
import math
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

from vaxflow.config import Settings
from vaxflow.queue.core import engine, ticket_code
from vaxflow.queue.core.eligibility import check_age
from vaxflow.queue.core.errors import Invalid, NotFound, Refused
from vaxflow.queue.core.events import EventKind
from vaxflow.queue.core.identity import IdType, birth_date_of, parse_id_type, validate_id
from vaxflow.queue.core.model import (
    AT_STATION_STATES,
    CALLED_STATES,
    FINAL_STATES,
    OBSERVATION_STATES,
    PRE_DOSE_STATES,
    WAITING_STATES,
    AdverseOutcome,
    StationState,
    StationStatus,
    Visit,
    VisitState,
)
from vaxflow.queue.core.outbox import Action, Kind
from vaxflow.queue.ops import checkin, outbox_rows
from vaxflow.queue.ops.checkin import CheckInRequest
from vaxflow.queue.ops.dose_gate import before_dose, guardian_for_minor
from vaxflow.queue.ops.visit_view import reaction_view
from vaxflow.queue.ops.visit_view import visit_payload as visit_payload
from vaxflow.queue.ops.visit_view import visit_view as visit_view
from vaxflow.queue.store import Conn, repo, views
from vaxflow.queue.store.writer import Tx

# --- views -------------------------------------------------------------------------------


def _emit_visit(tx: Tx, kind: EventKind, visit: Visit, settings: Settings, **extra: Any) -> None:
    tx.emit(kind, visit.id, {**visit_payload(visit, settings), **extra})


def _update(
    tx: Tx, before: Visit, after: Visit, kind: EventKind, settings: Settings, **extra: Any
) -> Visit:
    repo.save_visit(tx.conn, before, after)
    _emit_visit(tx, kind, after, settings, **extra)
    return after


# --- check-in ----------------------------------------------------------------------------


def check_in(tx: Tx, settings: Settings, request: CheckInRequest) -> Visit:
    """Issue a ticket (rules in `checkin`) and record the event in the same transaction."""
    visit = checkin.check_in(tx, settings, request)
    by_id = {"booking_found_by_id": True} if checkin.found_by_id(request, visit) else {}
    _emit_visit(tx, EventKind.CHECKED_IN, visit, settings, **by_id)
    outbox_rows.booking_event(tx, settings, visit.booking_code, Kind.BOOKING_USED, visit.id)
    return visit


def cancel(tx: Tx, settings: Settings, visit_id: int, reason: str) -> Visit:
    before = repo.get_visit(tx.conn, tx.site_id, visit_id)
    after = engine.cancel(before, reason or "cancelled", tx.now)
    _free_station(tx, before)
    return _update(tx, before, after, EventKind.CANCELLED, settings)


def print_status(tx: Tx, settings: Settings, visit_id: int, ok: bool, reason: str) -> Visit:
    """The kiosk reports its print: a failure is a flag on the visit, never a lost ticket."""
    before = repo.get_visit(tx.conn, tx.site_id, visit_id)
    after = replace(before, print_failed=not ok)
    kind = EventKind.PRINTED if ok else EventKind.PRINT_FAILED
    return _update(tx, before, after, kind, settings, print_reason=reason)


def confirm_birth_date(tx: Tx, settings: Settings, visit_id: int, born: date) -> Visit:
    """Staff record the birth date they read from a passport or permit at the desk, before
    the dose; the age rules run again and `birth_date_unconfirmed` leaves the review list.

    A resident ID's own birth date cannot be overridden (`birth_date_mismatch`); an age the
    rules refuse is refused here too and the visit keeps its review flag: staff cancel it.
    """
    before = repo.get_visit(tx.conn, tx.site_id, visit_id)
    if before.state not in PRE_DOSE_STATES:
        raise Refused(
            "birth_date_not_changeable",
            f"Ticket {before.ticket} is past the dose; its birth date can no longer change.",
            ticket=before.ticket,
        )
    document = validate_id(parse_id_type(before.id_type or IdType.CN_RESIDENT), before.id_number)
    birth = birth_date_of(document, born, today=before.site_day)
    assert birth is not None
    product = settings.product(before.product)
    if product is None:
        raise Invalid("unknown_product", f"This site does not give {before.product}.")
    age = check_age(settings, product, birth, before.site_day)
    if not age.ok:
        raise checkin.refusal(age)
    guardian_for_minor(tx.conn, tx.site_id, before, birth)
    kept = [
        code
        for code in json.loads(before.review_reasons or "[]")
        if code not in ("birth_date_unconfirmed", "review_age")
    ]
    review = kept + [r.code for r in age.review]
    after = replace(before, birth_date=birth, review_reasons=json.dumps(review) if review else None)
    # The event feed is masked (boards read it): the age and whether a date was replaced,
    # not the date; the visit row holds the date, the event who confirmed it and when.
    return _update(
        tx,
        before,
        after,
        EventKind.BIRTH_DATE_CONFIRMED,
        settings,
        age=engine.age_on(birth, before.site_day),
        replaced=before.birth_date is not None,
    )


# --- stations ----------------------------------------------------------------------------


def _station(tx: Tx, settings: Settings, station_id: str) -> StationStatus:
    if settings.station(station_id) is None:
        raise NotFound("unknown_station", f"There is no station {station_id}.")
    return repo.get_station(tx.conn, tx.site_id, station_id)


def _save_station(tx: Tx, station: StationStatus, kind: EventKind) -> StationStatus:
    repo.save_station(tx.conn, station)
    tx.emit(
        kind,
        station.visit_id,
        {
            "station_id": station.station_id,
            "state": station.state.value,
            "product": station.product,
            "lot": station.lot,
            "vaccinator": station.vaccinator,
        },
    )
    return station


def _free_station(tx: Tx, visit: Visit) -> None:
    """Release the station that held this visit, if any."""
    if visit.station_id is None or visit.state not in AT_STATION_STATES:
        return
    station = repo.get_station(tx.conn, tx.site_id, visit.station_id)
    if station.visit_id == visit.id:
        repo.save_station(tx.conn, replace(station, visit_id=None))


def open_station(
    tx: Tx, settings: Settings, station_id: str, product: str, lot: str, vaccinator: str
) -> StationStatus:
    station = _station(tx, settings, station_id)
    opened = engine.open_station(station, settings, product, lot, vaccinator, tx.now)
    return _save_station(tx, opened, EventKind.STATION_OPENED)


def set_station_state(
    tx: Tx, settings: Settings, station_id: str, state: StationState
) -> StationStatus:
    station = _station(tx, settings, station_id)
    changed = engine.set_station_state(station, state, tx.now)
    kind = {
        StationState.OPEN: EventKind.STATION_RESUMED,
        StationState.PAUSED: EventKind.STATION_PAUSED,
        StationState.CLOSED: EventKind.STATION_CLOSED,
    }[state]
    return _save_station(tx, changed, kind)


def call_next(tx: Tx, settings: Settings, station_id: str) -> Visit | None:
    """Call the head the station can serve, by lane priority; None when nobody waits for it.

    People carried over from the day before (`engine.CARRY_OVER`: waiting when the schedule
    turned the day) are called first: they have waited longest, and the new day's queue is
    numbered afresh, so its order says nothing about theirs.
    """
    station = _station(tx, settings, station_id)
    engine.require_free_open_station(station)
    assert station.product is not None
    day = repo.site_day(
        tx.conn, tx.site_id, tx.now, settings.site.timezone, settings.site.day_turns_at
    )
    lanes = [lane.prefix for lane in settings.lanes]
    carry = engine.carry(day, tx.now)
    heads = []
    if repo.anyone_waiting_since(tx.conn, tx.site_id, carry.day, carry.since):
        heads = repo.lane_heads(
            tx.conn, tx.site_id, carry.day, station.product, lanes, since=carry.since
        )
    heads = heads or repo.lane_heads(tx.conn, tx.site_id, day, station.product, lanes)
    weights = {lane.prefix: lane.weight for lane in settings.lanes}
    head = engine.choose_next(heads, weights, tx.now)
    if head is None:
        return None
    before = repo.get_visit(tx.conn, tx.site_id, head.visit_id)
    after = engine.call(before, station, tx.now)
    repo.save_station(tx.conn, replace(station, visit_id=after.id))
    return _update(tx, before, after, EventKind.CALLED, settings)


def recall(tx: Tx, settings: Settings, station_id: str, visit_id: int | None) -> Visit:
    """Repeat the current call, or call a skipped person back to this station."""
    station = _station(tx, settings, station_id)
    target = visit_id if visit_id is not None else station.visit_id
    if target is None:
        raise Refused("nothing_to_recall", f"Station {station_id} is not calling anyone.")
    before = repo.get_visit(tx.conn, tx.site_id, target)
    if before.state is VisitState.SKIPPED:
        engine.require_free_open_station(station)
        if before.product != station.product:
            raise Refused("product_mismatch", f"Ticket {before.ticket} needs {before.product}.")
    after = engine.recall(before, station, tx.now)
    repo.save_station(tx.conn, replace(station, visit_id=after.id))
    return _update(tx, before, after, EventKind.RECALLED, settings)


def skip(tx: Tx, settings: Settings, station_id: str) -> Visit:
    station = _station(tx, settings, station_id)
    if station.visit_id is None:
        raise Refused("nothing_to_skip", f"Station {station_id} is not calling anyone.")
    before = repo.get_visit(tx.conn, tx.site_id, station.visit_id)
    after = engine.skip(before, settings.queue.call_repeat_limit, tx.now)
    repo.save_station(tx.conn, replace(station, visit_id=None))
    kind = EventKind.NO_SHOW if after.state is VisitState.NO_SHOW else EventKind.SKIPPED
    return _update(tx, before, after, kind, settings)


def resolve_ticket(
    tx_conn: Conn,
    settings: Settings,
    site_id: str,
    now: datetime,
    code: str,
    prefer: frozenset[VisitState] = frozenset(),
) -> Visit:
    """A visit from a scanned ticket QR or a typed number; refuse another site's or day's ticket.

    Across the schedule's day turn a number names two people: W001 of the day before (carried
    over, `engine.CARRY_OVER`) and the new day's W001. A scanned ticket says its day, so it
    is never ambiguous. A typed number is the open day's visit, unless the carried-over one
    is unfinished and in a state the caller acts on (`prefer`: observing at the exit, called
    at a station) while the open day's is not (decision, issue 18): a person observing since
    03:45 types W001 at the exit and is not told the new day's W001 has not been vaccinated.
    When both are in such a state the number is refused as `ticket_ambiguous` (scan the
    ticket): guessing could release the wrong person from observation.
    """
    parsed = ticket_code.decode(code)
    today = repo.site_day(tx_conn, site_id, now, settings.site.timezone, settings.site.day_turns_at)
    carry = engine.carry(today, now)
    if parsed.site_id is not None and parsed.site_id != site_id:
        raise Refused("wrong_site", "This ticket is from another site.")
    if parsed.site_day is None:
        return _typed_ticket(tx_conn, site_id, today, carry, parsed.ticket, prefer)
    if parsed.site_day == today:
        found = repo.find_ticket(tx_conn, site_id, today, parsed.ticket)
    elif parsed.site_day == carry.day:
        found = repo.find_ticket(tx_conn, site_id, carry.day, parsed.ticket)
        if found is None or not carry.holds(found.site_day, found.checked_in_at):
            raise Refused("wrong_day", f"This ticket is from {parsed.site_day.isoformat()}.")
    else:
        raise Refused("wrong_day", f"This ticket is from {parsed.site_day.isoformat()}.")
    if found is None:
        raise NotFound("unknown_ticket", f"There is no ticket {parsed.ticket} today.")
    return found


def _typed_ticket(
    conn: Conn,
    site_id: str,
    today: date,
    carry: engine.Carry,
    ticket: str,
    prefer: frozenset[VisitState],
) -> Visit:
    """A typed number: the open day's visit or the one carried over (`resolve_ticket`)."""
    found = repo.find_ticket(conn, site_id, today, ticket)
    older = _carried_ticket(conn, site_id, carry, ticket) if found is None or prefer else None
    if found is None:
        if older is None:
            raise NotFound("unknown_ticket", f"There is no ticket {ticket} today.")
        return older
    if older is None:
        return found
    if found.state in prefer and older.state in prefer:
        raise Refused(
            "ticket_ambiguous",
            f"Ticket {ticket} of {today} and of {carry.day} are both {found.state}.",
            ticket=found.ticket,
            day=today.isoformat(),
            carried_day=carry.day.isoformat(),
            state=found.state.value,
        )
    return older if older.state in prefer else found


def _carried_ticket(conn: Conn, site_id: str, carry: engine.Carry, ticket: str) -> Visit | None:
    """The unfinished visit numbered `ticket` carried over from the day before, if any."""
    older = repo.find_ticket(conn, site_id, carry.day, ticket)
    if older is None or older.state in FINAL_STATES:
        return None
    return older if carry.holds(older.site_day, older.checked_in_at) else None


def start_service(tx: Tx, settings: Settings, station_id: str, code: str) -> Visit:
    before = resolve_ticket(tx.conn, settings, tx.site_id, tx.now, code, CALLED_STATES)
    return start_service_of(tx, settings, station_id, before)


def start_service_of(tx: Tx, settings: Settings, station_id: str, before: Visit) -> Visit:
    """Start serving a visit already found (verified at the station)."""
    station = _station(tx, settings, station_id)
    after = engine.start_service(before, station, tx.now)
    return _update(tx, before, after, EventKind.SERVICE_STARTED, settings)


def record_dose(
    tx: Tx,
    settings: Settings,
    station_id: str,
    visit_id: int,
    observation_minutes: int | None = None,
    *,
    vaccinator: str | None = None,
) -> Visit:
    """Record the dose given at this station; observation starts now. `vaccinator` is the
    signed-in person who gives it; without one, whoever opened the station signs it."""
    station = _station(tx, settings, station_id)
    before = repo.get_visit(tx.conn, tx.site_id, visit_id)
    product = settings.product(before.product)
    if product is None:
        raise Invalid("unknown_product", f"This site does not give {before.product}.")
    decided = before_dose(tx, settings, before)
    minutes = product.observation_minutes
    if observation_minutes is not None:
        if observation_minutes < minutes:
            raise Invalid(
                "observation_too_short",
                f"{product.name} needs at least {minutes} minutes of observation.",
            )
        minutes = observation_minutes
    after = engine.record_dose(decided, station, minutes, tx.now)
    assert station.lot is not None and station.vaccinator is not None
    repo.insert_dose(
        tx.conn,
        {
            "site_id": tx.site_id,
            "visit_id": after.id,
            "product": product.code,
            "manufacturer": product.manufacturer,
            "lot": station.lot,
            "dose_number": after.dose_number,
            "vaccinator": vaccinator or station.vaccinator,
            "station_id": station.station_id,
            "given_at": tx.now,
        },
    )
    repo.save_station(tx.conn, replace(station, visit_id=None))
    outbox_rows.dose_changed(tx, settings, after.id, Action.ADD)
    outbox_rows.booking_event(tx, settings, after.booking_code, Kind.BOOKING_DOSED, after.id)
    return _update(
        tx,
        before,
        after,
        EventKind.DOSED,
        settings,
        lot=station.lot,
        vaccinator=vaccinator or station.vaccinator,
    )


def end_at_station(
    tx: Tx, settings: Settings, station_id: str, visit_id: int, state: VisitState, reason: str
) -> Visit:
    """Defer or refer the person at this station instead of a dose."""
    station = _station(tx, settings, station_id)
    before = repo.get_visit(tx.conn, tx.site_id, visit_id)
    if before.station_id != station.station_id:
        raise Refused("not_at_this_station", f"Ticket {before.ticket} is not at {station_id}.")
    after = engine.end_at_station(before, state, reason, tx.now)
    _free_station(tx, before)
    return _update(tx, before, after, EventKind(state), settings)  # deferred | referred


# --- observation -------------------------------------------------------------------------


def flag_adverse(
    tx: Tx, settings: Settings, visit_id: int, kind: str, severity: str, notes: str
) -> Visit:
    before = repo.get_visit(tx.conn, tx.site_id, visit_id)
    after = engine.flag_adverse(before)
    repo.insert_adverse(
        tx.conn,
        {
            "site_id": tx.site_id,
            "visit_id": visit_id,
            "kind": kind,
            "severity": severity,
            "notes": notes,
            "flagged_at": tx.now,
            "flagged_by": tx.actor,
        },
    )
    outbox_rows.dose_changed(tx, settings, visit_id, Action.UPDATE)
    return _update(
        tx, before, after, EventKind.ADVERSE_FLAGGED, settings, adverse=kind, severity=severity
    )


def resolve_adverse(tx: Tx, settings: Settings, visit_id: int, outcome: AdverseOutcome) -> Visit:
    before = repo.get_visit(tx.conn, tx.site_id, visit_id)
    after = engine.resolve_adverse(before, outcome, tx.now)
    repo.resolve_adverse(tx.conn, tx.site_id, visit_id, outcome.value, tx.now, tx.actor)
    outbox_rows.dose_changed(tx, settings, visit_id, Action.UPDATE)
    kind = (
        EventKind.TRANSFERRED
        if outcome is AdverseOutcome.TRANSFERRED
        else EventKind.ADVERSE_RESOLVED
    )
    return _update(tx, before, after, kind, settings)


def withdraw_adverse(tx: Tx, settings: Settings, visit_id: int) -> Visit:
    """Take back a reaction flagged by mistake (same device, within a minute); if the flag
    wrote outbox rows (one per registry), this writes their correction: the dose again,
    without the withdrawn reaction."""
    before = repo.get_visit(tx.conn, tx.site_id, visit_id)
    reaction = repo.open_reaction(tx.conn, tx.site_id, visit_id)
    flagged_at, flagged_by, device = reaction if reaction else (tx.now, "", None)
    same_device = (flagged_by, device) == (tx.actor, tx.device)
    after = engine.withdraw_adverse(before, flagged_at, same_device, tx.now)
    repo.withdraw_adverse(tx.conn, tx.site_id, visit_id, tx.now, tx.actor)
    outbox_rows.dose_changed(tx, settings, visit_id, Action.UPDATE)  # what the flag wrote
    return _update(tx, before, after, EventKind.ADVERSE_WITHDRAWN, settings)


def release(tx: Tx, settings: Settings, visit_id: int) -> Visit:
    before = repo.get_visit(tx.conn, tx.site_id, visit_id)
    return _update(tx, before, engine.release(before, tx.now), EventKind.RELEASED, settings)


def leave_early(tx: Tx, settings: Settings, visit_id: int, reason: str) -> Visit:
    before = repo.get_visit(tx.conn, tx.site_id, visit_id)
    return _update(
        tx, before, engine.leave_early(before, reason, tx.now), EventKind.LEFT_EARLY, settings
    )


def exit_scan(tx: Tx, settings: Settings, code: str) -> dict[str, Any]:
    """At the exit: release if the time is up, else say how long is left. Scanning twice is fine."""
    visit = resolve_ticket(tx.conn, settings, tx.site_id, tx.now, code, OBSERVATION_STATES)
    if visit.state is VisitState.RELEASED:
        return {"may_leave": True, "remaining_seconds": 0, "visit": visit_view(visit, settings)}
    if visit.state not in OBSERVATION_STATES:
        raise Refused(
            "not_observing",
            f"Ticket {visit.ticket} has not been vaccinated here today ({visit.state}).",
            state=visit.state.value,
        )
    if visit.adverse_open:
        return {
            "may_leave": False,
            "reason": "adverse_open",
            "remaining_seconds": None,
            "visit": visit_view(visit, settings),
        }
    left = engine.observation_remaining(visit, tx.now)
    if left > timedelta(0):
        return {
            "may_leave": False,
            "reason": "observation_not_finished",
            "remaining_seconds": math.ceil(left.total_seconds()),
            "visit": visit_view(visit, settings),
        }
    released = _update(
        tx, visit, engine.release(visit, tx.now), EventKind.RELEASED, settings, exit=True
    )
    return {"may_leave": True, "remaining_seconds": 0, "visit": visit_view(released, settings)}


# --- devices -----------------------------------------------------------------------------


def report_device_health(tx: Tx, report: dict[str, str]) -> None:
    """Keep the latest state of a device and tell the marshal when it changes."""
    values = {**report, "site_id": tx.site_id, "reported_by": tx.actor, "reported_at": tx.now}
    previous = repo.save_device_health(tx.conn, tx.site_id, values)
    if previous != report["state"]:
        tx.emit(EventKind.DEVICE_HEALTH, None, dict(report))


# --- reads -------------------------------------------------------------------------------


def stats(conn: Conn, settings: Settings, site_id: str, now: datetime) -> dict[str, Any]:
    """Counts for the marshal: today's visits by state, tickets issued, and waits per lane."""
    site = settings.site
    day, closed = repo.site_day_state(conn, site_id, now, site.timezone, site.day_turns_at)
    by_state: dict[str, int] = {s.value: 0 for s in VisitState}
    waiting_by_lane = {lane.prefix: 0 for lane in settings.lanes}
    for state, lane, count in views.visit_counts(conn, site_id, day):
        by_state[state] += count
        if VisitState(state) in WAITING_STATES:
            waiting_by_lane[lane] = waiting_by_lane.get(lane, 0) + count
    carried_over = 0  # the day before's people still here (engine.CARRY_OVER): they wait too
    for state, lane, count in views.carried_over_counts(conn, site_id, engine.carry(day, now)):
        carried_over += count
        if VisitState(state) in WAITING_STATES:
            waiting_by_lane[lane] = waiting_by_lane.get(lane, 0) + count
    issued = views.tickets_issued(conn, site_id, day)
    stations = repo.all_stations(conn, site_id)
    open_count = sum(1 for s in stations.values() if s.state is StationState.OPEN)
    waits = lane_estimates(conn, settings, site_id, now, waiting_by_lane, open_count)
    called = sum(by_state[s.value] for s in CALLED_STATES)
    return {
        "site_id": site_id,
        "site_day": day.isoformat(),
        "day_closed": closed,  # staff closed it: no check-ins until the next opens
        "carried_over": carried_over,
        "at": now.isoformat(),
        "checked_in": sum(by_state.values()) - by_state[VisitState.CANCELLED.value],
        "tickets_issued": int(issued),
        "waiting": sum(waiting_by_lane.values()),
        "called": called,
        "skipped": by_state[VisitState.SKIPPED.value],
        "in_service": by_state[VisitState.IN_SERVICE.value],
        "observing": by_state[VisitState.OBSERVING.value],
        "released": by_state[VisitState.RELEASED.value],
        "finished": sum(by_state[s.value] for s in FINAL_STATES),
        "by_state": by_state,
        "waiting_by_lane": waiting_by_lane,
        "lanes": [
            {
                "prefix": lane.prefix,
                "name": lane.name,
                "waiting": waiting_by_lane[lane.prefix],
                "estimated_wait_minutes": waits[lane.prefix],
            }
            for lane in settings.lanes
        ],
        "stations_open": open_count,
        "observation_seats": settings.observation.seats,
    }


def lane_estimates(
    conn: Conn,
    settings: Settings,
    site_id: str,
    now: datetime,
    waiting_by_lane: dict[str, int],
    open_stations: int,
) -> dict[str, int]:
    samples = repo.recent_service_minutes(
        conn, site_id, now - timedelta(hours=2), settings.queue.service_sample_size
    )
    weights = {lane.prefix: lane.weight for lane in settings.lanes}
    return engine.estimate_waits(
        waiting_by_lane, weights, samples, open_stations, settings.queue.default_service_minutes
    )


def observation_list(
    conn: Conn, settings: Settings, site_id: str, now: datetime
) -> list[dict[str, Any]]:
    """Everyone in observation, soonest end first, masked."""
    out = []
    reactions = {r.visit_id: r for r in views.open_adverse(conn, site_id)}
    for visit in views.observation_visits(conn, site_id):
        payload = visit_payload(visit, settings)
        payload["adverse"] = reaction_view(reactions.get(visit.id))
        payload["remaining_seconds"] = math.ceil(
            engine.observation_remaining(visit, now).total_seconds()
        )
        payload["may_leave"] = engine.may_leave(visit, now)
        out.append(payload)
    return out


def station_list(conn: Conn, settings: Settings, site_id: str) -> list[dict[str, Any]]:
    live = repo.all_stations(conn, site_id)
    out = []
    for config in settings.stations:
        status = live.get(config.id) or StationStatus(site_id, config.id, StationState.CLOSED)
        out.append(
            {
                "station_id": config.id,
                "name": config.name,
                "zone": config.zone,
                "names": dict(config.names),
                "zone_names": dict(config.zone_names),
                "products": config.products,
                "state": status.state.value,
                "product": status.product,
                "lot": status.lot,
                "vaccinator": status.vaccinator,
                "visit_id": status.visit_id,
                "held": _held(conn, settings, site_id, status.visit_id),
            }
        )
    return out


def _held(
    conn: Conn, settings: Settings, site_id: str, visit_id: int | None
) -> dict[str, Any] | None:
    """Whom a station holds (ticket, masked name), so its console can say whose ticket to scan."""
    if visit_id is None:
        return None
    payload = visit_payload(repo.get_visit(conn, site_id, visit_id), settings)
    return {"ticket": payload["ticket"], "name": payload["name"], "state": payload["state"]}


def device_list(conn: Conn, site_id: str) -> list[dict[str, Any]]:
    return [
        {
            "device_id": r.device_id,
            "kind": r.kind,
            "url": r.url,
            "state": r.state,
            "reason": r.reason,
            "detail": r.detail,
            "reported_at": r.reported_at.isoformat(),
        }
        for r in views.device_rows(conn, site_id)
    ]


def day_view(conn: Conn, settings: Settings, site_id: str, now: datetime) -> dict[str, Any]:
    """The open site day for the marshal: its date, whether staff closed it, the site file's
    turn and the instant the next day opens by the schedule."""
    site = settings.site
    day, closed = repo.site_day_state(conn, site_id, now, site.timezone, site.day_turns_at)
    turn = engine.next_turn(day, site.timezone, site.day_turns_at)
    return {
        "day": day.isoformat(),
        "closed": closed,
        "turns_at": site.day_turns_at.strftime("%H:%M"),
        "next_turn": turn.astimezone(UTC).isoformat(),
    }


def close_day(tx: Tx, settings: Settings) -> dict[str, Any]:
    """Staff close the open site day: the doors close, its people finish.

    The decision (issue 18): what a site expects of "close the day" at 21:00 is that nobody
    new checks in, not that the next morning starts at once. So a closed day stays the site
    day, closed:
    - check-ins (precheck, check-in, the booking look-ups before them) are refused with
      `site_day_closed`, in the person's language, until the next day opens;
    - the people already in it finish as before: call-next serves its queue, and service,
      dose, observation and exit by scan or by typed number all find its tickets;
    - the next day opens by the schedule (the site file's `day_turns_at`, e.g. 04:00 the
      next morning) or earlier by staff (`open_next_day`, POST /api/site-day/open), which
      waits until everyone of the closed day has finished (otherwise they would be stranded:
      call-next serves the open day only);
    - a clock set back never reopens it: the closed day is a floor of the site day (see
      `repo.day_marks`), so before its turn the site day is still the closed day, closed.
    Closing again is harmless: the answer is the same and nothing new is written."""
    site = settings.site
    day, closed = repo.site_day_state(tx.conn, tx.site_id, tx.now, site.timezone, site.day_turns_at)
    final = frozenset(state.value for state in FINAL_STATES)
    unfinished = repo.unfinished_visits(tx.conn, tx.site_id, day, final)
    if not closed:
        tx.emit(EventKind.DAY_CLOSED, None, {"day": day.isoformat()})
    turn = engine.next_turn(day, site.timezone, site.day_turns_at)
    return {
        "closed": day.isoformat(),
        "next_turn": turn.astimezone(UTC).isoformat(),
        "unfinished": unfinished,
    }


def open_next_day(tx: Tx, settings: Settings) -> dict[str, Any]:
    """Staff open the day after the closed one before the schedule's turn (see `close_day`):
    only a closed day gives way, and only once all its people have finished."""
    site = settings.site
    day, closed = repo.site_day_state(tx.conn, tx.site_id, tx.now, site.timezone, site.day_turns_at)
    if not closed:
        raise Refused("day_not_closed", f"Site day {day.isoformat()} is open.", day=day.isoformat())
    final = frozenset(state.value for state in FINAL_STATES)
    unfinished = repo.unfinished_visits(tx.conn, tx.site_id, day, final)
    if unfinished:
        raise Refused(
            "day_not_finished",
            f"{unfinished} people of {day.isoformat()} are still on site.",
            day=day.isoformat(),
            unfinished=unfinished,
        )
    opened = day + timedelta(days=1)
    tx.emit(EventKind.DAY_OPENED, None, {"day": opened.isoformat()})
    return {"closed": day.isoformat(), "open": opened.isoformat()}
