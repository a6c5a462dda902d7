"""The site server's client: kiosks, stations, boards and the demo talk to the server through it.

Every call has a deadline; every change carries an Idempotency-Key, so a retry after a timeout
never issues a second ticket or records a second dose.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any, Literal, TypeVar
from urllib.parse import quote, urlencode

import aiohttp
from pydantic import BaseModel, TypeAdapter, ValidationError

from vaxflow.queue.api import models as m
from vaxflow.site_tls import certificate_problem, pinned_context

DEFAULT_TIMEOUT = 5.0


class ServerUnreachable(ConnectionError):
    """No answer from the site server within the deadline, or no connection at all."""


class ServerRefused(Exception):
    """The server answered with an error: a reason code and a message for people."""

    def __init__(
        self,
        status: int,
        reason: str,
        message: str,
        details: Any = None,
        *,
        messages: dict[str, str] | None = None,
        hints: dict[str, str] | None = None,
    ) -> None:
        super().__init__(f"{status} {reason}: {message}")
        self.status = status
        self.reason = reason
        self.message = message
        self.details = details or {}
        self.messages = dict(messages or {})  # the message in every language, when given
        self.hints = dict(hints or {})  # staff hints in every language, when given


class AnswerBroken(ServerUnreachable):
    """The server answered, but not with the model its route declares (another version of
    the server, or a proxy's page): the client cannot use the answer."""


M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True)
class Call:
    """One typed call: the route's method and path (as `server/routes.py` declares it) and the
    `queue/api` model of its answer (`many`: a list of them)."""

    method: Literal["GET", "POST"]
    path: str
    answer: type[BaseModel]
    many: bool = False


_STATION = "/api/stations/{station_id}"
#: Every typed call of `SiteClient`, by method name; a test holds each against the route table.
CALLS: dict[str, Call] = {
    "check_in": Call("POST", "/api/checkins", m.TicketResponse),
    "print_status": Call("POST", "/api/visits/{visit_id}/print-status", m.VisitResponse),
    "ticket": Call("GET", "/api/tickets/{ticket}", m.VisitResponse),
    "time": Call("GET", "/api/time", m.TimeResponse),
    "stats": Call("GET", "/api/stats", m.StatsResponse),
    "stations": Call("GET", "/api/stations", m.StationResponse, many=True),
    "open_station": Call("POST", _STATION + "/open", m.StationStateResponse),
    "pause_station": Call("POST", _STATION + "/pause", m.StationStateResponse),
    "resume_station": Call("POST", _STATION + "/resume", m.StationStateResponse),
    "close_station": Call("POST", _STATION + "/close", m.StationStateResponse),
    "call_next": Call("POST", _STATION + "/call-next", m.CallResponse),
    "recall": Call("POST", _STATION + "/recall", m.VisitResponse),
    "skip": Call("POST", _STATION + "/skip", m.VisitResponse),
    "start_service": Call("POST", _STATION + "/start-service", m.VisitResponse),
    "verify": Call("POST", _STATION + "/verify", m.VerifyResponse),
    "record_dose": Call("POST", _STATION + "/record-dose", m.VisitResponse),
    "defer": Call("POST", _STATION + "/defer", m.VisitResponse),
    "refer": Call("POST", _STATION + "/refer", m.VisitResponse),
    "decide": Call("POST", "/api/visits/{visit_id}/decisions", m.DecisionResponse),
    "lots": Call("GET", "/api/lots", m.LotsResponse),
    "questions": Call("GET", "/api/questions", m.QuestionResponse, many=True),
    "observation": Call("GET", "/api/observation", m.ObservationResponse),
    "flag": Call("POST", "/api/observation/{visit_id}/flag", m.VisitResponse),
    "resolve": Call("POST", "/api/observation/{visit_id}/resolve", m.VisitResponse),
    "exit_scan": Call("POST", "/api/exit-scan", m.ExitScanResponse),
    "staff_sign_in": Call("POST", "/api/staff/sign-in", m.StaffSignInResponse),
    "staff_me": Call("GET", "/api/staff/me", m.StaffMeResponse),
    "staff_sign_out": Call("POST", "/api/staff/sign-out", m.SignOutResponse),
    "report_device": Call("POST", "/api/devices/health", m.OkResponse),
    "devices": Call("GET", "/api/devices", m.DeviceResponse, many=True),
    "observation_board": Call("GET", "/api/boards/observation", m.ObservationBoardResponse),
    "call_board": Call("GET", "/api/boards/calls", m.CallBoardResponse),
    "dashboard": Call("GET", "/api/dashboard", m.DashboardResponse),
    "set_walk_in_capacity": Call("POST", "/api/walk-in-capacity", m.WalkInCapacityResponse),
    "close_day": Call("POST", "/api/site-day/close", m.DayClosedResponse),
    "open_next_day": Call("POST", "/api/site-day/open", m.DayOpenedResponse),
    "exit_certificate_scan": Call("POST", "/api/exit/scan", m.ExitCertificateScanResponse),
    "reprints": Call("GET", "/api/exit/reprints", m.ReprintsResponse),
    "reprint_certificate": Call(
        "POST", "/api/exit/{visit_id}/reprint-certificate", m.ReprintResponse
    ),
    "clear_throttles": Call("POST", "/api/staff/throttles/clear", m.ThrottleClearResponse),
    "verify_certificate": Call("POST", "/api/certificates/verify", m.CertificateVerifyResponse),
    "health": Call("GET", "/api/health", m.HealthResponse),
    "precheck": Call("POST", "/api/checkins/precheck", m.PrecheckResponse),
    "cancel": Call("POST", "/api/visits/{visit_id}/cancel", m.VisitResponse),
    "withdraw": Call("POST", "/api/observation/{visit_id}/withdraw", m.VisitResponse),
    "release": Call("POST", "/api/observation/{visit_id}/release", m.VisitResponse),
    "left_early": Call("POST", "/api/observation/{visit_id}/left-early", m.VisitResponse),
    "strike_dose": Call("POST", "/api/visits/{visit_id}/strike-dose", m.StrikeDoseResponse),
}


def _parse(model: type[M], data: Any, what: str) -> M:
    try:
        return model.model_validate(data)
    except ValidationError as err:
        raise AnswerBroken(f"{what}: the answer is not a {model.__name__}: {err}") from err


def _parse_list(model: type[M], data: Any, what: str) -> list[M]:
    try:
        return TypeAdapter(list[model]).validate_python(data)  # type: ignore[valid-type]
    except ValidationError as err:
        raise AnswerBroken(f"{what}: the answer is not a list of {model.__name__}: {err}") from err


def new_request_id() -> str:
    """A fresh idempotency key; keep it and reuse it when retrying the same request."""
    return uuid.uuid4().hex


class SiteClient:
    """A session with the site server for one device and its token."""

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        device: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        session: aiohttp.ClientSession | None = None,
        ca: str | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._headers = {"Authorization": f"Bearer {token}"}
        if device:
            self._headers["X-Device-Id"] = device
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._session = session
        self._own_session = session is None
        self.ca = ca  # the site CA the server's certificate must be signed by (pinned)

    def set_staff_session(self, session: str | None) -> None:
        """Send a signed-in person's session (X-Staff-Session) with every call, or stop."""
        if session:
            self._headers["X-Staff-Session"] = session
        else:
            self._headers.pop("X-Staff-Session", None)

    async def __aenter__(self) -> SiteClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        if self._own_session and self._session is not None:
            await self._session.close()
            self._session = None

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None:
            connector = aiohttp.TCPConnector(ssl=pinned_context(self.ca)) if self.ca else None
            self._session = aiohttp.ClientSession(timeout=self._timeout, connector=connector)
        return self._session

    async def request(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None = None,
        *,
        request_id: str | None = None,
    ) -> Any:
        """One call; POSTs get an Idempotency-Key (the given one when retrying)."""
        headers = dict(self._headers)
        if method == "POST":
            headers["Idempotency-Key"] = request_id or new_request_id()
        try:
            async with self._http().request(
                method, self.base_url + path, json=body, headers=headers, timeout=self._timeout
            ) as response:
                data = await response.json(content_type=None)
        except (aiohttp.ClientConnectionError, TimeoutError) as err:
            why = certificate_problem(err, self.ca) or err or type(err).__name__
            raise ServerUnreachable(f"{method} {path}: {why}") from err
        except (aiohttp.ContentTypeError, ValueError) as err:  # e.g. a proxy's HTML 502 page
            raise ServerUnreachable(f"{method} {path}: not a JSON answer") from err
        if response.status >= 400:
            error = (data or {}).get("error", {}) if isinstance(data, dict) else {}
            raise ServerRefused(
                response.status,
                str(error.get("reason", "http_error")),
                str(error.get("message", response.reason)),
                error.get("details"),
                messages=error.get("messages") if isinstance(error.get("messages"), dict) else None,
                hints=error.get("hints") if isinstance(error.get("hints"), dict) else None,
            )
        return data

    async def get(self, path: str) -> Any:
        return await self.request("GET", path)

    async def post(
        self, path: str, body: dict[str, Any] | None = None, *, request_id: str | None = None
    ) -> Any:
        return await self.request("POST", path, body or {}, request_id=request_id)

    # --- the calls clients make: each answers its route's model (CALLS) ------------------

    async def _send(
        self,
        name: str,
        model: type[BaseModel],
        body: dict[str, Any] | None = None,
        *,
        request_id: str | None = None,
        query: dict[str, str] | None = None,
        **params: object,
    ) -> tuple[Any, str]:
        call = CALLS[name]
        if call.answer is not model:  # the method and the table say the same (a test too)
            raise TypeError(f"SiteClient.{name} answers {model.__name__}, CALLS says {call.answer}")
        path = call.path.format(**{k: quote(str(v), safe="") for k, v in params.items()})
        if query:
            path += "?" + urlencode(query)
        if call.method == "GET":
            return await self.get(path), f"GET {path}"
        return await self.post(path, body, request_id=request_id), f"POST {path}"

    async def _one(
        self,
        name: str,
        model: type[M],
        body: dict[str, Any] | None = None,
        *,
        request_id: str | None = None,
        query: dict[str, str] | None = None,
        **params: object,
    ) -> M:
        data, what = await self._send(
            name, model, body, request_id=request_id, query=query, **params
        )
        return _parse(model, data, what)

    async def _many(self, name: str, model: type[M]) -> list[M]:
        data, what = await self._send(name, model)
        return _parse_list(model, data, what)

    # kiosk

    async def check_in(
        self, body: dict[str, Any], *, request_id: str | None = None
    ) -> m.TicketResponse:
        """Check in (a CheckInRequest's fields); the ticket to print."""
        return await self._one("check_in", m.TicketResponse, body, request_id=request_id)

    async def print_status(self, visit_id: int, ok: bool, reason: str = "") -> m.VisitResponse:
        """Whether the ticket printed."""
        body = {"ok": ok, "reason": reason}
        return await self._one("print_status", m.VisitResponse, body, visit_id=visit_id)

    async def ticket(self, ticket: str) -> m.VisitResponse:
        """A ticket number or ticket QR payload, looked up."""
        return await self._one("ticket", m.VisitResponse, ticket=ticket)

    async def health(self) -> m.HealthResponse:
        """Liveness, with the write-ahead log's and the served clock's figures."""
        return await self._one("health", m.HealthResponse)

    async def precheck(
        self, body: dict[str, Any], *, request_id: str | None = None
    ) -> m.PrecheckResponse:
        """Check a booking or walk-in (a PrecheckRequest's fields) before the questions."""
        return await self._one("precheck", m.PrecheckResponse, body, request_id=request_id)

    async def cancel(self, visit_id: int, reason: str = "cancelled") -> m.VisitResponse:
        """Withdraw a check-in before the dose."""
        return await self._one("cancel", m.VisitResponse, {"reason": reason}, visit_id=visit_id)

    async def time(self) -> m.TimeResponse:
        """The server's time and the site's time zone."""
        return await self._one("time", m.TimeResponse)

    async def stats(self) -> m.StatsResponse:
        return await self._one("stats", m.StatsResponse)

    async def report_device(
        self, device_id: str, kind: str, url: str, state: str, reason: str = "", detail: str = ""
    ) -> m.OkResponse:
        """A device's state (a DeviceHealthRequest's fields), for the marshal's device list."""
        fields = {"device_id": device_id, "kind": kind, "url": url, "state": state}
        body = {**fields, "reason": reason, "detail": detail}
        return await self._one("report_device", m.OkResponse, body)

    # stations

    async def stations(self) -> list[m.StationResponse]:
        return await self._many("stations", m.StationResponse)

    async def open_station(
        self, station_id: str, product: str, lot: str, vaccinator: str | None = None
    ) -> m.StationStateResponse:
        body: dict[str, Any] = {"product": product, "lot": lot}
        if vaccinator:
            body["vaccinator"] = vaccinator
        return await self._one("open_station", m.StationStateResponse, body, station_id=station_id)

    async def pause_station(self, station_id: str) -> m.StationStateResponse:
        return await self._one("pause_station", m.StationStateResponse, station_id=station_id)

    async def resume_station(self, station_id: str) -> m.StationStateResponse:
        return await self._one("resume_station", m.StationStateResponse, station_id=station_id)

    async def close_station(self, station_id: str) -> m.StationStateResponse:
        return await self._one("close_station", m.StationStateResponse, station_id=station_id)

    async def call_next(self, station_id: str) -> m.CallResponse:
        return await self._one("call_next", m.CallResponse, station_id=station_id)

    async def recall(self, station_id: str, visit_id: int | None = None) -> m.VisitResponse:
        """Repeat the call (no visit), or recall a skipped person."""
        body = {} if visit_id is None else {"visit_id": visit_id}
        return await self._one("recall", m.VisitResponse, body, station_id=station_id)

    async def skip(self, station_id: str) -> m.VisitResponse:
        return await self._one("skip", m.VisitResponse, station_id=station_id)

    async def start_service(self, station_id: str, code: str) -> m.VisitResponse:
        body = {"code": code}
        return await self._one("start_service", m.VisitResponse, body, station_id=station_id)

    async def verify(self, station_id: str, code: str, by: str = "scan") -> m.VerifyResponse:
        """The scanned ticket or ID number against the call: a match starts the service."""
        body = {"code": code, "by": by}
        return await self._one("verify", m.VerifyResponse, body, station_id=station_id)

    async def record_dose(
        self, station_id: str, visit_id: int, observation_minutes: int | None = None
    ) -> m.VisitResponse:
        body: dict[str, Any] = {"visit_id": visit_id}
        if observation_minutes is not None:
            body["observation_minutes"] = observation_minutes
        return await self._one("record_dose", m.VisitResponse, body, station_id=station_id)

    async def defer(self, station_id: str, visit_id: int, reason: str) -> m.VisitResponse:
        body = {"visit_id": visit_id, "reason": reason}
        return await self._one("defer", m.VisitResponse, body, station_id=station_id)

    async def refer(self, station_id: str, visit_id: int, reason: str) -> m.VisitResponse:
        body = {"visit_id": visit_id, "reason": reason}
        return await self._one("refer", m.VisitResponse, body, station_id=station_id)

    async def decide(
        self, visit_id: int, kind: str, approve: bool, reason: str
    ) -> m.DecisionResponse:
        """A doctor's decision, by the signed-in person."""
        body = {"kind": kind, "approve": approve, "reason": reason}
        return await self._one("decide", m.DecisionResponse, body, visit_id=visit_id)

    async def lots(self, product: str | None = None) -> m.LotsResponse:
        """Today's lots of a product (or of all)."""
        query = {"product": product} if product else None
        return await self._one("lots", m.LotsResponse, query=query)

    async def questions(self) -> list[m.QuestionResponse]:
        return await self._many("questions", m.QuestionResponse)

    # observation and exit

    async def observation(self) -> m.ObservationResponse:
        return await self._one("observation", m.ObservationResponse)

    async def flag(
        self, visit_id: int, kind: str, severity: str, notes: str = ""
    ) -> m.VisitResponse:
        body = {"kind": kind, "severity": severity, "notes": notes}
        return await self._one("flag", m.VisitResponse, body, visit_id=visit_id)

    async def resolve(self, visit_id: int, outcome: str) -> m.VisitResponse:
        body = {"outcome": outcome}
        return await self._one("resolve", m.VisitResponse, body, visit_id=visit_id)

    async def withdraw(self, visit_id: int) -> m.VisitResponse:
        """Take back a reaction flagged by mistake (the same device, within a minute)."""
        return await self._one("withdraw", m.VisitResponse, visit_id=visit_id)

    async def release(self, visit_id: int) -> m.VisitResponse:
        return await self._one("release", m.VisitResponse, visit_id=visit_id)

    async def left_early(
        self, visit_id: int, reason: str = "left before the end of observation"
    ) -> m.VisitResponse:
        body = {"reason": reason}
        return await self._one("left_early", m.VisitResponse, body, visit_id=visit_id)

    async def strike_dose(self, visit_id: int, reason: str) -> m.StrikeDoseResponse:
        """Strike out a dose given in error (audited; the registries are told)."""
        body = {"reason": reason}
        return await self._one("strike_dose", m.StrikeDoseResponse, body, visit_id=visit_id)

    async def exit_scan(self, code: str) -> m.ExitScanResponse:
        return await self._one("exit_scan", m.ExitScanResponse, {"code": code})

    # staff sign-in

    async def staff_sign_in(
        self, *, staff_id: str | None = None, pin: str | None = None, badge: str | None = None
    ) -> m.StaffSignInResponse:
        """Sign a person in (staff number and PIN, or a badge); the answer holds the session."""
        fields = {"staff_id": staff_id, "pin": pin, "badge": badge}
        body = {k: v for k, v in fields.items() if v}
        return await self._one("staff_sign_in", m.StaffSignInResponse, body)

    async def staff_me(self) -> m.StaffMeResponse:
        return await self._one("staff_me", m.StaffMeResponse)

    async def staff_sign_out(self) -> m.SignOutResponse:
        return await self._one("staff_sign_out", m.SignOutResponse)

    # boards, the exit point, the marshal

    async def observation_board(self) -> m.ObservationBoardResponse:
        """Everyone in observation, and the event number to follow the feed from."""
        return await self._one("observation_board", m.ObservationBoardResponse)

    async def call_board(self) -> m.CallBoardResponse:
        """The people being called now, the stations and their zones."""
        return await self._one("call_board", m.CallBoardResponse)

    async def dashboard(self) -> m.DashboardResponse:
        return await self._one("dashboard", m.DashboardResponse)

    async def devices(self) -> list[m.DeviceResponse]:
        """Every device's latest health report."""
        return await self._many("devices", m.DeviceResponse)

    async def set_walk_in_capacity(self, capacity: int) -> m.WalkInCapacityResponse:
        body = {"capacity": capacity}
        return await self._one("set_walk_in_capacity", m.WalkInCapacityResponse, body)

    async def close_day(self) -> m.DayClosedResponse:
        """Close the site day: check-ins refused, its people finish (see ops.service.close_day)."""
        return await self._one("close_day", m.DayClosedResponse)

    async def open_next_day(self) -> m.DayOpenedResponse:
        """Open the day after a closed one before its turn, once its people have finished."""
        return await self._one("open_next_day", m.DayOpenedResponse)

    async def exit_certificate_scan(self, code: str) -> m.ExitCertificateScanResponse:
        """The exit scan that answers (and prints, when configured) the certificate."""
        body = {"code": code}
        return await self._one("exit_certificate_scan", m.ExitCertificateScanResponse, body)

    async def reprints(self) -> m.ReprintsResponse:
        return await self._one("reprints", m.ReprintsResponse)

    async def reprint_certificate(self, visit_id: int) -> m.ReprintResponse:
        return await self._one("reprint_certificate", m.ReprintResponse, visit_id=visit_id)

    async def clear_throttles(
        self, *, staff_id: str | None = None, device: str | None = None
    ) -> m.ThrottleClearResponse:
        """Clear the sign-in throttles of a staff number or a device (both None: all)."""
        fields = {"staff_id": staff_id, "device": device}
        body = {k: v for k, v in fields.items() if v}
        return await self._one("clear_throttles", m.ThrottleClearResponse, body)

    async def verify_certificate(self, text: str) -> m.CertificateVerifyResponse:
        """A certificate QR's text: valid with what it says, or why not."""
        body = {"text": text}
        return await self._one("verify_certificate", m.CertificateVerifyResponse, body)
