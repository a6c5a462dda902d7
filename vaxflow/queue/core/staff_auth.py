"""Who is at the device: staff sign-in with a PIN or badge, sessions, throttles. Pure: no I/O.

The device's bearer token says which device calls; a staff session says which person. Both
are kept in memory only: the session token as a SHA-256 digest, PIN hashes come from the site
file. A server restart therefore signs everyone out (safe, and the pages then ask again); the
throttles are read back from the audit trail, so a restart frees nobody who is guessing.

Failed sign-ins slow down, they never lock a person out (issue 17): attempts are counted per
(staff number or badge, device) and per device, and after the free tries each further failure
doubles the wait from 15 seconds, up to the site's cap. Someone guessing from one kiosk slows
that kiosk only; the person keeps signing in at their own console. Every failure has one
answer (`sign_in_failed`), whether the number, the badge or the PIN was wrong.
Time is passed in, so tests step through idle timeouts and throttles without waiting.
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
THROTTLE_CLEARED = EventKind.STAFF_THROTTLE_CLEARED

#: Device roles whose POSTs are a person's action (kiosks and boards are machines; admin
#: tokens serve scripts and imports).
PERSON_ROLES: frozenset[Role] = frozenset({"station", "observer", "marshal"})
#: The first wait after the free tries, in seconds; each further failure doubles it.
FIRST_DELAY_SECONDS = 15.0
#: Free failures of one device (any numbers) before it is slowed: a few people mistyping.
DEVICE_FREE_FAILURES = 10
#: Counters of staff numbers nobody has, and of devices, kept at most (the oldest unslowed
#: forgotten first). Counters of the site's real staff numbers are never forgotten, so a
#: flood of made-up numbers cannot wash a real throttle out of the table.
MAX_TRACKED = 10_000
#: A PIN hash to check when the staff number is unknown, so both answers take as long.
_DUMMY = parse_hash(
    "scrypt$16384$8$1$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
)
#: What a failed badge attempt is counted as, before its owner is known.
BADGE = "badge"


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

    reason: str | None  # None: signed in; else sign_in_failed, staff_role_forbidden, ...
    staff_id: str | None = None
    session: StaffSession | None = None
    token: str | None = None
    retry_after_seconds: float = 0.0
    throttled_now: bool = False  # this failure started (or lengthened) a wait


@dataclass(frozen=True)
class Claim:
    """Who a sign-in says it is, after the PIN or badge check, before throttles and roles."""

    staff_id: str | None
    person: StaffMember | None
    reason: str | None
    subject: str | None = None  # what the failure counts against: a staff number, or BADGE


@dataclass
class _Count:
    failures: int = 0
    last: datetime | None = None
    until: datetime | None = None


class Throttle:
    """Failed sign-ins per (subject, device) and per device; growing waits, no global lock."""

    def __init__(
        self,
        *,
        free: int,
        cap: timedelta,
        known: Iterable[str],
        device_free: int = DEVICE_FREE_FAILURES,
    ) -> None:
        self.free = free
        self.device_free = device_free
        self.cap = cap
        self._known = frozenset(known)
        self._pairs: dict[tuple[str, str], _Count] = {}  # real staff numbers: never evicted
        self._others: OrderedDict[tuple[str, str], _Count] = OrderedDict()
        self._devices: OrderedDict[str, _Count] = OrderedDict()

    def _delay(self, failures: int, free: int) -> timedelta:
        if failures < free:
            return timedelta(0)
        seconds = FIRST_DELAY_SECONDS * 2.0 ** min(failures - free, 30)
        return min(timedelta(seconds=seconds), self.cap)

    def _pair(self, subject: str, device: str, *, create: bool) -> _Count | None:
        key = (subject, device)
        table: dict[tuple[str, str], _Count] = (
            self._pairs if subject in self._known else self._others
        )
        found = table.get(key)
        if found is None and create:
            found = table[key] = _Count()
            if table is self._others:
                _bound(self._others)
        elif found is not None and table is self._others:
            self._others.move_to_end(key)
        return found

    def _fresh(self, count: _Count | None, now: datetime) -> _Count | None:
        """A counter, or None once quiet for longer than the cap (the slate is clean)."""
        if count is None or count.last is None:
            return count
        if now - count.last > self.cap and (count.until is None or count.until <= now):
            count.failures, count.until = 0, None
        return count

    def wait(self, subject: str | None, device: str, now: datetime) -> float:
        """Seconds before `subject` may try again at `device` (0: now)."""
        counts = [self._fresh(self._devices.get(device), now)]
        if subject is not None:
            counts.append(self._fresh(self._pair(subject, device, create=False), now))
        ends = [c.until for c in counts if c is not None and c.until is not None]
        longest = max(ends, default=now)
        return max(0.0, (longest - now).total_seconds())

    def fail(self, subject: str | None, device: str, now: datetime) -> tuple[float, bool]:
        """Count a failure; answers the wait it leaves and whether a wait began with it."""
        dev = self._fresh(self._devices.get(device), now) or _Count()
        self._devices[device] = dev
        self._devices.move_to_end(device)
        _bound(self._devices)
        counts = [(dev, self.device_free)]
        if subject is not None:
            pair = self._fresh(self._pair(subject, device, create=True), now)
            assert pair is not None
            counts.append((pair, self.free))
        began = False
        for count, free in counts:
            count.failures += 1
            count.last = now
            delay = self._delay(count.failures, free)
            if delay:
                count.until = now + delay
                began = True
        return self.wait(subject, device, now), began

    def succeed(self, subject: str, device: str) -> None:
        """A right PIN: that person's count at that device starts again (the device's stays)."""
        self._pairs.pop((subject, device), None)
        self._others.pop((subject, device), None)

    def clear(self, *, subject: str | None = None, device: str | None = None) -> int:
        """Forget the counts of a staff number (everywhere), of a device, or both together."""
        cleared = 0
        for table in (self._pairs, self._others):
            for key in [
                k
                for k in table
                if (subject is None or k[0] == subject) and (device is None or k[1] == device)
            ]:
                del table[key]
                cleared += 1
        if device is not None and self._devices.pop(device, None) is not None:
            cleared += 1
        if subject is None and device is None:
            cleared += len(self._devices)
            self._devices.clear()
        return cleared

    def tracked(self) -> int:
        return len(self._pairs) + len(self._others) + len(self._devices)


def _bound(table: OrderedDict[Any, _Count]) -> None:
    """Keep a table at MAX_TRACKED: forget the oldest counters that are not slowing anyone;
    only when every one is, the oldest of all."""
    if len(table) <= MAX_TRACKED:
        return
    for key, count in table.items():
        if count.until is None:
            del table[key]
            return
    table.popitem(last=False)


def token_digest(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8")).digest()


@dataclass
class StaffAuth:
    """The site's staff, their sessions and the sign-in throttles."""

    settings: Settings
    sessions: dict[bytes, StaffSession] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.rules = self.settings.staff_sign_in
        self._pins = {p.id: parse_hash(p.pin_hash) for p in self.settings.staff}
        self.throttle = Throttle(
            free=self.rules.max_failed_attempts,
            cap=timedelta(minutes=self.rules.lockout_minutes),
            known=self._pins,
        )
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

    @staticmethod
    def subject(staff_id: str | None, badge: str | None) -> str | None:
        """What an attempt counts against before its check: the number, or "a badge"."""
        return BADGE if badge is not None and staff_id is None else staff_id

    def wait(self, staff_id: str | None, badge: str | None, device: str, now: datetime) -> float:
        """Seconds this attempt must wait before it is checked at all (no scrypt is spent)."""
        return self.throttle.wait(self.subject(staff_id, badge), device, now)

    def restore(self, trail: Iterable[tuple[str, datetime, dict[str, Any]]]) -> None:
        """Throttles again after a restart, from the audit trail's sign-in events (kind, time,
        payload) in order: restarting the server must not free anyone who is guessing.
        Sessions are not restored: everyone signs in again."""
        for kind, at, payload in trail:
            device = payload.get("device")
            subject = payload.get("subject", payload.get("staff_id"))
            if not isinstance(device, str):
                continue
            if kind == SIGN_IN_FAILED and payload.get("reason") == "sign_in_failed":
                self.throttle.fail(subject if isinstance(subject, str) else None, device, at)
            elif kind == SIGNED_IN and isinstance(subject, str):
                self.throttle.succeed(subject, device)
            elif kind == THROTTLE_CLEARED:
                self.throttle.clear(
                    subject=payload.get("staff_id") or None, device=payload.get("for_device")
                )

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
        subject = self.subject(staff_id, badge)
        if badge is not None:
            person = self.find_badge(badge)
            if person is None or (staff_id is not None and staff_id != person.id):
                return Claim(staff_id, None, "sign_in_failed", subject)
            staff_id, needs_pin = person.id, self.rules.badge_needs_pin
            subject = person.id  # a known badge's wrong PIN counts against its owner
        if staff_id is None:
            return Claim(None, None, "staff_id_required")
        if not needs_pin:
            return Claim(staff_id, person, None, subject)
        if not pin:
            return Claim(staff_id, None, "pin_required")
        stored = self._pins.get(staff_id)
        if not verify(pin, stored or _DUMMY) or stored is None:
            return Claim(staff_id, None, "sign_in_failed", subject)
        return Claim(staff_id, person or self.settings.staff_member(staff_id), None, subject)

    def settle(
        self, claim: Claim, *, device_role: Role, device_actor: str, device: str, now: datetime
    ) -> SignInResult:
        """The quick half: throttles, roles, the new session. Runs on the event loop."""
        if claim.reason == "sign_in_failed":
            wait, began = self.throttle.fail(claim.subject, device, now)
            return SignInResult("sign_in_failed", claim.staff_id, None, None, wait, began)
        if claim.reason is not None or claim.person is None:
            return SignInResult(claim.reason or "sign_in_failed", claim.staff_id)
        person = claim.person
        self.throttle.succeed(person.id, device)
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
        device: str | None = None,
        now: datetime,
    ) -> SignInResult:
        """Check a staff number + PIN, or a badge (+ PIN when the site wants both)."""
        where = device or device_actor
        wait = self.wait(staff_id, badge, where, now)
        if wait > 0:
            return SignInResult("sign_in_throttled", staff_id, retry_after_seconds=wait)
        claim = self.identify(staff_id=staff_id, pin=pin, badge=badge)
        return self.settle(
            claim, device_role=device_role, device_actor=device_actor, device=where, now=now
        )

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
