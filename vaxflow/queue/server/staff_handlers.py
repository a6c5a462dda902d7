"""Staff sign-in over HTTP, and the check every guarded request passes (`with_staff`).

A device keeps its bearer token; a person signed in at it sends `X-Staff-Session: TOKEN` too.
The request then acts as `staff:<id>`, so every event names the person. Sign-in answers carry
a live session token, so they are never stored for Idempotency-Key replays: a retried sign-in
makes a second session and the lost one idles out. Sign-out is idempotent by nature.
"""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from typing import Any

from aiohttp import web
from pydantic import Field

from vaxflow.queue.core.errors import Invalid, QueueError
from vaxflow.queue.core.events import EventKind
from vaxflow.queue.core.staff_auth import (
    LOCKED,
    PERSON_ROLES,
    SIGN_IN_FAILED,
    SIGNED_IN,
    SIGNED_OUT,
    Claim,
    SignInResult,
    StaffSession,
)
from vaxflow.queue.server import api_models as m
from vaxflow.queue.server.appkeys import CLOCK, PRINCIPAL, SETTINGS, STAFF, STORE
from vaxflow.queue.server.auth import Principal
from vaxflow.queue.server.handlers import json_response, parse_body
from vaxflow.queue.store import views
from vaxflow.queue.store.writer import Tx

HEADER = "X-Staff-Session"
MAX_TOKEN = 200


class StaffSignInRequest(m._Body):
    staff_id: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_-]{1,20}$")
    pin: str | None = Field(default=None, max_length=12)
    badge: str | None = Field(default=None, min_length=1, max_length=128)


class _Unauthorized(QueueError):
    status = 401


class _Forbidden(QueueError):
    status = 403


class _Locked(QueueError):
    status = 423


def session_token(request: web.Request) -> str | None:
    value = request.headers.get(HEADER, "").strip()
    return value[:MAX_TOKEN] or None


def staff_principal(who: Principal, session: StaffSession) -> Principal:
    """The device's principal acting as a person; the device column keeps which device."""
    return Principal(who.role, f"staff:{session.staff_id}", who.device or who.actor, session)


async def _record(
    app: web.Application, actor: str, device: str | None, kind: EventKind, payload: dict[str, Any]
) -> None:
    def op(tx: Tx) -> None:
        tx.emit(kind, None, payload)

    await app[STORE].write(op, actor=actor, device=device)


async def _signed_out(request: web.Request, session: StaffSession, why: str) -> None:
    await _record_sign_out(request.app, session, why)


#: How far back a restart reads sign-in failures (longer than any lockout a site sets).
RESTORE_HOURS = 24


async def restore_lockouts(app: web.Application) -> None:
    """After a restart: failed attempts and locks from the audit trail (staff_auth.restore)."""
    store, since = app[STORE], app[CLOCK].now() - timedelta(hours=RESTORE_HOURS)
    kinds = (SIGNED_IN, SIGN_IN_FAILED, LOCKED)
    rows = await store.read(lambda conn: views.events_since(conn, store.site_id, kinds, since))
    app[STAFF].restore((r.kind, r.at, json.loads(r.payload)) for r in rows)


#: Seconds between looks for sessions that ended by idling.
SWEEP_SECONDS = 60.0


async def sweep_idle_sessions(app: web.Application, every: float = SWEEP_SECONDS) -> None:
    """Sign out, with an audit event, whoever walked away from a console: the trail then
    says when a session ended even if nobody uses that console again."""
    while True:
        await asyncio.sleep(every)
        for session in app[STAFF].sweep(app[CLOCK].now()):
            await _record_sign_out(app, session, "idle")


async def _record_sign_out(app: web.Application, session: StaffSession, why: str) -> None:
    await _record(
        app,
        f"staff:{session.staff_id}",
        session.device_actor,
        SIGNED_OUT,
        {"staff_id": session.staff_id, "why": why, "session": session.digest_prefix},
    )


async def with_staff(
    request: web.Request, who: Principal, *, exempt: bool, post: bool
) -> Principal:
    """The principal of a guarded request: the signed-in person if a session is sent; refuse
    staff actions without one when the site requires sign-in."""
    auth = request.app[STAFF]
    token = session_token(request)
    if exempt:
        return who
    if token is not None:
        session, just_expired = auth.session(token, request.app[CLOCK].now())
        if just_expired and session is not None:
            await _signed_out(request, session, "idle")
        if session is None or just_expired or session.device_actor != who.actor:
            raise _Unauthorized(
                "staff_session_expired", "The staff sign-in has ended; sign in again."
            )
        if who.role not in session.roles:
            raise _Forbidden(
                "staff_role_forbidden",
                f"Staff {session.staff_id} may not act as {who.role}.",
                staff_id=session.staff_id,
                role=who.role,
            )
        return staff_principal(who, session)
    if post and auth.rules.required and who.role in PERSON_ROLES:
        raise _Unauthorized(
            "staff_sign_in_required", "Sign in with your staff number and PIN first."
        )
    return who


def _refusal(result: SignInResult, now_minutes: int) -> QueueError:
    reason = result.reason or "wrong_pin"
    if reason == "staff_locked":
        return _Locked(
            "staff_locked",
            f"Too many wrong PINs: staff {result.staff_id} is locked for {now_minutes} minutes.",
            minutes=now_minutes,
            locked_until=result.locked_until.isoformat() if result.locked_until else None,
        )
    if reason == "wrong_pin":
        return _Unauthorized(
            "wrong_pin",
            f"Wrong staff number or PIN; {result.attempts_left} tries left.",
            attempts_left=result.attempts_left,
        )
    if reason == "staff_role_forbidden":
        return _Forbidden(
            "staff_role_forbidden",
            f"Staff {result.staff_id} may not sign in at this device.",
            staff_id=result.staff_id,
        )
    if reason == "unknown_badge":
        return _Unauthorized("unknown_badge", "This badge is not known at this site.")
    if reason == "pin_required":
        return Invalid("pin_required", "Enter the PIN too.")
    return Invalid("staff_id_required", "Enter your staff number or scan your badge.")


async def sign_in(request: web.Request) -> web.Response:
    """Check the PIN or badge off the event loop (scrypt), then open a session."""
    auth, clock = request.app[STAFF], request.app[CLOCK]
    who = request[PRINCIPAL]
    body, _raw = await parse_body(request, StaffSignInRequest)
    claimed = body.staff_id
    if claimed is not None and auth.locked_until(claimed, clock.now()) is not None:
        claim = None  # locked: do not spend scrypt on it
    else:
        claim = await asyncio.to_thread(
            auth.identify, staff_id=claimed, pin=body.pin, badge=body.badge
        )
    result = auth.settle(
        claim or Claim(claimed, None, "staff_locked"),
        device_role=who.role,
        device_actor=who.actor,
        now=clock.now(),
    )
    device = who.device or who.actor
    if result.session is None:
        minutes = auth.rules.lockout_minutes
        payload: dict[str, Any] = {"staff_id": result.staff_id, "reason": result.reason}
        if result.attempts_left is not None:
            payload["attempts_left"] = result.attempts_left
        await _record(request.app, who.actor, device, SIGN_IN_FAILED, payload)
        if result.locked_now:
            await _record(
                request.app,
                who.actor,
                device,
                LOCKED,
                {"staff_id": result.staff_id, "minutes": minutes},
            )
        raise _refusal(result, minutes)
    session = result.session
    await _record(
        request.app,
        f"staff:{session.staff_id}",
        device,
        SIGNED_IN,
        {
            "staff_id": session.staff_id,
            "role": who.role,
            "by": "badge" if body.badge is not None else "pin",
            "session": session.digest_prefix,
        },
    )
    return json_response({"session": result.token, **_describe(request, session)})


def _describe(request: web.Request, session: StaffSession | None) -> dict[str, Any]:
    rules = request.app[SETTINGS].staff_sign_in
    answer: dict[str, Any] = {
        "signed_in": session is not None,
        "required": rules.required,
        "configured": request.app[STAFF].configured,
        "idle_minutes": rules.idle_minutes,
        "badge_needs_pin": rules.badge_needs_pin,
    }
    if session is not None:
        answer["staff"] = {
            "id": session.staff_id,
            "name": session.name,
            "label": session.label,
            "roles": sorted(session.roles),
        }
    return answer


async def sign_out(request: web.Request) -> web.Response:
    """End the sent session; a session already gone is fine (a retried sign-out)."""
    token = session_token(request)
    session = request.app[STAFF].sign_out(token) if token else None
    if session is not None:
        await _signed_out(request, session, "sign_out")
    return json_response({"signed_out": session is not None})


async def me(request: web.Request) -> web.Response:
    """Who is signed in with the sent session (if any), and the site's sign-in rules."""
    return json_response(_describe(request, request[PRINCIPAL].staff))
