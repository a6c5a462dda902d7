"""The soak's day: its plan, the server process, the people, and the kiosks, stations and
exit desks that drive the server until everyone has left."""

from __future__ import annotations

import asyncio
import heapq
import random
import re
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from datetime import time as dt_time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
from stdnum.cn import ric

from vaxflow.clock import SystemClock
from vaxflow.config import LaneKind, demo_text
from vaxflow.queue.bookings import signed_qr
from vaxflow.queue.bookings.csv_import import check_csv, to_csv
from vaxflow.queue.core import engine
from vaxflow.queue.demo.demo_data import make_people
from vaxflow.queue.demo.demo_day import kiosk_body, make_day
from vaxflow.queue.store.bookings import import_bookings
from vaxflow.queue.store.db import database_url
from vaxflow.queue.store.writer import Store

TOKENS = {role: {"Authorization": f"Bearer demo-{role}-token"} for role in ("kiosk", "station")}
TOKENS["observer"] = {"Authorization": "Bearer demo-observer-token"}
TOKENS["marshal"] = {"Authorization": "Bearer demo-marshal-token"}
EXIT_DESKS = 4
QR_KEY_ID = "soak-run"
BOOKING_URL = "https://booking.vaxflow.invalid/b"


@dataclass(frozen=True)
class Plan:
    """How big a day, how fast, and how many faults."""

    people: int = 20_000
    speed: float = 20.0
    kiosks: int = 30
    kills: int = 6
    print_faults: float = 0.03
    signed: float = 0.15  # share who bring a signed booking QR (VXB1...)
    walk_ins: float = 0.2  # share without a booking; everyone else is on the day list
    elderly: float = 0.2  # share of walk-ins 60 or older (the booked: a fifth, as in the demo)
    rescans: float = 0.01  # booked people who scan their booking again after their ticket
    wrong_session: float = 0.005  # on the list for the evening session, come in the morning
    early: float = 0.05  # share of people who try to leave 5 minutes early
    seed: int = 1
    opens: str = "07:00"  # site time the day starts at, on today's date in the site's zone


@dataclass
class Figures:
    """What happened, for the report and the test's figures."""

    people: int = 0
    mix: dict[str, int] = field(default_factory=dict)  # day list, signed QR, walk-in
    day_list: dict[str, int] = field(default_factory=dict)  # adult, booster, child, card-only...
    checked_in: int = 0
    by_lane: dict[str, int] = field(default_factory=dict)  # tickets issued per lane
    dosed: int = 0
    released: int = 0
    kills: int = 0
    printer_faults: int = 0
    retried: int = 0  # requests sent again with their key after no answer or a 503
    early_scans: int = 0  # exit scans the server answered "not yet"
    requests: int = 0
    rescans: int = 0  # second scans of a used booking, answered with the ticket already issued
    refused: dict[str, int] = field(default_factory=dict)  # by reason; all of them expected
    server_errors: int = 0
    wall_seconds: float = 0.0
    site_hours: float = 0.0
    downtime_seconds: float = 0.0
    invariants: dict[str, int] = field(default_factory=dict)
    lost: int = 0


# --- the server: one process at a time on one port and one file ----------------------------


def site_file(folder: Path, public_key: str) -> Path:
    """The demo site for a whole day: capacity for every walk-in, no kiosk limit, and the
    public key of the run's signed booking QRs (as `vaxflow demo` adds its own)."""
    text = demo_text()
    text = text.replace("[server]\n", "[server]\nkiosk_requests_per_second = 10000\n", 1)
    text, count = re.subn(r"(?m)^daily_capacity\s*=\s*\d+", "daily_capacity = 1000000", text)
    assert count == 1, "vaxflow/config/demo.toml has no walk_in.daily_capacity"
    keys = f'[booking]\npublic_keys = {{ {QR_KEY_ID} = "{public_key}" }}\n'
    text, count = re.subn(r"(?m)^\[booking\]\n", keys, text)
    assert count == 1, "vaxflow/config/demo.toml has no [booking] table"
    path = folder / "soak-site.toml"
    path.write_text(text, encoding="utf-8")
    return path


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Server:
    """`vaxflow server` with a rehearsal clock that carries on across restarts."""

    def __init__(self, folder: Path, config: Path, db: Path, speed: float, opens: datetime):
        self.folder, self.config, self.db, self.speed = folder, config, db, speed
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.opens = opens
        self.wall_start = 0.0
        self.proc: subprocess.Popen[bytes] | None = None
        self.runs = 0

    def site_now(self) -> datetime:
        """Where the day has got to: the site time the next process starts from."""
        return self.opens + timedelta(seconds=(time.time() - self.wall_start) * self.speed)

    def start(self, timeout: float = 30.0) -> None:
        if not self.runs:
            self.wall_start = time.time()
        self.runs += 1
        out = self.folder / f"server-{self.runs}.out"
        vaxflow = Path(sys.executable).with_name("vaxflow")
        command = [str(vaxflow), "server", "--config", str(self.config), "--db", str(self.db)]
        command += ["--port", str(self.port), "--speed", f"{self.speed:g}"]
        command += ["--start", self.site_now().isoformat()]
        with out.open("wb") as stdout, (self.folder / f"server-{self.runs}.err").open("wb") as err:
            self.proc = subprocess.Popen(command, stdout=stdout, stderr=err)
        deadline = time.monotonic() + timeout
        while "listening on" not in out.read_text(errors="replace"):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the server did not start: {self.log()}")
            time.sleep(0.05)

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        assert self.proc.wait(10) == -signal.SIGKILL

    def stop(self) -> int:
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else 0
        self.proc.send_signal(signal.SIGINT)
        try:
            return self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)
            return -signal.SIGKILL

    def log(self) -> str:
        return (self.folder / f"server-{self.runs}.err").read_text(errors="replace")[-3000:]


# --- the people ---------------------------------------------------------------------------


def walk_in(
    index: int, elderly: bool, product: str, questions: tuple[str, ...], consent: str
) -> dict[str, Any]:
    """A walk-in with a valid resident ID number unique to `index`."""
    base = date(1950, 1, 1) if elderly else date(1975, 1, 1)
    birth = base + timedelta(days=index // 499)
    body17 = f"{'310101' if elderly else '110101'}{birth:%Y%m%d}{(index % 499) * 2 + 1:03d}"
    return {
        "walk_in": {
            "name": "王芳" if index % 2 else "李强",
            "id_number": body17 + ric.calc_check_digit(body17 + "0"),
            "birth_date": birth.isoformat(),
            "sex": "male",
            "product": product,
        },
        "answers": {q: False for q in questions},
        "consent_version": consent,
    }


@dataclass(frozen=True)
class Person:
    """Someone who comes to the site: what the kiosk sends for them, and what must happen."""

    index: int
    kind: str  # "list" (on the day list), "qr" (signed booking QR) or "walk_in"
    body: dict[str, Any]
    lane: str  # the lane their ticket must be in ("" if they are to be turned away)
    code: str | None = None  # their booking's code
    refused: str = ""  # the reason they are to be turned away with, if any
    rescans: bool = False  # scans the booking again after the ticket is out
    who: str = ""  # on the day list: adult, booster, child or other_maker (demo_day)
    card_only: bool = False  # on the day list, brings only the ID card (sent as a walk-in)
    dose: int = 1  # the dose number the server must decide from the history
    booster: bool = False  # that dose is a booster
    guardian: str = ""  # a child's guardian's relation, recorded with the consent


def _some(count: int, share: float) -> int:
    """`share` of `count`, at least one when the share is not nil (a small day has one too)."""
    return max(1, round(count * share)) if share > 0 and count else 0


def _unique(people: list[Any], seen: set[str], count: int) -> list[Any]:
    """The first `count` people whose ID number nobody else has (generated ones can clash)."""
    kept = []
    for person in people:
        if person.id_number not in seen:
            seen.add(person.id_number)
            kept.append(person)
    assert len(kept) >= count, f"only {len(kept)} distinct people for {count}"
    return kept[:count]


def day_people(
    plan: Plan, settings: Any, opens: datetime, private_key: str
) -> tuple[list[Person], list[Any]]:
    """The day's people in their order of arrival, and the day list (bookings) to import.

    Most are on the day list: their kiosk sends the scanned booking (its code, or the booking
    app's link) or the code typed, with the ID card the reader took. Some bring a signed
    booking QR (`VXB1...`, signed with the run's key). The rest walk in. Booked people 60 or
    older, and booked second doses with no earlier dose on record, get the priority lane.
    A few on the list are booked for the evening session but come in the morning: they are
    turned away `too_early`; a few booked people scan their booking again after their ticket
    is out and are told `already_checked_in` with the same ticket.
    """

    zone = ZoneInfo(settings.site.timezone)
    day = opens.date()
    rng = random.Random(plan.seed * 7919 + 1)
    walkers = round(plan.people * plan.walk_ins)
    signed = round(plan.people * plan.signed)
    listed = plan.people - walkers - signed
    wrong = _some(listed, plan.wrong_session)
    morning = (opens, opens + timedelta(hours=6))  # the session nearly everyone is booked in
    evening = (datetime.combine(day, dt_time(19), zone), datetime.combine(day, dt_time(20), zone))
    assert evening[0] - timedelta(hours=2) > opens, "the soak's day opens too late"
    seen: set[str] = set()
    margin = plan.people // 50 + 20
    on_list = _unique(make_day(settings, day, listed + margin, seed=plan.seed + 6), seen, listed)
    # Those booked for the evening are adults who scan their booking: one reason each.
    evening_ones = [n for n, p in enumerate(on_list) if p.kind == "adult" and not p.card_only]
    late = set(evening_ones[:wrong])
    day_list = []
    window: tuple[datetime | None, datetime | None]
    for n, demo in enumerate(on_list):
        booking = demo.booking
        if n in late:
            window = evening
        elif n % 10 == 9:  # the list need not give a window: then the whole day is theirs
            window = (None, None)
        else:
            window = morning
        day_list.append(replace(booking, window_start=window[0], window_end=window[1]))
    with_qr = [
        replace(booking, code=f"SQR{n:05d}", window_start=morning[0], window_end=morning[1])
        for n, booking in enumerate(
            _unique(make_people(settings, day, signed + margin, seed=plan.seed + 10), seen, signed),
            start=1,
        )
    ]
    questions = tuple(q.id for q in settings.questions)
    screening = {
        "answers": {q: False for q in questions},
        "consent_version": settings.consent.version,
    }
    review_age = settings.age.review_age_years

    def lane(booking: Any, review: bool = False) -> str:
        """The day list and the signed QR both carry every earlier dose of the booking; a
        child brought by a grandparent (`review`) sees a doctor too."""
        elderly = review_age is not None and engine.age_on(booking.birth_date, day) >= review_age
        unverified = booking.dose_number > 1 and not booking.prior_doses
        review = review or elderly or unverified
        return engine.lane_for_check_in(settings, walk_in=False, review=review)

    def card(booking: Any) -> dict[str, Any]:
        return {
            "id_type": booking.id_type,
            "id_number": booking.id_number,
            "name": booking.person_name,
            "birth_date": booking.birth_date.isoformat(),
            "sex": booking.sex,
        }

    def dose_of(booking: Any) -> dict[str, Any]:
        """The dose the history decides: the earlier doses plus one; after a whole series, a
        booster (the demo's histories hold one series, every dose counted)."""
        first = settings.product(booking.prior_doses[0].product) if booking.prior_doses else None
        earlier = len(booking.prior_doses)
        booster = first is not None and earlier >= first.doses_in_series
        return {"dose": earlier + 1, "booster": booster}

    people: list[Person] = []
    for n, (booking, demo) in enumerate(zip(day_list, on_list, strict=True)):
        scan = rng.random()
        if scan < 0.7:  # the booking app's QR with the bare code
            shown: dict[str, Any] = {"booking_qr": booking.code}
        elif scan < 0.9:  # the booking app's QR with a link
            shown = {"booking_qr": f"{BOOKING_URL}?code={booking.code}"}
        else:  # the code typed on the kiosk's keypad
            shown = {"booking_code": booking.code}
        # Card-only people send the card as a walk-in: the server finds their booking.
        body = {**kiosk_body(demo, shown), **screening}
        body["walk_in" if demo.card_only else "id_card"] = card(booking)
        refused = "too_early" if n in late else demo.refused
        expected = "" if refused else lane(booking, demo.review)
        people.append(
            Person(
                0,
                "list",
                body,
                expected,
                booking.code,
                refused,
                who=demo.kind,
                card_only=demo.card_only,
                **dose_of(booking),
                guardian=(demo.guardian or {}).get("relation", ""),
            )
        )
    for booking in with_qr:
        qr = signed_qr.sign(booking, private_key, QR_KEY_ID, settings.site.timezone)
        body = {"booking_qr": qr, "id_card": card(booking), **screening}
        people.append(Person(0, "qr", body, lane(booking), booking.code, **dose_of(booking)))
    walk_lane = settings.lane_of_kind(LaneKind.WALK_IN).prefix
    review_lane = engine.lane_for_check_in(settings, walk_in=True, review=True)
    products = [s.products[n % len(s.products)] for n, s in enumerate(settings.stations)]
    number = 0
    for _ in range(walkers):
        while True:
            number += 1
            body = walk_in(
                number,
                rng.random() < plan.elderly,
                rng.choice(products),
                questions,
                settings.consent.version,
            )
            if body["walk_in"]["id_number"] not in seen:
                seen.add(body["walk_in"]["id_number"])
                break
        birth = date.fromisoformat(body["walk_in"]["birth_date"])
        elderly = review_age is not None and engine.age_on(birth, day) >= review_age
        people.append(Person(0, "walk_in", body, review_lane if elderly else walk_lane))
    booked = [n for n, p in enumerate(people) if p.code is not None and not p.refused]
    rescanning = set(rng.sample(booked, min(len(booked), _some(len(booked), plan.rescans))))
    people = [replace(p, rescans=n in rescanning) for n, p in enumerate(people)]
    rng.shuffle(people)
    return [replace(p, index=n) for n, p in enumerate(people)], day_list


async def import_day_list(db: Path, settings: Any, day: date, day_list: list[Any]) -> int:
    """The day list into the database before the server opens it, as `vaxflow demo` does:
    written as the booking CSV, checked by its importer, then imported."""

    text = to_csv(day_list, settings.site.timezone)
    checked = check_csv(text.encode("utf-8"), settings, day)
    assert not checked.problems, checked.problems[:3]
    store = Store(database_url(str(db)), site_id=settings.site.id, clock=SystemClock())
    await store.start()
    try:
        result = await store.write(
            lambda tx: import_bookings(tx, checked.bookings), actor="soak:import"
        )
    finally:
        await store.stop()
    assert result.added == len(day_list) and not result.conflicts, result
    return result.added


# --- the day ------------------------------------------------------------------------------


class Day:
    """Kiosks, stations, the exit and the chaos, against `server`, until everyone has left."""

    def __init__(self, plan: Plan, server: Server, settings: Any, people: list[Person]) -> None:
        self.plan, self.server, self.people = plan, server, people
        # Each station opens with one of its products, so that every product is given.
        self.stations = {
            s.id: s.products[n % len(s.products)] for n, s in enumerate(settings.stations)
        }
        self.questions = tuple(q.id for q in settings.questions)
        self.consent = settings.consent.version
        self.kiosks_done = False
        self.rng = random.Random(plan.seed)
        who = Counter(p.who for p in people if p.who)
        who["card_only"] = sum(p.card_only for p in people)
        self.figures = Figures(
            people=len(people), mix=dict(Counter(p.kind for p in people)), day_list=dict(who)
        )
        self.acked: dict[int, dict[str, Any]] = {}  # person -> check-in answer
        self.turned_away: dict[int, str] = {}  # person -> reason
        self.rescanned: dict[int, tuple[int, Any]] = {}  # person -> answer to the second scan
        self.doses: dict[int, dict[str, Any]] = {}  # visit -> record-dose answer
        self.released: set[int] = set()
        self.print_failed: set[int] = set()  # visits whose first print failed
        self.leaving: list[tuple[datetime, int, str, int]] = []  # (ends_at, visit, ticket, try)
        self._offset = timedelta(0)  # the server's clock minus ours
        self._next_person = 0
        self._kill_at = sorted(
            self.rng.sample(range(1, len(people)), min(plan.kills, len(people) - 1))
        )
        self._restarting: asyncio.Event = asyncio.Event()
        self._restarting.set()  # set: the server is up
        self._session: aiohttp.ClientSession | None = None

    # --- requests: every one retried with its key until answered ---------------------------

    async def call(
        self, method: str, path: str, role: str, key: str = "", body: Any = None
    ) -> tuple[int, Any]:
        assert self._session is not None
        headers = dict(TOKENS[role])
        if key:
            headers["Idempotency-Key"] = key
        headers["X-Device-Id"] = f"soak-{role}"
        first = True
        while True:
            await self._restarting.wait()
            if not first:
                self.figures.retried += 1
            first = False
            self.figures.requests += 1
            try:
                async with self._session.request(
                    method, self.server.url + path, json=body, headers=headers
                ) as response:
                    data = await response.json(content_type=None)
                    status = response.status
            except (aiohttp.ClientError, TimeoutError, ValueError):
                await asyncio.sleep(0.1)
                continue
            if status == 503:
                await asyncio.sleep(0.1)
                continue
            if status >= 500:
                self.figures.server_errors += 1
                await asyncio.sleep(0.1)
                continue
            if status >= 400:
                reason = str((data or {}).get("error", {}).get("reason", status))
                self.figures.refused[reason] = self.figures.refused.get(reason, 0) + 1
            return status, data

    # --- the parts of the site -------------------------------------------------------------

    async def kiosk(self) -> None:
        while self._next_person < len(self.people):
            person = self.people[self._next_person]
            self._next_person += 1
            key = f"in-{person.index}"
            status, answer = await self.call("POST", "/api/checkins", "kiosk", key, person.body)
            if status != 200:
                self.turned_away[person.index] = str(answer.get("error", {}).get("reason"))
                continue
            self.acked[person.index] = answer
            self.figures.checked_in += 1
            if len(self.acked) in self._kill_at:  # while the other kiosks are mid-request
                await self.kill_and_restart()
            if person.rescans:  # scans the booking again: a new request, the same ticket
                again = await self.call(
                    "POST", "/api/checkins", "kiosk", f"again-{person.index}", person.body
                )
                self.rescanned[person.index] = again
                self.figures.rescans += 1
            visit = answer["visit_id"]
            path = f"/api/visits/{visit}/print-status"
            if self.rng.random() < self.plan.print_faults:  # paper out: reported, then reprinted
                self.print_failed.add(visit)
                self.figures.printer_faults += 1
                await self.call(
                    "POST", path, "kiosk", f"pf-{visit}", {"ok": False, "reason": "paper_out"}
                )
            await self.call("POST", path, "kiosk", f"po-{visit}", {"ok": True, "reason": ""})

    async def station(self, station_id: str, product: str) -> None:
        base = f"/api/stations/{station_id}"
        opened = {
            "product": product,
            "lot": f"{product[:4]}-SOAK",
            "vaccinator": f"Nurse {station_id}",
        }
        await self.call("POST", f"{base}/open", "station", f"open-{station_id}", opened)
        calls = 0
        while not self.kiosks_done or len(self.doses) < len(self.acked):
            calls += 1
            status, answer = await self.call(
                "POST", f"{base}/call-next", "station", f"call-{station_id}-{calls}", {}
            )
            called = answer.get("called") if status == 200 else None
            if called is None:
                await asyncio.sleep(0.05)
                continue
            visit = called["visit_id"]
            await self.call(
                "POST", f"{base}/start-service", "station", f"start-{visit}", {"code": called["qr"]}
            )
            status, dose = await self.call(
                "POST", f"{base}/record-dose", "station", f"dose-{visit}", {"visit_id": visit}
            )
            if status == 200:
                self.doses[visit] = dose
                self.figures.dosed += 1
                ends_at = datetime.fromisoformat(dose["ends_at"])
                if self.rng.random() < self.plan.early:  # tries to leave 5 minutes early
                    ends_at -= timedelta(minutes=5)
                heapq.heappush(self.leaving, (ends_at, visit, called["ticket"], 1))

    async def exit(self) -> None:
        """One exit desk: people come when their observation should be over and scan the
        ticket; the server decides (a scan a little early gets "not yet", and they come back)."""
        while not self.kiosks_done or len(self.released) < len(self.acked):
            if not self.leaving or self.leaving[0][0] > self.server_now():
                await asyncio.sleep(0.05)
                continue
            _ends_at, visit, ticket, attempt = heapq.heappop(self.leaving)
            key = f"exit-{visit}-{attempt}"  # a "not yet" is kept under its key: a new one
            scan = {"code": ticket}
            status, answer = await self.call("POST", "/api/exit-scan", "observer", key, scan)
            if status == 200 and answer.get("may_leave"):
                self.released.add(visit)
                self.figures.released += 1
            else:
                self.figures.early_scans += 1
                later = self.server_now() + timedelta(seconds=30)
                heapq.heappush(self.leaving, (later, visit, ticket, attempt + 1))

    async def kill_and_restart(self) -> None:
        """SIGKILL the server under load, then start it again on the same file and port."""
        if not self._restarting.is_set():
            return
        self._restarting.clear()
        started = time.monotonic()
        try:
            self.server.kill()
            self.figures.kills += 1
            await asyncio.to_thread(self.server.start)
        finally:
            self.figures.downtime_seconds += time.monotonic() - started
            self._restarting.set()

    async def run(self) -> None:
        timeout = aiohttp.ClientTimeout(total=15)
        connector = aiohttp.TCPConnector(limit=self.plan.kiosks + len(self.stations) + 8)
        async with aiohttp.ClientSession(timeout=timeout, connector=connector) as session:
            self._session = session
            others = [asyncio.create_task(self.station(s, p)) for s, p in self.stations.items()]
            others += [asyncio.create_task(self.exit()) for _ in range(EXIT_DESKS)]
            progress = asyncio.create_task(self.progress())
            clock = asyncio.create_task(self.sync_clock())
            await asyncio.gather(*(self.kiosk() for _ in range(self.plan.kiosks)))
            self.kiosks_done = True
            await asyncio.gather(*others)
            progress.cancel()
            clock.cancel()

    def server_now(self) -> datetime:
        """The server's site time, as the exit desks' clock shows it (synced by /api/time)."""
        return self.server.site_now() + self._offset

    async def sync_clock(self, every: float = 0.5) -> None:
        """Keep the offset of the server's clock from ours: it lags by its start-up each run."""
        while True:
            status, answer = await self.call("GET", "/api/time", "observer")
            if status == 200:
                server = datetime.fromtimestamp(answer["epoch_ms"] / 1000, UTC)
                self._offset = server - self.server.site_now()
            await asyncio.sleep(every)

    async def progress(self, every: float = 60.0) -> None:
        """A line on stderr now and then: a long day shows it is moving."""
        while True:
            await asyncio.sleep(every)
            f = self.figures
            print(
                f"  ... {f.checked_in:,} checked in, {f.dosed:,} dosed, {f.released:,} released,"
                f" {f.kills} kills, site time {self.server.site_now():%H:%M}",
                file=sys.stderr,
                flush=True,
            )
