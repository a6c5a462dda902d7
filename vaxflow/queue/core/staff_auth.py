"""Who is at the device: staff sign-in with a PIN or badge, sessions, lockout. Pure: no I/O.

The device's bearer token says which device calls; a staff session says which person. Both
are kept in memory only: the session token as a SHA-256 digest, PIN hashes come from the site
file. A server restart therefore signs everyone out (safe, and the pages then ask again); the
failed-attempt counters restart too, which only a person with the server's power can cause.
Time is passed in, so tests step through idle timeouts and lockouts without waiting.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from vaxflow.config import Settings
from vaxflow.config.pins import ScryptHash, derive, parse_hash, verify
from vaxflow.config.schema import Role, StaffMember
from vaxflow.queue.core.events import EventKind

#: Audit events of sign-in: `restore` reads them back after a restart.
SIGNED_IN = EventKind.STAFF_SIGNED_IN
SIGN_IN_FAILED = EventKind.STAFF_SIGN_IN_FAILED
LOCKED = EventKind.STAFF_LOCKED
SIGNED_OUT = EventKind.STAFF_SIGNED_OUT

#: Device roles whose POSTs are a person's action (kiosks and boards are machines; admin
#: tokens serve scripts and imports).
PERSON_ROLES: frozenset[Role] = frozenset({"station", "observer", "marshal"})
#: Unknown staff numbers tried are remembered too (so guessing ids is as slow as guessing
#: PINs), but only this many, oldest forgotten first.
MAX_TRACKED_IDS = 10_000
#: A PIN hash to check when the staff number is unknown, so both answers take as long.
_DUMMY = parse_hash(
    "scrypt$16384$8$1$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
)


@dataclass(frozen=True)
class StaffSession:
    """One signed-in person at one device; the token itself is never kept."""

    staff_id: str
    name: str
    roles: frozenset[str]
    device_actor: str
    started_at: datetime
    last_seen: datetime
    digest_prefix: str

    @property
    def label(self) -> str:
        """How the person appears on dose records: name and staff number."""
        return f"{self.name} ({self.staff_id})"


@dataclass(frozen=True)
class SignInResult:
    """The outcome of one attempt: a session and its token, or why not."""

    reason: str | None  # None: signed in; else wrong_pin, unknown_badge, staff_locked, ...
    staff_id: str | None = None
    session: StaffSession | None = None
    token: str | None = None
    attempts_left: int | None = None
    locked_until: datetime | None = None
    locked_now: bool = False  # this attempt caused the lock


@dataclass(frozen=True)
class Claim:
    """Who a sign-in says it is, after the PIN or badge check, before lockout and roles."""

    staff_id: str | None
    person: StaffMember | None
    reason: str | None


@dataclass
class _Attempts:
    failures: int = 0
    locked_until: datetime | None = None


def token_digest(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8")).digest()


@dataclass
class StaffAuth:
    """The site's staff, their sessions and failed attempts."""

    settings: Settings
    sessions: dict[bytes, StaffSession] = field(default_factory=dict)
    attempts: OrderedDict[str, _Attempts] = field(default_factory=OrderedDict)

    def __post_init__(self) -> None:
        self.rules = self.settings.staff_sign_in
        self._pins = {p.id: parse_hash(p.pin_hash) for p in self.settings.staff}
        # Badges share a salt per site: group them so one scrypt finds the owner.
        self._badges: dict[tuple[int, int, int, bytes, int], list[tuple[bytes, StaffMember]]] = {}
        for person in self.settings.staff:
            if person.badge_hash:
                h = parse_hash(person.badge_hash)
                key = (h.n, h.r, h.p, h.salt, len(h.digest))
                self._badges.setdefault(key, []).append((h.digest, person))

    @property
    def configured(self) -> bool:
        return bool(self.settings.staff)

    # --- sign-in ---------------------------------------------------------------------------

    def locked_until(self, staff_id: str, now: datetime) -> datetime | None:
        """When the lock of a staff number ends, or None when it may try."""
        entry = self.attempts.get(staff_id)
        if entry and entry.locked_until and entry.locked_until > now:
            return entry.locked_until
        if entry and entry.locked_until:  # the lock ran out: a fresh count
            self.attempts.pop(staff_id, None)
        return None

    def _fail(self, staff_id: str, now: datetime) -> SignInResult:
        entry = self.attempts.pop(staff_id, None) or _Attempts()
        entry.failures += 1
        self.attempts[staff_id] = entry  # most recently failed last
        while len(self.attempts) > MAX_TRACKED_IDS:
            self.attempts.popitem(last=False)
        left = self.rules.max_failed_attempts - entry.failures
        if left <= 0:
            entry.locked_until = now + timedelta(minutes=self.rules.lockout_minutes)
            return SignInResult(
                "staff_locked", staff_id, locked_until=entry.locked_until, locked_now=True
            )
        return SignInResult("wrong_pin", staff_id, attempts_left=left)

    def restore(self, trail: Iterable[tuple[str, datetime, dict[str, Any]]]) -> None:
        """Failed attempts and locks again after a restart, from the audit trail's sign-in
        events (kind, time, payload) in order: restarting the server must not unlock a staff
        number someone is guessing. Sessions are not restored: everyone signs in again."""
        for kind, at, payload in trail:
            staff_id = payload.get("staff_id")
            if not isinstance(staff_id, str):
                continue
            # A failure counts once: a wrong PIN, or the one that locked (its own event kind);
            # tries while locked did not count then and do not now.
            if (kind == SIGN_IN_FAILED and payload.get("reason") == "wrong_pin") or kind == LOCKED:
                self._fail(staff_id, at)
            elif kind == SIGNED_IN:
                self.attempts.pop(staff_id, None)

    def find_badge(self, badge: str) -> StaffMember | None:
        """The owner of a badge code: one scrypt per badge salt (normally one per site)."""
        badge = badge.strip()
        found = None
        for (n, r, p, salt, length), entries in self._badges.items():
            digest = derive(badge, ScryptHash(n, r, p, salt, b"\0" * length))
            for stored, person in entries:
                if hmac.compare_digest(stored, digest):
                    found = person
        return found

    def identify(self, *, staff_id: str | None, pin: str | None, badge: str | None) -> Claim:
        """The slow half of a sign-in (scrypt): read-only, so it may run off the event loop."""
        person: StaffMember | None = None
        needs_pin = True
        if badge is not None:
            person = self.find_badge(badge)
            if person is None or (staff_id is not None and staff_id != person.id):
                return Claim(staff_id, None, "unknown_badge")
            staff_id, needs_pin = person.id, self.rules.badge_needs_pin
        if staff_id is None:
            return Claim(None, None, "staff_id_required")
        if not needs_pin:
            return Claim(staff_id, person, None)
        if not pin:
            return Claim(staff_id, None, "pin_required")
        stored = self._pins.get(staff_id)
        if not verify(pin, stored or _DUMMY) or stored is None:
            return Claim(staff_id, None, "wrong_pin")
        return Claim(staff_id, person or self.settings.staff_member(staff_id), None)

    def settle(
        self, claim: Claim, *, device_role: Role, device_actor: str, now: datetime
    ) -> SignInResult:
        """The quick half: lockout, roles, the new session. Runs on the event loop."""
        staff_id = claim.staff_id
        if staff_id is not None:
            until = self.locked_until(staff_id, now)
            if until is not None:  # even the right PIN waits out the lock
                return SignInResult("staff_locked", staff_id, locked_until=until)
        if claim.reason == "wrong_pin" and staff_id is not None:
            return self._fail(staff_id, now)
        if claim.reason is not None or claim.person is None:
            return SignInResult(claim.reason or "wrong_pin", staff_id)
        person = claim.person
        self.attempts.pop(person.id, None)
        if device_role not in person.roles:
            return SignInResult("staff_role_forbidden", person.id)
        token = secrets.token_urlsafe(32)
        digest = token_digest(token)
        session = StaffSession(
            person.id,
            person.name,
            frozenset(person.roles),
            device_actor,
            now,
            now,
            digest.hex()[:8],
        )
        self.sessions[digest] = session
        return SignInResult(None, person.id, session, token)

    def sign_in(
        self,
        *,
        staff_id: str | None,
        pin: str | None,
        badge: str | None,
        device_role: Role,
        device_actor: str,
        now: datetime,
    ) -> SignInResult:
        """Check a staff number + PIN, or a badge (+ PIN when the site wants both)."""
        if staff_id is not None and self.locked_until(staff_id, now) is not None:
            return self.settle(
                Claim(staff_id, None, "staff_locked"),
                device_role=device_role,
                device_actor=device_actor,
                now=now,
            )
        claim = self.identify(staff_id=staff_id, pin=pin, badge=badge)
        return self.settle(claim, device_role=device_role, device_actor=device_actor, now=now)

    # --- sessions --------------------------------------------------------------------------

    def expired(self, session: StaffSession, now: datetime) -> bool:
        idle = now - session.last_seen > timedelta(minutes=self.rules.idle_minutes)
        too_long = now - session.started_at > timedelta(hours=self.rules.max_session_hours)
        return idle or too_long

    def session(self, token: str, now: datetime) -> tuple[StaffSession | None, bool]:
        """The live session of a token, touched; and whether it had just expired (it is
        then forgotten, and the caller records the sign-out)."""
        digest = token_digest(token)
        found = self.sessions.get(digest)
        if found is None:
            return None, False
        if self.expired(found, now):
            del self.sessions[digest]
            return found, True
        touched = replace(found, last_seen=now)
        self.sessions[digest] = touched
        return touched, False

    def sign_out(self, token: str) -> StaffSession | None:
        return self.sessions.pop(token_digest(token), None)

    def sweep(self, now: datetime) -> list[StaffSession]:
        """Forget every expired session; the caller records their sign-outs."""
        gone = [(d, s) for d, s in self.sessions.items() if self.expired(s, now)]
        for digest, _ in gone:
            del self.sessions[digest]
        return [s for _, s in gone]
