"""HTTP handlers: parse, run one operation in the store, answer JSON. No decisions here."""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from collections.abc import Callable
from datetime import date
from typing import Any, TypeVar

from aiohttp import web
from pydantic import BaseModel, ValidationError

from vaxflow.clock import SteadyClock
from vaxflow.queue.api import models as m
from vaxflow.queue.bookings import signed_qr
from vaxflow.queue.bookings.codes import read_booking_scan
from vaxflow.queue.bookings.service_client import (
    ServiceUnavailable,
    fetch_booking,
    fetch_bookings_of_person,
)
from vaxflow.queue.core import privacy
from vaxflow.queue.core.booking import Booking, PriorDose
from vaxflow.queue.core.errors import Invalid, NotFound, QueueError
from vaxflow.queue.core.guardians import GuardianClaim
from vaxflow.queue.core.identity import parse_id_type, validate_id
from vaxflow.queue.core.model import StationState, Visit, VisitState
from vaxflow.queue.ops import boards, checkin, service, strike
from vaxflow.queue.server.appkeys import (
    CLOCK,
    ESTIMATES,
    HTTP,
    METRICS,
    PRINCIPAL,
    REGION_HISTORY,
    REGISTRY_HISTORY,
    SETTINGS,
    STORE,
)
from vaxflow.queue.server.auth import Principal
from vaxflow.queue.store import idempotency
from vaxflow.queue.store.bookings import find_booking
from vaxflow.queue.store.writer import Tx

B = TypeVar("B", bound=BaseModel)
log = logging.getLogger(__name__)

MAX_IDEMPOTENCY_KEY = 128
#: The deepest JSON a request body may nest: our bodies need 4; a `[`x30000 body is refused
#: before pydantic or the error report walks it.
MAX_JSON_DEPTH = 32


def _too_deep(value: Any, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether a parsed JSON value nests deeper than `limit` (iterative: no recursion)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False


def json_response(body: Any, status: int = 200) -> web.Response:
    return web.json_response(body, status=status, dumps=_dumps)


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def principal(request: web.Request) -> Principal:
    return request[PRINCIPAL]


class _BodyTimeout(QueueError):
    status = 408


async def read_body(request: web.Request) -> bytes:
    """The whole body, or 408 `body_timeout` when a client trickles it slower than the site
    allows (server.body_timeout_seconds): a slow body holds no handler for long."""
    try:
        async with asyncio.timeout(request.app[SETTINGS].server.body_timeout_seconds):
            return await request.read()
    except TimeoutError:
        raise _BodyTimeout("body_timeout", "The request body arrived too slowly.") from None


async def parse_body(request: web.Request, model: type[B]) -> tuple[B, bytes]:
    raw = await read_body(request)
    try:
        data = json.loads(raw) if raw.strip() else {}
    except RecursionError:
        raise Invalid(
            "invalid_body", "The request body is nested too deeply.", problems=[]
        ) from None
    except (ValueError, UnicodeDecodeError):
        raise Invalid("invalid_json", "The request body is not valid JSON.") from None
    if _too_deep(data):
        raise Invalid(
            "invalid_body",
            f"The request body is nested deeper than {MAX_JSON_DEPTH} levels.",
            problems=[{"field": "(body)", "problem": f"nested deeper than {MAX_JSON_DEPTH}"}],
        )
    try:
        return model.model_validate(data), raw
    except ValidationError as err:
        problems = [
            {"field": ".".join(str(p) for p in e["loc"]) or "(body)", "problem": e["msg"]}
            for e in err.errors(include_url=False, include_input=False)
        ]
        raise Invalid(
            "invalid_body", "Some fields are missing or wrong.", problems=problems
        ) from None


async def mutate(
    request: web.Request,
    model: type[B],
    op: Callable[[Tx, B], Any],
    parsed: tuple[B, bytes] | None = None,
) -> web.Response:
    """Run a change once: a replay with the same Idempotency-Key gets the first answer."""
    status, answer = await mutate_answer(request, model, op, parsed)
    return json_response(answer, status)


async def mutate_answer(
    request: web.Request,
    model: type[B],
    op: Callable[[Tx, B], Any],
    parsed: tuple[B, bytes] | None = None,
) -> tuple[int, Any]:
    """`mutate` before the answer is encoded: the status and the JSON value."""
    body, raw = parsed or await parse_body(request, model)
    who = principal(request)
    key = request.headers.get("Idempotency-Key", "").strip() or None
    if key is not None and len(key) > MAX_IDEMPOTENCY_KEY:
        raise Invalid("bad_idempotency_key", "The Idempotency-Key header is too long.")
    request_hash = hashlib.sha256(
        request.method.encode() + b" " + request.path.encode() + b"\n" + raw
    ).hexdigest()
    replayed: list[bool] = []  # the answer is a remembered one (counted the first time)

    def run(tx: Tx) -> tuple[int, Any]:
        if key is not None:
            row = idempotency.find_reply(tx.conn, tx.site_id, tx.actor, key)
            if row is not None:
                if row.request_hash != request_hash:
                    raise Invalid(
                        "idempotency_key_reused",
                        "This Idempotency-Key was used for a different request.",
                    )
                replayed.append(True)
                return row.status, json.loads(row.response)
        answer = op(tx, body)
        remember(tx, 200, answer)
        return 200, answer

    def refused(tx: Tx, err: QueueError) -> tuple[int, Any]:
        """The op's changes are undone; a replay must get the same refusal."""
        answer = err.to_json()
        if err.reason != "idempotency_key_reused":  # that key already holds its first answer
            remember(tx, err.status, answer)
        return err.status, answer

    def remember(tx: Tx, status: int, answer: Any) -> None:
        if key is not None:
            reply = idempotency.Reply(request_hash, status, _dumps(answer))
            idempotency.save_reply(tx.conn, tx.site_id, tx.actor, key, reply, tx.now)

    store = request.app[STORE]
    status, answer = await store.write(run, actor=who.actor, device=who.device, on_refusal=refused)
    if status >= 400 and not replayed:
        request.app[METRICS].refused(answer["error"]["reason"])
    return status, answer


async def change_visit(
    request: web.Request,
    model: type[B],
    change: Callable[[Tx, B], Visit],
    *,
    full_id: bool = False,
) -> web.Response:
    """A `mutate` whose answer is the changed visit as clients see it; with `full_id`, the
    full number and answers go to the station that serves the person, and to nobody else."""
    settings = request.app[SETTINGS]

    def op(tx: Tx, body: B) -> Any:
        visit = change(tx, body)
        return service.visit_view(visit, settings, full_id=full_id and serving(request, visit))

    return await mutate(request, model, op)


def serving(request: web.Request, visit: Visit, *, now_only: bool = False) -> bool:
    """Whether the caller is the station serving this person (personal data by need).

    A write's answer (`now_only` False) goes to the station that just acted on the person,
    whatever state the act left them in; a read (`now_only`) only while the person is called
    to or at the station. Where sign-in is required, a person must be signed in at it."""
    who = principal(request)
    settings = request.app[SETTINGS]
    if settings.staff_sign_in.required and who.staff is None:
        return False
    state = visit.state.value if now_only else "in_service"
    return privacy.serves(
        role=who.role,
        own_station=who.station,
        shared=who.shared,
        visit_station=visit.station_id,
        visit_state=state,
    )


def _int_param(request: web.Request, name: str) -> int:
    try:
        value = int(request.match_info[name])
    except ValueError:
        raise Invalid("bad_path", f"{name} must be a number.") from None
    if not 1 <= value <= m.MAX_ID:
        raise Invalid("bad_path", f"{name} must be between 1 and {m.MAX_ID}.")
    return value


# --- public ------------------------------------------------------------------------------


async def health(request: web.Request) -> web.Response:
    """Liveness, and the figures an operator watches: the WAL's size against its ceiling,
    the wall-clock steps the served time left out."""
    clock = request.app[CLOCK]
    steady = clock.status() if isinstance(clock, SteadyClock) else None
    return json_response({"status": "ok", "wal": request.app[STORE].wal, "clock": steady})


async def server_time(request: web.Request) -> web.Response:
    """The server's clock, and the site's time zone: displays show site time whatever zone
    their own system is set to (a fresh board's is often UTC)."""
    now = request.app[CLOCK].now()
    zone = request.app[SETTINGS].site.timezone
    return json_response(
        {"now": now.isoformat(), "epoch_ms": int(now.timestamp() * 1000), "timezone": zone}
    )


# --- kiosk -------------------------------------------------------------------------------


async def _checkin_request(request: web.Request, body: m.PrecheckRequest) -> checkin.CheckInRequest:
    """Resolve the booking outside the transaction: verify a signed QR, ask the booking service."""
    settings, store, clock = request.app[SETTINGS], request.app[STORE], request.app[CLOCK]
    rules = settings.booking
    booking = None
    code = body.booking_code
    if body.booking_qr is not None:
        scanned = read_booking_scan(body.booking_qr, rules.url_code_params)
        if scanned.signed is not None:
            # the open day (after staff close one, or a clock set back, not the schedule's)
            today = await store.read(
                lambda conn: checkin.open_day(conn, settings, store.site_id, clock.now())
            )
            booking = signed_qr.verify(
                scanned.signed, rules.public_keys, settings.site.id, settings.site.timezone, today
            )
        code = scanned.code
    if booking is None and code is not None and rules.service_url:
        listed = await store.read(lambda conn: find_booking(conn, store.site_id, code))
        if listed is None:
            booking = await fetch_booking(
                request.app[HTTP], rules.service_url, code, rules.service_timeout_seconds
            )
            if booking is None:
                raise NotFound("unknown_booking", "The booking service does not know this code.")
    if body.walk_in is not None:
        if body.booking_qr is not None or body.booking_code is not None:
            raise Invalid("booking_or_walk_in", "Give either a booking or a walk-in person.")
        booking = await _service_booking_of_card(request, body.walk_in)
    answers = getattr(body, "answers", None)
    region = None
    person = booking or body.id_card or body.walk_in
    history = request.app.get(REGION_HISTORY)
    if history is not None and person is not None:
        region = await history.lookup(person.id_type, person.id_number)
    registry_doses, unverified = await _registry_history(request, body, booking)
    return checkin.CheckInRequest(
        region_history=region or (),
        booking=booking,
        booking_code=code if booking is None else None,
        id_card=checkin.IdCardData(**body.id_card.model_dump()) if body.id_card else None,
        walk_in=checkin.WalkInPerson(**body.walk_in.model_dump()) if body.walk_in else None,
        answers=answers,
        consent_version=getattr(body, "consent_version", None),
        guardian=GuardianClaim(**body.guardian.model_dump(exclude={"sex"}))
        if body.guardian
        else None,
        registry_doses=registry_doses,
        registry_unverified=unverified,
    )


async def _region_history(
    request: web.Request, person: Booking | m.IdCardBody | m.WalkInBody | None
) -> tuple[PriorDose, ...] | None:
    """The person's doses at the city's other sites (issue 16), or None: no region, no answer
    in time (check-in goes on with the local history)."""
    history = request.app.get(REGION_HISTORY)
    if history is None or person is None:
        return None
    found: tuple[PriorDose, ...] | None = await history.lookup(person.id_type, person.id_number)
    return found


async def _registry_history(
    request: web.Request, body: m.PrecheckRequest, booking: Booking | None
) -> tuple[tuple[PriorDose, ...], bool]:
    """The registry's doses of the person (issue 15), asked with a short deadline; no
    answer: none, and unverified (the check-in goes to review rather than waiting)."""
    registry = request.app[REGISTRY_HISTORY]
    if not registry.enabled:
        return (), False
    person = body.id_card or body.walk_in or booking
    if person is None:
        return (), False
    try:
        number = validate_id(parse_id_type(person.id_type), person.id_number)
    except QueueError:
        return (), False  # the check-in refuses the number with its own reason
    found = await registry.ask(request.app[HTTP], number.id_type.value, number.number)
    return (found or (), found is None)


async def _service_booking_of_card(request: web.Request, person: m.WalkInBody) -> Booking | None:
    """A card-only person's booking today from the booking service, when the list has none.

    A service that is down or slow costs at most its timeout: the person goes on as a walk-in.
    """
    settings, store, clock = request.app[SETTINGS], request.app[STORE], request.app[CLOCK]
    url = settings.booking.service_url
    if not url:
        return None
    walk_in = checkin.WalkInPerson(**person.model_dump())
    now = clock.now()

    def look(conn: Any) -> tuple[Booking | None, date]:  # the list's booking, the open day
        listed = checkin.booking_of_card(conn, settings, store.site_id, walk_in, now)
        return listed, checkin.open_day(conn, settings, store.site_id, now)

    listed, day = await store.read(look)
    if listed is not None:
        return None  # identify() finds it in the same read as the rest of the check-in
    try:
        number = validate_id(parse_id_type(walk_in.id_type), walk_in.id_number)
    except QueueError:
        return None  # the walk-in path refuses the number with its own reason
    try:
        found = await fetch_bookings_of_person(
            request.app[HTTP],
            url,
            settings.site.id,
            day,
            number.number,
            settings.booking.service_timeout_seconds,
        )
    except ServiceUnavailable as err:
        log.warning("card-only check-in goes on as a walk-in: %s", err.message)
        return None
    return next((b for b in found if b.id_type == number.id_type.value), None)


async def precheck(request: web.Request) -> web.Response:
    settings, store, clock = request.app[SETTINGS], request.app[STORE], request.app[CLOCK]
    body, _raw = await parse_body(request, m.PrecheckRequest)
    wanted = await _checkin_request(request, body)
    now = clock.now()
    answer = await store.read(
        lambda conn: checkin.precheck(conn, settings, store.site_id, wanted, now)
    )
    return json_response(answer)


async def check_in(request: web.Request) -> web.Response:
    settings = request.app[SETTINGS]
    parsed = await parse_body(request, m.CheckInRequest)
    wanted = await _checkin_request(request, parsed[0])

    def op(tx: Tx, _body: m.CheckInRequest) -> dict[str, Any]:
        visit = service.check_in(tx, settings, wanted)
        view = service.visit_view(visit, settings)
        view["booking_found_by_id"] = checkin.found_by_id(wanted, visit)
        view["lane_name"] = settings.lane(visit.lane).name
        view["site_name"] = settings.site.name
        return view

    status, answer = await mutate_answer(request, m.CheckInRequest, op, parsed)
    if status == 200:
        # The estimate is read after the commit from a short-lived cache (estimates.py);
        # a replayed answer gets today's estimate, not the first one's.
        answer = {
            **answer,
            "estimated_wait_minutes": await request.app[ESTIMATES].minutes(answer["lane"]),
        }
    return json_response(answer, status)


async def get_ticket(request: web.Request) -> web.Response:
    settings, store, clock = request.app[SETTINGS], request.app[STORE], request.app[CLOCK]
    code = request.match_info["ticket"]
    who = principal(request)
    visit = await store.read(
        lambda conn: service.resolve_ticket(conn, settings, store.site_id, clock.now(), code)
    )
    # The full number and answers are for the station serving the person (core/privacy.py),
    # and where sign-in is required, a person signed in at it.
    full_id = serving(request, visit, now_only=True)
    if who.role == "station" and not full_id and who.station is not None:
        log.debug("ticket %s read masked by %s (not its station)", visit.ticket, who.actor)
    return json_response(service.visit_view(visit, settings, full_id=full_id))


async def cancel(request: web.Request) -> web.Response:
    settings, visit_id = request.app[SETTINGS], _int_param(request, "visit_id")
    return await change_visit(
        request,
        m.CancelRequest,
        lambda tx, body: service.cancel(tx, settings, visit_id, body.reason),
    )


async def confirm_birth_date(request: web.Request) -> web.Response:
    settings, visit_id = request.app[SETTINGS], _int_param(request, "visit_id")
    return await change_visit(
        request,
        m.BirthDateRequest,
        lambda tx, body: service.confirm_birth_date(tx, settings, visit_id, body.birth_date),
        full_id=True,
    )


async def print_status(request: web.Request) -> web.Response:
    settings, visit_id = request.app[SETTINGS], _int_param(request, "visit_id")
    return await change_visit(
        request,
        m.PrintStatusRequest,
        lambda tx, body: service.print_status(tx, settings, visit_id, body.ok, body.reason),
    )


async def report_device(request: web.Request) -> web.Response:
    def op(tx: Tx, body: m.DeviceHealthRequest) -> dict[str, Any]:
        service.report_device_health(tx, body.model_dump())
        return {"ok": True}

    return await mutate(request, m.DeviceHealthRequest, op)


async def list_devices(request: web.Request) -> web.Response:
    store = request.app[STORE]
    return json_response(await store.read(lambda conn: service.device_list(conn, store.site_id)))


# --- stations ----------------------------------------------------------------------------


async def list_stations(request: web.Request) -> web.Response:
    settings, store = request.app[SETTINGS], request.app[STORE]
    return json_response(
        await store.read(lambda conn: service.station_list(conn, settings, store.site_id))
    )


def _station_answer(settings_station: Any) -> dict[str, Any]:
    return {
        "station_id": settings_station.station_id,
        "state": settings_station.state.value,
        "product": settings_station.product,
        "lot": settings_station.lot,
        "vaccinator": settings_station.vaccinator,
        "visit_id": settings_station.visit_id,
    }


def _vaccinator(request: web.Request, typed: str | None = None) -> str | None:
    """The signed-in person signs the doses; a typed name only without a staff sign-in."""
    staff = principal(request).staff
    return staff.label if staff is not None else typed


async def open_station(request: web.Request) -> web.Response:
    settings, sid = request.app[SETTINGS], request.match_info["station_id"]
    return await mutate(
        request,
        m.OpenStationRequest,
        lambda tx, b: _station_answer(
            service.open_station(
                tx, settings, sid, b.product, b.lot, _vaccinator(request, b.vaccinator) or ""
            )
        ),
    )


def _station_state_handler(state: StationState) -> Callable[[web.Request], Any]:
    async def handler(request: web.Request) -> web.Response:
        settings, sid = request.app[SETTINGS], request.match_info["station_id"]
        return await mutate(
            request,
            m.EmptyRequest,
            lambda tx, _b: _station_answer(service.set_station_state(tx, settings, sid, state)),
        )

    handler.__name__ = f"station_{state.value}"
    return handler


pause_station = _station_state_handler(StationState.PAUSED)
resume_station = _station_state_handler(StationState.OPEN)
close_station = _station_state_handler(StationState.CLOSED)


async def call_next(request: web.Request) -> web.Response:
    settings, sid = request.app[SETTINGS], request.match_info["station_id"]

    def op(tx: Tx, _body: m.EmptyRequest) -> dict[str, Any]:
        visit = service.call_next(tx, settings, sid)
        answer: dict[str, Any] = {"called": service.visit_view(visit, settings) if visit else None}
        # The observation area is the bottleneck: warn when its seats are nearly full.
        warning = boards.seat_warning(
            boards.observing_count(tx.conn, tx.site_id), settings.observation.seats
        )
        if warning is not None:
            answer["warning"] = warning
        return answer

    return await mutate(request, m.EmptyRequest, op)


async def recall(request: web.Request) -> web.Response:
    settings, sid = request.app[SETTINGS], request.match_info["station_id"]
    return await change_visit(
        request, m.RecallRequest, lambda tx, b: service.recall(tx, settings, sid, b.visit_id)
    )


async def skip(request: web.Request) -> web.Response:
    settings, sid = request.app[SETTINGS], request.match_info["station_id"]
    return await change_visit(
        request, m.EmptyRequest, lambda tx, _b: service.skip(tx, settings, sid)
    )


async def start_service(request: web.Request) -> web.Response:
    settings, sid = request.app[SETTINGS], request.match_info["station_id"]
    return await change_visit(
        request,
        m.TicketScanRequest,
        lambda tx, b: service.start_service(tx, settings, sid, b.code),
        full_id=True,
    )


async def record_dose(request: web.Request) -> web.Response:
    settings, sid = request.app[SETTINGS], request.match_info["station_id"]
    return await change_visit(
        request,
        m.DoseRequest,
        lambda tx, b: service.record_dose(
            tx, settings, sid, b.visit_id, b.observation_minutes, vaccinator=_vaccinator(request)
        ),
    )


def _outcome_handler(state: VisitState) -> Callable[[web.Request], Any]:
    async def handler(request: web.Request) -> web.Response:
        settings, sid = request.app[SETTINGS], request.match_info["station_id"]
        return await change_visit(
            request,
            m.StationOutcomeRequest,
            lambda tx, b: service.end_at_station(tx, settings, sid, b.visit_id, state, b.reason),
        )

    handler.__name__ = state.value
    return handler


defer = _outcome_handler(VisitState.DEFERRED)
refer = _outcome_handler(VisitState.REFERRED)


# --- observation -------------------------------------------------------------------------


async def observation(request: web.Request) -> web.Response:
    settings, store, clock = request.app[SETTINGS], request.app[STORE], request.app[CLOCK]
    now = clock.now()
    people = await store.read(
        lambda conn: service.observation_list(conn, settings, store.site_id, now)
    )
    return json_response({"at": now.isoformat(), "people": people})


async def flag(request: web.Request) -> web.Response:
    settings, visit_id = request.app[SETTINGS], _int_param(request, "visit_id")
    return await change_visit(
        request,
        m.FlagRequest,
        lambda tx, b: service.flag_adverse(tx, settings, visit_id, b.kind, b.severity, b.notes),
    )


async def resolve(request: web.Request) -> web.Response:
    settings, visit_id = request.app[SETTINGS], _int_param(request, "visit_id")
    return await change_visit(
        request,
        m.ResolveRequest,
        lambda tx, b: service.resolve_adverse(tx, settings, visit_id, b.outcome),
    )


async def withdraw(request: web.Request) -> web.Response:
    settings, visit_id = request.app[SETTINGS], _int_param(request, "visit_id")
    return await change_visit(
        request, m.EmptyRequest, lambda tx, _b: service.withdraw_adverse(tx, settings, visit_id)
    )


async def release(request: web.Request) -> web.Response:
    settings, visit_id = request.app[SETTINGS], _int_param(request, "visit_id")
    return await change_visit(
        request, m.EmptyRequest, lambda tx, _b: service.release(tx, settings, visit_id)
    )


async def left_early(request: web.Request) -> web.Response:
    settings, visit_id = request.app[SETTINGS], _int_param(request, "visit_id")
    return await change_visit(
        request,
        m.LeftEarlyRequest,
        lambda tx, b: service.leave_early(tx, settings, visit_id, b.reason),
    )


async def strike_dose(request: web.Request) -> web.Response:
    """A dose given in error struck out by the marshal or admin (issue 15)."""
    settings, visit_id = request.app[SETTINGS], _int_param(request, "visit_id")
    return await mutate(
        request,
        m.StrikeDoseRequest,
        lambda tx, b: strike.strike_dose(tx, settings, visit_id, b.reason),
    )


async def exit_scan(request: web.Request) -> web.Response:
    settings = request.app[SETTINGS]
    return await mutate(
        request, m.TicketScanRequest, lambda tx, b: service.exit_scan(tx, settings, b.code)
    )


# --- marshal -----------------------------------------------------------------------------


async def stats(request: web.Request) -> web.Response:
    settings, store, clock = request.app[SETTINGS], request.app[STORE], request.app[CLOCK]
    now = clock.now()
    return json_response(
        await store.read(lambda conn: service.stats(conn, settings, store.site_id, now))
    )
