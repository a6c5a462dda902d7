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

from vaxflow.queue.api import models as m
from vaxflow.queue.core.errors import Invalid, QueueError
from vaxflow.queue.core.events import EventKind
from vaxflow.queue.core.staff_auth import (
    LOCKED,
    PERSON_ROLES,
    SIGN_IN_FAILED,
    SIGNED_IN,
    SIGNED_OUT,
    THROTTLE_CLEARED,
    SignInResult,
    StaffSession,
)
from vaxflow.queue.server.appkeys import CLOCK, PRINCIPAL, SCRYPT_GATE, SETTINGS, STAFF, STORE
from vaxflow.queue.server.auth import Principal
from vaxflow.queue.server.handlers import json_response, parse_body
from vaxflow.queue.store import views
from vaxflow.queue.store.writer import Tx

HEADER = "X-Staff-Session"
MAX_TOKEN = 200


class _Unauthorized(QueueError):
    status = 401


class _Forbidden(QueueError):
    status = 403


class _Throttled(QueueError):
    status = 429


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
    kinds = (SIGNED_IN, SIGN_IN_FAILED, LOCKED, THROTTLE_CLEARED)
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


def _refusal(result: SignInResult) -> QueueError:
    reason = result.reason or "sign_in_failed"
    wait = round(result.retry_after_seconds, 1)
    if reason == "sign_in_throttled":
        return _Throttled(
            "sign_in_throttled",
            f"Too many failed sign-ins here; try again in {wait:g} s.",
            retry_after_seconds=wait,
        )
    if reason == "sign_in_failed":  # the same for an unknown number or badge and a wrong PIN
        return _Unauthorized(
            "sign_in_failed",
            "Wrong staff number, PIN or badge.",
            retry_after_seconds=wait,
        )
    if reason == "staff_role_forbidden":
        return _Forbidden(
            "staff_role_forbidden",
            f"Staff {result.staff_id} may not sign in at this device.",
            staff_id=result.staff_id,
        )
    if reason == "pin_required":
        return Invalid("pin_required", "Enter the PIN too.")
    return Invalid("staff_id_required", "Enter your staff number or scan your badge.")


def throttle_device(request: web.Request, who: Principal) -> str:
    """The device a sign-in throttle counts: the token's device (X-Device-Id on a demo)."""
    return who.limit_key(demo=request.app[SETTINGS].is_demo)


async def sign_in(request: web.Request) -> web.Response:
    """Throttles first (no scrypt for a slowed attempt), then the PIN or badge off the event
    loop behind a small gate (scrypt), then a session."""
    auth, clock = request.app[STAFF], request.app[CLOCK]
    who = request[PRINCIPAL]
    body, _raw = await parse_body(request, m.StaffSignInRequest)
    device = throttle_device(request, who)
    wait = auth.wait(body.staff_id, body.badge, device, clock.now())
    if wait > 0:
        raise _refusal(SignInResult("sign_in_throttled", retry_after_seconds=wait))
    claim = await request.app[SCRYPT_GATE].run(
        auth, staff_id=body.staff_id, pin=body.pin, badge=body.badge
    )
    result = auth.settle(
        claim, device_role=who.role, device_actor=who.actor, device=device, now=clock.now()
    )
    where = who.device or who.actor
    if result.session is None:
        if result.reason == "sign_in_failed":
            payload: dict[str, Any] = {
                "staff_id": body.staff_id,
                "subject": claim.subject,
                "device": device,
                "reason": "sign_in_failed",
                "by": "badge" if body.badge is not None else "pin",
                "retry_after_seconds": round(result.retry_after_seconds, 1),
            }
            await _record(request.app, who.actor, where, SIGN_IN_FAILED, payload)
            if result.throttled_now:
                await _record(
                    request.app,
                    who.actor,
                    where,
                    LOCKED,
                    {
                        "staff_id": claim.subject,
                        "device": device,
                        "seconds": round(result.retry_after_seconds, 1),
                    },
                )
        raise _refusal(result)
    session = result.session
    await _record(
        request.app,
        f"staff:{session.staff_id}",
        where,
        SIGNED_IN,
        {
            "staff_id": session.staff_id,
            "subject": session.staff_id,
            "device": device,
            "role": who.role,
            "by": "badge" if body.badge is not None else "pin",
            "session": session.digest_prefix,
        },
    )
    return json_response({"session": result.token, **_describe(request, session)})


async def clear_throttles(request: web.Request) -> web.Response:
    """POST /api/staff/throttles/clear: a marshal frees a staff number or a device (audited)."""
    who = request[PRINCIPAL]
    body, _raw = await parse_body(request, m.ThrottleClearRequest)
    throttle = request.app[STAFF].throttle
    cleared = throttle.clear(subject=body.staff_id, device=body.device)
    if body.device is not None and not body.device.startswith("device:"):
        # a device token's name as the site file gives it ([device_tokens.<name>])
        cleared += throttle.clear(subject=body.staff_id, device=f"device:{body.device}")
    await _record(
        request.app,
        who.actor,
        who.device or who.actor,
        THROTTLE_CLEARED,
        {"staff_id": body.staff_id, "for_device": body.device, "cleared": cleared},
    )
    return json_response({"cleared": cleared})


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
