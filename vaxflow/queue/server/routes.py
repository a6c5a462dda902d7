"""Every route of the site server in one table: path, roles, body. Auth and OpenAPI read it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiohttp import web
from pydantic import BaseModel

from vaxflow.config.schema import Role
from vaxflow.queue.server import api_models as m
from vaxflow.queue.server import handlers as h

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

KIOSK: frozenset[Role] = frozenset({"kiosk"})
STATION: frozenset[Role] = frozenset({"station"})
OBSERVER: frozenset[Role] = frozenset({"observer"})
STAFF_STATION: frozenset[Role] = frozenset({"station", "marshal", "admin"})
READERS: frozenset[Role] = frozenset({"kiosk", "station", "observer", "marshal", "admin"})
BOARDS: frozenset[Role] = frozenset({"board", "marshal", "admin"})
FEED: frozenset[Role] = frozenset({"station", "observer", "marshal", "board", "admin"})


@dataclass(frozen=True)
class Route:
    """One endpoint; `roles` None means public (health, time, the API description)."""

    method: str
    path: str
    handler: Handler
    roles: frozenset[Role] | None
    summary: str
    body: type[BaseModel] | None = None
    response: type[BaseModel] | None = None
    response_is_list: bool = False
    websocket: bool = False
    staff_exempt: bool = False
    """A device's own call, never a person's action: no staff session is asked or checked."""
    staff_only: bool = False
    """A signed-in person must act, for every role, even where sign-in is optional: identity
    typed by staff (the desk) is audited with their name."""
    query: tuple[tuple[str, str], ...] = ()
    """Optional text query parameters: (name, what it means)."""


def _routes() -> list[Route]:
    from vaxflow.queue.server import decisions, desk, feed_handler, openapi

    return [
        Route("GET", "/api/health", h.health, None, "Liveness", response=m.HealthResponse),
        Route(
            "GET",
            "/api/time",
            h.server_time,
            None,
            "Server time for clock-offset correction",
            response=m.TimeResponse,
        ),
        Route("GET", "/api/openapi.json", openapi.handler, None, "This API description"),
        Route(
            "GET",
            "/api/stats",
            h.stats,
            BOARDS,
            "Counts by state, per-lane waits",
            response=m.StatsResponse,
        ),
        Route(
            "POST",
            "/api/checkins/precheck",
            h.precheck,
            KIOSK | {"admin"},
            "Check a booking or walk-in before the health questions; returns the questions",
            body=m.PrecheckRequest,
            response=m.PrecheckResponse,
        ),
        Route(
            "POST",
            "/api/checkins",
            h.check_in,
            KIOSK | {"admin"},
            "Check in with a booking code or as a walk-in; issues a ticket",
            body=m.CheckInRequest,
            response=m.TicketResponse,
        ),
        Route(
            "POST",
            "/api/desk/checkins/precheck",
            desk.desk_precheck,
            STAFF_STATION,
            "Precheck a number typed by signed-in staff (household register, guardian's passport)",
            body=m.DeskCheckInRequest,
            response=m.PrecheckResponse,
            staff_only=True,
        ),
        Route(
            "POST",
            "/api/desk/checkins",
            desk.desk_check_in,
            STAFF_STATION,
            "Check in with a number typed by signed-in staff; audited with their name",
            body=m.DeskCheckInRequest,
            response=m.VisitResponse,
            staff_only=True,
        ),
        Route(
            "GET",
            "/api/tickets/{ticket}",
            h.get_ticket,
            READERS,
            "Look up a ticket number or ticket QR payload",
            response=m.VisitResponse,
        ),
        Route(
            "POST",
            "/api/visits/{visit_id}/cancel",
            h.cancel,
            frozenset({"kiosk", "marshal", "admin"}),
            "Withdraw a check-in before the dose",
            body=m.CancelRequest,
            response=m.VisitResponse,
        ),
        Route(
            "POST",
            "/api/visits/{visit_id}/birth-date",
            h.confirm_birth_date,
            STAFF_STATION,
            "Staff confirm the birth date of a passport or permit holder before the dose",
            body=m.BirthDateRequest,
            response=m.VisitResponse,
        ),
        Route(
            "POST",
            "/api/visits/{visit_id}/decisions",
            decisions.decide,
            STAFF_STATION,
            "A doctor's recorded decision at the station (completing a series with another "
            "manufacturer): approve lets the dose be recorded, decline ends the visit today",
            body=decisions.DecisionRequest,
            staff_only=True,
        ),
        Route(
            "POST",
            "/api/visits/{visit_id}/print-status",
            h.print_status,
            KIOSK | {"admin"},
            "Report whether the ticket printed",
            body=m.PrintStatusRequest,
            response=m.VisitResponse,
        ),
        Route(
            "GET",
            "/api/stations",
            h.list_stations,
            frozenset({"station", "marshal", "board", "admin"}),
            "Stations and what they are doing",
            response=m.StationResponse,
            response_is_list=True,
        ),
        Route(
            "POST",
            "/api/stations/{station_id}/open",
            h.open_station,
            STATION | {"admin"},
            "Open a station with a product and lot",
            body=m.OpenStationRequest,
        ),
        Route(
            "POST",
            "/api/stations/{station_id}/pause",
            h.pause_station,
            STAFF_STATION,
            "Pause a station",
            body=m.EmptyRequest,
        ),
        Route(
            "POST",
            "/api/stations/{station_id}/resume",
            h.resume_station,
            STAFF_STATION,
            "Resume a paused station",
            body=m.EmptyRequest,
        ),
        Route(
            "POST",
            "/api/stations/{station_id}/close",
            h.close_station,
            STAFF_STATION,
            "Close a station",
            body=m.EmptyRequest,
        ),
        Route(
            "POST",
            "/api/stations/{station_id}/call-next",
            h.call_next,
            STATION,
            "Call the next person this station can serve",
            body=m.EmptyRequest,
            response=m.CallResponse,
        ),
        Route(
            "POST",
            "/api/stations/{station_id}/recall",
            h.recall,
            frozenset({"station", "marshal"}),
            "Repeat the call, or recall a skipped person",
            body=m.RecallRequest,
            response=m.VisitResponse,
        ),
        Route(
            "POST",
            "/api/stations/{station_id}/skip",
            h.skip,
            frozenset({"station", "marshal"}),
            "The called person did not come",
            body=m.EmptyRequest,
            response=m.VisitResponse,
        ),
        Route(
            "POST",
            "/api/stations/{station_id}/start-service",
            h.start_service,
            STATION,
            "Scan the ticket of the person who arrived",
            body=m.TicketScanRequest,
            response=m.VisitResponse,
        ),
        Route(
            "POST",
            "/api/stations/{station_id}/record-dose",
            h.record_dose,
            STATION,
            "Record the dose; observation starts",
            body=m.DoseRequest,
            response=m.VisitResponse,
        ),
        Route(
            "POST",
            "/api/stations/{station_id}/defer",
            h.defer,
            STATION,
            "Defer the person (come back later)",
            body=m.StationOutcomeRequest,
            response=m.VisitResponse,
        ),
        Route(
            "POST",
            "/api/stations/{station_id}/refer",
            h.refer,
            STATION,
            "Refer the person to doctor review",
            body=m.StationOutcomeRequest,
            response=m.VisitResponse,
        ),
        Route(
            "GET",
            "/api/observation",
            h.observation,
            frozenset({"observer", "board", "marshal", "admin"}),
            "Everyone in observation with their end time",
        ),
        Route(
            "POST",
            "/api/observation/{visit_id}/flag",
            h.flag,
            OBSERVER,
            "Flag an adverse reaction: release is held",
            body=m.FlagRequest,
            response=m.VisitResponse,
        ),
        Route(
            "POST",
            "/api/observation/{visit_id}/resolve",
            h.resolve,
            OBSERVER,
            "Record the outcome of an adverse reaction",
            body=m.ResolveRequest,
            response=m.VisitResponse,
        ),
        Route(
            "POST",
            "/api/observation/{visit_id}/release",
            h.release,
            OBSERVER,
            "Release a person whose observation has ended",
            body=m.EmptyRequest,
            response=m.VisitResponse,
        ),
        Route(
            "POST",
            "/api/observation/{visit_id}/left-early",
            h.left_early,
            frozenset({"observer", "marshal"}),
            "Record that a person left before the end",
            body=m.LeftEarlyRequest,
            response=m.VisitResponse,
        ),
        Route(
            "POST",
            "/api/exit-scan",
            h.exit_scan,
            OBSERVER,
            "Scan a ticket at the exit: released, or minutes left",
            body=m.TicketScanRequest,
            response=m.ExitScanResponse,
        ),
        Route(
            "POST",
            "/api/devices/health",
            h.report_device,
            frozenset({"kiosk", "station", "admin"}),
            "Report a device's state",
            body=m.DeviceHealthRequest,
            response=m.OkResponse,
            staff_exempt=True,
        ),
        Route(
            "GET",
            "/api/devices",
            h.list_devices,
            frozenset({"marshal", "admin"}),
            "Latest state of every device",
        ),
        Route(
            "GET",
            "/ws/events",
            feed_handler.events,
            FEED,
            "WebSocket: events after ?since=N, then live",
            websocket=True,
        ),
    ]


ROUTES: list[Route] = _routes()

# Records out: the daily report for the marshal (vaxflow/queue/server/report_handlers.py).
from vaxflow.queue.server import report_handlers  # noqa: E402

ROUTES.append(
    Route(
        "GET",
        "/api/reports/daily",
        report_handlers.daily,
        frozenset({"marshal", "admin"}),
        "The daily report of ?date=YYYY-MM-DD (default today) as an HTML page with charts",
        query=(("date", "the site day, YYYY-MM-DD; default today"),),
    )
)

# Boards, exit point and marshal dashboard (vaxflow/queue/server/board_handlers.py, issue 6).
from vaxflow.queue.server import board_handlers as bh  # noqa: E402
from vaxflow.queue.server import lots, verify  # noqa: E402

ROUTES += [
    Route(
        "GET",
        "/api/boards/observation",
        bh.observation_board,
        BOARDS | {"observer"},
        "Everyone in observation with ends_at, and the event number to follow the feed from",
    ),
    Route(
        "GET",
        "/api/boards/calls",
        bh.call_board,
        BOARDS,
        "People being called now, newest first, with the stations' zones and the event number",
    ),
    Route(
        "GET",
        "/api/announcements/{station_id}/{ticket}.wav",
        bh.announcement,
        BOARDS,
        "The spoken call (Chinese, then English) rendered offline by espeak-ng, as a WAV",
    ),
    Route(
        "GET",
        "/api/questions",
        bh.questions,
        READERS,
        "The screening questions in every language the site offers",
    ),
    Route(
        "GET",
        "/api/dashboard",
        bh.dashboard,
        frozenset({"marshal", "admin"}),
        "The marshal's dashboard: stats, waits p50/p90 per lane, stations, seats, alerts",
    ),
    Route(
        "POST",
        "/api/walk-in-capacity",
        bh.set_walk_in_capacity,
        frozenset({"marshal", "admin"}),
        "Set today's walk-in capacity (overrides walk_in.daily_capacity for the site day)",
        body=bh.WalkInCapacityRequest,
    ),
    Route(
        "POST",
        "/api/exit/scan",
        bh.exit_certificate_scan,
        OBSERVER,
        "Exit scan with the vaccination certificate; printed after commit when configured",
        body=m.TicketScanRequest,
    ),
    Route(
        "POST",
        "/api/stations/{station_id}/verify",
        verify.handler,
        STATION,
        "Verify the person at the station: ticket or ID number against the call; a match starts "
        "the service; answers the summary (full ID, age, dose, screening words, flags)",
        body=verify.VerifyRequest,
    ),
    Route(
        "GET",
        "/api/lots",
        lots.list_lots,
        STAFF_STATION,
        "Today's lots of ?product=CODE (or all): doses given with each, most first, and the "
        "stations that have it loaded now; a station opens with one tap",
        query=(("product", "a product code of the site's catalogue; default every product"),),
    ),
    Route(
        "GET",
        "/api/exit/reprints",
        bh.reprint_list,
        frozenset({"observer", "marshal", "admin"}),
        "Today's certificates the exit printer failed to print (or lost mid-print), oldest first",
    ),
    Route(
        "POST",
        "/api/exit/{visit_id}/reprint-certificate",
        bh.reprint_certificate,
        frozenset({"observer", "marshal", "admin"}),
        "Print a listed certificate again; 503 certificate_print_failed while the printer is "
        "down, already_printed when it is no longer listed (a retry prints once)",
    ),
]

# Staff sign-in with a PIN or badge (vaxflow/queue/server/staff_handlers.py, issues 6 and 9).
from vaxflow.queue.server import staff_handlers as sh  # noqa: E402

STAFF_DEVICES: frozenset[Role] = frozenset({"station", "observer", "marshal", "admin"})

ROUTES += [
    Route(
        "POST",
        "/api/staff/sign-in",
        sh.sign_in,
        STAFF_DEVICES,
        "Sign a person in at this device (staff number + PIN, or badge); answers a session "
        "token for the X-Staff-Session header. Never replayed from Idempotency-Key storage",
        body=sh.StaffSignInRequest,
        staff_exempt=True,
    ),
    Route(
        "POST",
        "/api/staff/sign-out",
        sh.sign_out,
        STAFF_DEVICES,
        "End the staff session sent in X-Staff-Session (a session already ended is fine)",
        body=m.EmptyRequest,
        staff_exempt=True,
    ),
    Route(
        "GET",
        "/api/staff/me",
        sh.me,
        STAFF_DEVICES,
        "Who is signed in with the sent X-Staff-Session, and the site's sign-in rules",
    ),
]
