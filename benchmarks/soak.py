"""A site day against a real server process, with faults at random moments; then every invariant.

    ./dev bench soak [--people 20000] [--speed 20] [--kiosks 30] [--kills 6]
        [--print-faults 0.03] [--seed 1] [--json]

A `vaxflow server` process runs config/demo.toml (walk-in capacity raised, no per-kiosk rate
limit) on a SQLite file with a rehearsal clock (`--speed`: 30 minutes of observation take
90 s at 20x). Kiosks check `--people` walk-ins in (adults, a fifth of them 60 or older),
report each print, and a share of prints fail with paper out and are reprinted; the site's
12 stations call, scan and record doses; four exit desks scan people when the server's clock
(synced through /api/time) says their observation is over, and one in twenty tries five
minutes early and must be told "not yet". Meanwhile the server is killed with SIGKILL
`--kills` times, at random points of the day, and restarted on the same file with its clock
where the day had got to. Every request is retried with its own Idempotency-Key until it is
answered, as the kiosks and consoles do. At the end the server is stopped and its database checked:

* every acknowledged check-in is there, with the ticket and visit it was answered with;
* no ticket number twice, and numbers in each lane run 1..N without a gap;
* no dose recorded twice, and one for every person; nobody released before `ends_at`;
* counts reconcile: the marshal's `checked_in` is the sum of every state, all released;
* every failed print was reported and cleared by its reprint.

The test suite runs a bounded day (tests/faults/test_soak.py); this script runs the full one.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import heapq
import json
import random
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
from stdnum.cn import ric

ROOT = Path(__file__).resolve().parent.parent
DEMO_CONFIG = ROOT / "config" / "demo.toml"
TOKENS = {role: {"Authorization": f"Bearer demo-{role}-token"} for role in ("kiosk", "station")}
TOKENS["observer"] = {"Authorization": "Bearer demo-observer-token"}
TOKENS["marshal"] = {"Authorization": "Bearer demo-marshal-token"}
EXIT_DESKS = 4


@dataclass(frozen=True)
class Plan:
    """How big a day, how fast, and how many faults."""

    people: int = 20_000
    speed: float = 20.0
    kiosks: int = 30
    kills: int = 6
    print_faults: float = 0.03
    elderly: float = 0.2
    early: float = 0.05  # share of people who try to leave 5 minutes early
    seed: int = 1
    opens: str = "07:00"  # site time the day starts at, on today's date in the site's zone


@dataclass
class Figures:
    """What happened, for the report and the test's figures."""

    people: int = 0
    checked_in: int = 0
    dosed: int = 0
    released: int = 0
    kills: int = 0
    printer_faults: int = 0
    retried: int = 0  # requests sent again with their key after no answer or a 503
    early_scans: int = 0  # exit scans the server answered "not yet"
    requests: int = 0
    refused: dict[str, int] = field(default_factory=dict)
    server_errors: int = 0
    wall_seconds: float = 0.0
    site_hours: float = 0.0
    downtime_seconds: float = 0.0
    invariants: dict[str, int] = field(default_factory=dict)
    lost: int = 0


# --- the server: one process at a time on one port and one file ----------------------------


def site_file(folder: Path) -> Path:
    """The demo site for a whole day of walk-ins: capacity for everyone, no kiosk limit."""
    text = DEMO_CONFIG.read_text(encoding="utf-8")
    text = text.replace("[server]\n", "[server]\nkiosk_requests_per_second = 10000\n", 1)
    text, count = re.subn(r"(?m)^daily_capacity\s*=\s*\d+", "daily_capacity = 1000000", text)
    assert count == 1, "config/demo.toml has no walk_in.daily_capacity"
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


# --- the day ------------------------------------------------------------------------------


class Day:
    """Kiosks, stations, the exit and the chaos, against `server`, until everyone has left."""

    def __init__(self, plan: Plan, server: Server, settings: Any) -> None:
        self.plan, self.server = plan, server
        # Each station opens with one of its products, so that every product is given.
        self.stations = {
            s.id: s.products[n % len(s.products)] for n, s in enumerate(settings.stations)
        }
        self.questions = tuple(q.id for q in settings.questions)
        self.consent = settings.consent.version
        self.kiosks_done = False
        self.rng = random.Random(plan.seed)
        self.figures = Figures(people=plan.people)
        self.acked: dict[int, dict[str, Any]] = {}  # person -> check-in answer
        self.doses: dict[int, dict[str, Any]] = {}  # visit -> record-dose answer
        self.released: set[int] = set()
        self.print_failed: set[int] = set()  # visits whose first print failed
        self.leaving: list[tuple[datetime, int, str, int]] = []  # (ends_at, visit, ticket, try)
        self._offset = timedelta(0)  # the server's clock minus ours
        self._next_person = 0
        self._products = list(self.stations.values())
        self._kill_at = sorted(
            self.rng.sample(range(1, plan.people), min(plan.kills, plan.people - 1))
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
        while self._next_person < self.plan.people:
            person = self._next_person
            self._next_person += 1
            elderly = self.rng.random() < self.plan.elderly
            product = self.rng.choice(self._products)
            body = walk_in(person, elderly, product, self.questions, self.consent)
            status, answer = await self.call("POST", "/api/checkins", "kiosk", f"in-{person}", body)
            if status != 200:
                continue
            self.acked[person] = answer
            self.figures.checked_in += 1
            if len(self.acked) in self._kill_at:  # while the other kiosks are mid-request
                await self.kill_and_restart()
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


# --- the invariants -------------------------------------------------------------------------


def check(day: Day, stats: dict[str, Any], db: Path) -> dict[str, int]:
    """Every invariant of the day, from the answers the clients got and the database file.

    Raises AssertionError naming the first one broken; returns how many things were checked.
    """
    acked = list(day.acked.values())
    assert not day.figures.refused, f"requests refused: {day.figures.refused}"
    assert not day.figures.server_errors, f"{day.figures.server_errors} answers were 5xx"
    with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        visits = conn.execute(
            "SELECT id, site_day, ticket, lane, number, state, observation_ends_at, finished_at,"
            " print_failed FROM visits"
        ).fetchall()
        doses = Counter(v for (v,) in conn.execute("SELECT visit_id FROM doses"))
        counters = {
            (d, lane): n
            for d, lane, n in conn.execute(
                "SELECT site_day, lane, last_number FROM ticket_counters"
            )
        }
        checked_in_events = Counter(
            v for (v,) in conn.execute("SELECT visit_id FROM events WHERE kind = 'checked_in'")
        )
    by_id = {row[0]: row for row in visits}
    # Every acknowledged check-in is there with the answer's ticket; nothing else is.
    lost = [
        a for a in acked if a["visit_id"] not in by_id or by_id[a["visit_id"]][2] != a["ticket"]
    ]
    assert not lost, f"{len(lost)} acknowledged check-ins lost, e.g. {lost[:3]}"
    assert len(visits) == len(acked), f"{len(visits)} visits for {len(acked)} check-ins"
    assert len({a["visit_id"] for a in acked}) == len(acked), "two answers name one visit"
    # No ticket twice; numbers per lane and day run 1..N.
    tickets = Counter((row[1], row[2]) for row in visits)
    assert max(tickets.values()) == 1, f"tickets issued twice: {tickets.most_common(3)}"
    numbers: dict[tuple[str, str], list[int]] = defaultdict(list)
    for row in visits:
        numbers[(row[1], row[3])].append(row[4])
    for lane, issued in numbers.items():
        assert sorted(issued) == list(range(1, counters[lane] + 1)), f"gap or reuse in {lane}"
    # One dose each, never two.
    assert max(doses.values(), default=1) == 1, f"doses twice: {doses.most_common(3)}"
    assert set(doses) == set(by_id) == set(day.doses), "someone dosed without a record, or not"
    # Nobody released before the end of observation; everyone released.
    early = [row for row in visits if row[7] is None or row[7] < row[6]]
    assert not early, f"released before ends_at: {early[:3]}"
    assert {row[5] for row in visits} == {"released"}, Counter(row[5] for row in visits)
    assert day.released == set(by_id)
    # The marshal's counts reconcile with the states.
    by_state = stats["by_state"]
    assert stats["checked_in"] == sum(by_state.values()) - by_state["cancelled"] == len(visits)
    assert stats["tickets_issued"] == len(visits) == stats["released"]
    # Print faults were reported and cleared by the reprint; one checked_in event per visit.
    assert not [row for row in visits if row[8]], "a print failure is still flagged"
    assert set(checked_in_events) == set(by_id) and max(checked_in_events.values()) == 1
    return {
        "acknowledged check-ins found": len(acked),
        "tickets unique": len(visits),
        "doses once": sum(doses.values()),
        "released on time": len(visits),
        "lanes numbered without gaps": len(numbers),
    }


# --- the whole run ----------------------------------------------------------------------------


async def soak(plan: Plan, folder: Path) -> tuple[Figures, dict[str, Any]]:
    """Run the day in `folder`; returns the figures and the marshal's closing stats."""
    from vaxflow.config import load_settings

    config = site_file(folder)
    settings = load_settings(config)
    zone = ZoneInfo(settings.site.timezone)
    hour, minute = (int(part) for part in plan.opens.split(":"))
    opens = datetime.now(zone).replace(hour=hour, minute=minute, second=0, microsecond=0)
    server = Server(folder, config, folder / "site.sqlite", plan.speed, opens)
    started = time.monotonic()
    await asyncio.to_thread(server.start)
    day = Day(plan, server, settings)
    try:
        await day.run()
        _status, stats = await _get(server.url + "/api/stats", TOKENS["marshal"])
        day.figures.site_hours = (server.site_now() - opens).total_seconds() / 3600
    finally:
        code = server.stop()
    assert code == 0, f"the server did not stop cleanly ({code}): {server.log()}"
    day.figures.wall_seconds = time.monotonic() - started
    day.figures.invariants = check(day, stats, server.db)
    return day.figures, stats


async def _get(url: str, headers: dict[str, str]) -> tuple[int, Any]:
    async with aiohttp.ClientSession() as session, session.get(url, headers=headers) as response:
        return response.status, await response.json()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--people", type=int, default=Plan.people)
    parser.add_argument("--speed", type=float, default=Plan.speed)
    parser.add_argument("--kiosks", type=int, default=Plan.kiosks)
    parser.add_argument("--kills", type=int, default=Plan.kills)
    parser.add_argument("--print-faults", type=float, default=Plan.print_faults)
    parser.add_argument("--seed", type=int, default=Plan.seed)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    plan = Plan(
        people=args.people,
        speed=args.speed,
        kiosks=args.kiosks,
        kills=args.kills,
        print_faults=args.print_faults,
        seed=args.seed,
    )
    with tempfile.TemporaryDirectory(prefix="vaxflow-soak-") as folder:
        figures, _stats = asyncio.run(soak(plan, Path(folder)))
    if args.json:
        print(json.dumps(asdict(figures), indent=2))
        return 0
    f = figures
    print(
        f"soak: {f.people:,} people, {f.site_hours:.1f} site hours in {f.wall_seconds:.0f} s wall"
    )
    print(
        f"  checked in {f.checked_in:,}, dosed {f.dosed:,}, released {f.released:,} "
        f"({f.early_scans:,} exit scans answered 'not yet')"
    )
    print(
        f"  faults: {f.kills} SIGKILL + restart ({f.downtime_seconds:.1f} s down), "
        f"{f.printer_faults} printer faults"
    )
    print(
        f"  requests {f.requests:,}, retried with their key {f.retried:,}, "
        f"5xx other than 503: {f.server_errors}, refused: {f.refused or 'none'}"
    )
    print("  invariants: " + ", ".join(f"{k} {v:,}" for k, v in f.invariants.items()))
    print(f"  anything lost: {f.lost}")
    return 0


if __name__ == "__main__":
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    sys.exit(main())
