"""Load on a real site server over loopback: check-ins per second, latency, event fan-out.

    .venv/bin/python benchmarks/server_load.py [--seconds 10] [--kiosks 30] [--workers 2]
        [--rate 300] [--subscribers 50] [--stations 12] [--json]

A `vaxflow server` process runs on a temporary SQLite file (synchronous=FULL, as on a site)
with vaxflow/config/demo.toml, its walk-in capacity raised and bookings seeded, so that the load
generator and the server never share a Python process. The load runs in two phases:

* capacity - every kiosk checks people in back to back (closed loop): the most the server
  takes, and the latency it shows while saturated;
* target   - the kiosks together offer `--rate` check-ins a second (open loop, evenly spaced):
  the latency at the load the site must carry. The targets are judged on this phase.

Kiosks are spread over `--workers` processes (aiohttp, one keep-alive connection each);
stations call, scan and record doses throughout; `--subscribers` WebSocket clients follow
/ws/events in processes of their own. All times are CLOCK_MONOTONIC (`time.monotonic`, one
clock for every process on Linux), so times taken in different processes compare directly.

Latency of a check-in: from just before the request is sent to the end of reading its answer.
Fan-out of a check-in: from the same "sent" moment (and, separately, from the "answered"
moment) to the arrival of its `checked_in` event (matched by visit_id) at each subscriber;
"all 50" is the time until the last subscriber has it. The exit status is 0 when every
target is met.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import re
import selectors
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import aiohttp
from stdnum.cn import ric

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

DEMO_CONFIG = ROOT / "vaxflow" / "config" / "demo.toml"
KIOSK = {"Authorization": "Bearer demo-kiosk-token"}
STATION = {"Authorization": "Bearer demo-station-token"}
BOARD = {"Authorization": "Bearer demo-board-token"}
MARSHAL = {"Authorization": "Bearer demo-marshal-token"}

TARGET_RATE = 300.0
TARGET_P99_MS = 50.0
TARGET_FANOUT_MS = 100.0
PROBE_RATE = 10.0

# The events' JSON puts kind before visit_id (store.Event.to_json); a regex is much cheaper
# than json.loads on every message of every subscriber.
CHECKED_IN = re.compile(rb'"kind": "checked_in", "visit_id": (\d+)')


# --- the server ------------------------------------------------------------------------


def site_file(directory: Path, walk_in_capacity: int) -> Path:
    """vaxflow/config/demo.toml with a walk-in capacity large enough for the whole run."""
    text = DEMO_CONFIG.read_text(encoding="utf-8")
    text, count = re.subn(
        r"(?m)^daily_capacity\s*=\s*\d+", f"daily_capacity = {walk_in_capacity}", text
    )
    if count != 1:
        raise SystemExit("vaxflow/config/demo.toml has no walk_in.daily_capacity to raise")
    # Each simulated kiosk sends far faster than a person can: lift the per-kiosk limit.
    text = text.replace("[server]\n", "[server]\nkiosk_requests_per_second = 10000\n", 1)
    path = directory / "site.toml"
    path.write_text(text, encoding="utf-8")
    return path


def seed(config: Path, db: Path, bookings: int) -> date:
    """Today's bookings DEMO0001... in the database, before the server opens it; the day."""
    from vaxflow.clock import SystemClock
    from vaxflow.config import load_settings
    from vaxflow.queue.core import engine
    from vaxflow.queue.demo.demo_data import seed_bookings
    from vaxflow.queue.store.db import database_url
    from vaxflow.queue.store.writer import Store

    settings = load_settings(config)
    clock = SystemClock()
    day = engine.site_day(clock.now(), settings.site.timezone)

    async def run() -> None:
        store = Store(database_url(str(db)), site_id=settings.site.id, clock=clock)
        await store.start()
        try:
            await store.write(
                lambda tx: seed_bookings(tx, settings, day, bookings), actor="benchmark"
            )
        finally:
            await store.stop()

    asyncio.run(run())
    return day


# Check-in bodies are built from the fields the API models have (ID card, health answers,
# consent when the API asks for them), so the benchmark follows the API as it grows.


def screening(settings: Any) -> dict[str, Any]:
    """What every check-in adds: "no" to each health question, the consent version."""
    from vaxflow.queue.api import models as api_models

    fields = set(api_models.CheckInRequest.model_fields)
    extra: dict[str, Any] = {}
    questions = getattr(settings, "questions", None)
    if "answers" in fields and questions:
        extra["answers"] = {q.id: False for q in questions}
    consent = getattr(settings, "consent", None)
    if "consent_version" in fields and consent is not None and consent.text:
        extra["consent_version"] = consent.version
    return extra


def booking_bodies(settings: Any, day: date, count: int) -> list[dict[str, Any]]:
    """Check-ins for the seeded bookings (with the ID card read, if the API has it)."""
    from vaxflow.queue.api import models as api_models
    from vaxflow.queue.demo.demo_data import make_people

    fields = set(api_models.CheckInRequest.model_fields)
    card_model = getattr(api_models, "IdCardBody", None)
    card_fields = set(card_model.model_fields) if card_model is not None else set()
    extra = screening(settings)
    bodies = []
    people: list[Any] = list(make_people(settings, day, count))  # its record type varies
    for person in people:
        body: dict[str, Any] = {"booking_code": person.code, **extra}
        if "id_card" in fields:
            card = {
                "id_type": "cn_resident",
                "id_number": person.id_number,
                "name": getattr(person, "person_name", None) or person.name,
                "birth_date": person.birth_date.isoformat(),
                "sex": person.sex,
            }
            body["id_card"] = {k: v for k, v in card.items() if k in card_fields}
        bodies.append(body)
    return bodies


def walk_in_fields() -> tuple[str, ...]:
    from vaxflow.queue.api import models as api_models

    return tuple(api_models.WalkInBody.model_fields)


NAMES = ("王芳", "李强", "张伟", "刘洋", "陈静", "杨秀英", "赵磊")


def walk_in_body(index: int, fields: tuple[str, ...], extra: dict[str, Any]) -> dict[str, Any]:
    """A walk-in adult with a valid resident ID number of their own (one ticket per person)."""
    birth = date(1970, 1, 1) + timedelta(days=index // 499)
    order = (index % 499) * 2 + 1
    body17 = f"110101{birth:%Y%m%d}{order:03d}"
    person = {
        "name": NAMES[index % len(NAMES)],
        # python-stdnum's calc_check_digit wants the number with a placeholder check digit
        "id_number": body17 + ric.calc_check_digit(body17 + "0"),
        "birth_date": birth.isoformat(),
        "sex": "male",
    }
    return {"walk_in": {k: v for k, v in person.items() if k in fields}, **extra}


def vaxflow_command() -> list[str]:
    script = Path(sys.executable).with_name("vaxflow")
    return [str(script)] if script.exists() else [sys.executable, "-m", "vaxflow"]


def start_server(
    config: Path, db: Path, log: Path, switch_interval: float | None = None
) -> tuple[subprocess.Popen[bytes], str]:
    """`vaxflow server` on a free port; its URL from the line it prints."""
    program = vaxflow_command()
    if switch_interval is not None:  # an experiment: the same CLI, another GIL switch interval
        program = [
            sys.executable,
            "-c",
            f"import sys; sys.setswitchinterval({switch_interval!r}); "
            "from vaxflow.cli import main; sys.exit(main(sys.argv[1:]))",
        ]
    command = [*program, "server", "--config", str(config), "--port", "0"]
    with log.open("wb") as err:
        proc = subprocess.Popen(
            [*command, "--db", str(db)], stdout=subprocess.PIPE, stderr=err, cwd=ROOT
        )
    assert proc.stdout is not None
    deadline = time.monotonic() + 30
    buffer = b""
    with selectors.DefaultSelector() as sel:
        sel.register(proc.stdout, selectors.EVENT_READ)
        while time.monotonic() < deadline:
            match = re.search(rb"listening on (http://\S+)", buffer)
            if match:
                # Keep reading whatever it prints later, so the pipe never fills.
                threading.Thread(target=proc.stdout.read, daemon=True).start()
                return proc, match.group(1).decode()
            if proc.poll() is not None:
                break
            if sel.select(timeout=0.2):
                chunk = os.read(proc.stdout.fileno(), 4096)
                if not chunk:
                    break
                buffer += chunk
    stop_server(proc)
    raise SystemExit(f"the server did not start:\n{log.read_text(errors='replace')[-2000:]}")


def stop_server(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    if proc.stdout is not None:
        proc.stdout.close()


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (Linux /proc)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_busy_seconds() -> float:
    """CPU seconds all CPUs have spent busy since boot (Linux /proc/stat)."""
    try:
        values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except OSError:
        return float("nan")
    idle = values[3] + (values[4] if len(values) > 4 else 0)
    return (sum(values[:8]) - idle) / os.sysconf("SC_CLK_TCK")


# --- the plan every worker follows -------------------------------------------------------


@dataclass(frozen=True)
class Plan:
    url: str
    start: float  # monotonic time the capacity phase starts
    seconds: float
    gap: float  # pause between the phases, so the queues drain
    rate: float  # target phase: check-ins per second over all kiosks
    probe_seconds: float  # quiet phase first: one kiosk, PROBE_RATE a second, no stations
    service_seconds: float  # a station's pause after each dose
    total_kiosks: int
    bookings: list[dict[str, Any]]  # check-in bodies, used once each
    walk_in_fields: tuple[str, ...]
    screening: dict[str, Any]
    walk_in_share: float

    def phases(self) -> list[tuple[str, float, float]]:
        phases = []
        at = self.start
        if self.probe_seconds > 0:
            phases.append(("probe", at, at + self.probe_seconds))
            at += self.probe_seconds + 0.5
        phases.append(("capacity", at, at + self.seconds))
        at += self.seconds + self.gap
        if self.rate > 0:
            phases.append(("target", at, at + self.seconds))
        return phases

    @property
    def stations_start(self) -> float:
        """Stations start with the capacity phase, after the quiet probe."""
        return next(begin for name, begin, _end in self.phases() if name == "capacity")

    @property
    def end(self) -> float:
        return self.phases()[-1][2]


@dataclass
class KioskResult:
    # per phase: (sent, answered, visit_id or -1, status)
    requests: dict[str, list[tuple[float, float, int, int]]] = field(default_factory=dict)
    late_starts: dict[str, int] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    station_ms: list[float] = field(default_factory=list)
    refusals: dict[str, int] = field(default_factory=dict)  # check-ins refused, by reason
    doses: int = 0
    cpu: float = 0.0


def _body(plan: Plan, kiosk: int, n: int, booked: int, walk_in: bool) -> dict[str, Any]:
    """The n-th check-in of a kiosk; its `booked`-th booking unless a walk-in comes."""
    if not walk_in:
        index = kiosk + booked * plan.total_kiosks  # disjoint bookings per kiosk
        if index < len(plan.bookings):
            return plan.bookings[index]
    return walk_in_body(kiosk + n * plan.total_kiosks, plan.walk_in_fields, plan.screening)


def _reason(raw: bytes) -> str:
    try:
        return str(json.loads(raw)["error"]["reason"])
    except (ValueError, KeyError, TypeError):
        return "not_json"


async def _sleep_until(when: float) -> None:
    delay = when - time.monotonic()
    if delay > 0:
        await asyncio.sleep(delay)


async def _kiosk(plan: Plan, kiosk: int, result: KioskResult) -> None:
    connector = aiohttp.TCPConnector(limit=1)
    timeout = aiohttp.ClientTimeout(total=10)
    n = booked = 0
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        for name, begin, end in plan.phases():
            rows = result.requests.setdefault(name, [])
            late = 0
            closed_loop = name == "capacity"
            if name == "probe":
                if kiosk != 0:
                    continue
                interval, due = 1 / PROBE_RATE, begin
            else:
                interval = plan.total_kiosks / plan.rate if not closed_loop else 0.0
                # spread the kiosks' sends evenly over one interval
                due = begin + (kiosk / plan.total_kiosks) * interval
            await _sleep_until(begin if closed_loop else due)
            while True:
                if not closed_loop:
                    now = time.monotonic()
                    if due > now:
                        await asyncio.sleep(due - now)
                    elif now - due > 0.001:
                        late += 1
                    due += interval
                sent = time.monotonic()
                if sent >= end:
                    break
                walk_in = (n * 7919 + kiosk) % 1000 < plan.walk_in_share * 1000
                body = _body(plan, kiosk, n, booked, walk_in)
                booked += "booking_code" in body
                headers = {
                    **KIOSK,
                    "Idempotency-Key": f"bench-{kiosk}-{n}",
                    "X-Device-Id": f"kiosk-{kiosk}",
                }
                n += 1
                try:
                    async with session.post(
                        plan.url + "/api/checkins", json=body, headers=headers
                    ) as response:
                        raw = await response.read()
                        status = response.status
                except (aiohttp.ClientError, TimeoutError) as err:
                    result.errors.append(f"{type(err).__name__}: {err}")
                    rows.append((sent, time.monotonic(), -1, 0))
                    continue
                answered = time.monotonic()
                visit_id = -1
                if status == 200:
                    visit_id = int(json.loads(raw)["visit_id"])
                else:
                    reason = _reason(raw)
                    result.refusals[reason] = result.refusals.get(reason, 0) + 1
                    if len(result.errors) < 5:
                        result.errors.append(f"HTTP {status}: {raw[:300]!r}")
                rows.append((sent, answered, visit_id, status))
            result.late_starts[name] = result.late_starts.get(name, 0) + late


async def _station(plan: Plan, station_id: str, product: str, result: KioskResult) -> None:
    base = f"{plan.url}/api/stations/{station_id}"
    timeout = aiohttp.ClientTimeout(total=10)
    n = 0
    async with aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=1), timeout=timeout
    ) as session:

        async def post(path: str, body: dict[str, Any]) -> tuple[int, Any]:
            nonlocal n
            n += 1
            headers = {**STATION, "X-Device-Id": station_id, "Idempotency-Key": f"{station_id}-{n}"}
            sent = time.monotonic()
            async with session.post(base + path, json=body, headers=headers) as response:
                data = await response.json(content_type=None)
                result.station_ms.append((time.monotonic() - sent) * 1000)
                return response.status, data

        await _sleep_until(plan.stations_start)
        status, data = await post(
            "/open", {"product": product, "lot": f"{product[:4]}-2611-01", "vaccinator": "Bench"}
        )
        if status != 200:
            result.errors.append(f"open {station_id}: {status} {data}")
            return
        while time.monotonic() < plan.end:
            try:
                status, data = await post("/call-next", {})
                if status != 200:
                    result.errors.append(f"call-next {station_id}: {status} {data}")
                    await asyncio.sleep(0.2)
                    continue
                visit = data["called"]
                if visit is None:
                    await asyncio.sleep(0.1)
                    continue
                status, data = await post("/start-service", {"code": visit["qr"]})
                if status == 200:
                    status, data = await post("/record-dose", {"visit_id": visit["visit_id"]})
                if status != 200:
                    result.errors.append(f"station {station_id}: {status} {data}")
                    await asyncio.sleep(0.2)
                    continue
                result.doses += 1
                await asyncio.sleep(plan.service_seconds)
            except (aiohttp.ClientError, TimeoutError) as err:
                result.errors.append(f"station {station_id}: {type(err).__name__}: {err}")
                await asyncio.sleep(0.2)


def kiosk_worker(plan: Plan, kiosks: list[int], stations: list[tuple[str, str]], out: Any) -> None:
    result = KioskResult()

    async def run() -> None:
        async with asyncio.TaskGroup() as group:
            for kiosk in kiosks:
                group.create_task(_kiosk(plan, kiosk, result))
            for station_id, product in stations:
                group.create_task(_station(plan, station_id, product, result))

    try:
        asyncio.run(run())
    except Exception as err:  # report, do not hang the parent
        result.errors.append(f"worker failed: {type(err).__name__}: {err}")
    result.cpu = time.process_time()
    out.send(result)
    out.close()


@dataclass
class SubscriberResult:
    arrivals: list[dict[int, float]] = field(default_factory=list)  # per subscriber
    events: int = 0
    closed_early: int = 0
    errors: list[str] = field(default_factory=list)
    cpu: float = 0.0


async def _subscriber(plan: Plan, ready: asyncio.Event, arrivals: dict[int, float]) -> int:
    """Follow the feed until the plan ends; returns how many messages arrived."""
    count = 0
    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(plan.url + "/ws/events?since=0&batch=1", headers=BOARD) as ws,
    ):
        # Boards take the feed in batches: one JSON array per committed batch of events.
        async for message in ws:
            if message.type is not aiohttp.WSMsgType.TEXT:
                break
            now = time.monotonic()
            count += 1
            data = message.data.encode() if isinstance(message.data, str) else message.data
            for match in CHECKED_IN.finditer(data):
                arrivals[int(match.group(1))] = now
            if data.startswith(b'{"kind": "live"'):
                ready.set()
            if now > plan.end + 2.0:
                break
        else:
            raise ConnectionError("the server closed the feed")
    return count


def subscriber_worker(plan: Plan, count: int, out: Any, ready_conn: Any) -> None:
    result = SubscriberResult()

    async def run() -> None:
        readies = [asyncio.Event() for _ in range(count)]
        result.arrivals = [{} for _ in range(count)]
        tasks = [
            asyncio.create_task(_subscriber(plan, readies[i], result.arrivals[i]))
            for i in range(count)
        ]

        async def all_ready() -> None:
            await asyncio.gather(*(r.wait() for r in readies))
            ready_conn.send(True)

        waiter = asyncio.create_task(all_ready())
        # Stop following once the plan is over and the stragglers had time to arrive;
        # a quiet feed sends nothing, so cancel the readers rather than wait for a message.
        await _sleep_until(plan.end + 2.0)
        for task in tasks:
            task.cancel()
        waiter.cancel()
        for outcome in await asyncio.gather(*tasks, return_exceptions=True):
            if isinstance(outcome, int):
                result.events += outcome
            elif isinstance(outcome, ConnectionError):
                result.closed_early += 1
            elif not isinstance(outcome, asyncio.CancelledError):
                result.errors.append(f"{type(outcome).__name__}: {outcome}")

    try:
        asyncio.run(run())
    except Exception as err:
        result.errors.append(f"worker failed: {type(err).__name__}: {err}")
    result.cpu = time.process_time()
    out.send(result)
    out.close()


# --- figures ---------------------------------------------------------------------------


def pct(values: list[float], q: float) -> float:
    """`stats.percentile`, the project's one definition; nan when nothing was measured."""
    from vaxflow.queue.core import stats

    value = stats.percentile(values, q)
    return float("nan") if value is None else value


def summarize(values: list[float]) -> dict[str, float]:
    return {
        "p50": pct(values, 50),
        "p99": pct(values, 99),
        "max": max(values) if values else float("nan"),
        "mean": statistics.fmean(values) if values else float("nan"),
    }


def phase_figures(
    plan: Plan,
    name: str,
    begin: float,
    end: float,
    kiosks: list[KioskResult],
    subs: list[SubscriberResult],
) -> dict[str, Any]:
    rows = [row for k in kiosks for row in k.requests.get(name, [])]
    ok = [r for r in rows if r[3] == 200]
    latencies = [(r[1] - r[0]) * 1000 for r in ok]
    seconds = end - begin
    per_subscriber: list[dict[int, float]] = [a for s in subs for a in s.arrivals]
    from_sent: list[float] = []
    from_answer: list[float] = []
    all_from_sent: list[float] = []
    all_from_answer: list[float] = []
    missing = 0
    for sent, answered, visit_id, _status in ok:
        arrivals = [a[visit_id] for a in per_subscriber if visit_id in a]
        missing += len(per_subscriber) - len(arrivals)
        if not arrivals:
            continue
        from_sent.extend((t - sent) * 1000 for t in arrivals)
        from_answer.extend((t - answered) * 1000 for t in arrivals)
        if len(arrivals) == len(per_subscriber):
            all_from_sent.append((max(arrivals) - sent) * 1000)
            all_from_answer.append((max(arrivals) - answered) * 1000)
    timeline = [0] * max(1, int(seconds + 0.999))
    for _sent, answered, _vid, _status in ok:
        bucket = int(answered - begin)
        if 0 <= bucket < len(timeline):
            timeline[bucket] += 1
    return {
        "phase": name,
        "mode": {
            "probe": f"1 kiosk at {PROBE_RATE:g}/s",
            "capacity": "closed loop",
            "target": f"open loop at {plan.rate:g}/s",
        }[name],
        "seconds": round(seconds, 2),
        "requests": len(rows),
        "check_ins": len(ok),
        "failed": len(rows) - len(ok),
        "check_ins_per_second": len(ok) / seconds,
        "per_second": timeline,
        "late_starts": sum(k.late_starts.get(name, 0) for k in kiosks),
        "latency_ms": summarize(latencies),
        "subscribers": len(per_subscriber),
        "fanout_ms_from_sent": summarize(from_sent),
        "fanout_ms_from_answer": summarize(from_answer),
        "fanout_all_ms_from_sent": summarize(all_from_sent),
        "fanout_all_ms_from_answer": summarize(all_from_answer),
        "deliveries_missing": missing,
    }


def print_table(report: dict[str, Any]) -> None:
    phases = report["phases"]

    def row(label: str, values: list[str]) -> None:
        print(f"  {label:44}" + "".join(f"{v:>28}" for v in values))

    def ms(block: dict[str, float]) -> str:
        return f"{block['p50']:.1f} / {block['p99']:.1f} / {block['max']:.0f}"

    print(
        f"vaxflow server load — {report['kiosks']} kiosks in {report['workers']} process(es), "
        f"{report['stations']} stations, {report['subscribers']} WebSocket subscribers, "
        f"{os.cpu_count()} CPUs, load average at start {report['loadavg_before']:.2f}"
    )
    row("phase", [f"{p['phase']} ({p['mode']})" for p in phases])
    row("check-ins acknowledged (failed)", [f"{p['check_ins']} ({p['failed']})" for p in phases])
    row("check-ins per second", [f"{p['check_ins_per_second']:.1f}" for p in phases])
    row(
        "  per 1 s: min / max",
        [f"{min(p['per_second'])} / {max(p['per_second'])}" for p in phases],
    )
    row("kiosk sends behind schedule", [str(p["late_starts"]) for p in phases])
    row("latency ms  p50 / p99 / max", [ms(p["latency_ms"]) for p in phases])
    row(
        "fan-out ms, each sub, from send  p50/p99/max",
        [ms(p["fanout_ms_from_sent"]) for p in phases],
    )
    row("fan-out ms, each sub, from answer", [ms(p["fanout_ms_from_answer"]) for p in phases])
    row("fan-out ms, all subs, from send", [ms(p["fanout_all_ms_from_sent"]) for p in phases])
    row("fan-out ms, all subs, from answer", [ms(p["fanout_all_ms_from_answer"]) for p in phases])
    row("deliveries missing", [str(p["deliveries_missing"]) for p in phases])
    print(
        f"  station ops: {report['station_ops']} (doses {report['doses']}), "
        f"latency ms p50/p99 {report['station_ms']['p50']:.1f}/{report['station_ms']['p99']:.1f}"
    )
    cpu = report["cpu_seconds"]
    print(
        f"  CPU seconds over {report['wall_seconds']:.1f} s: server {cpu['server']:.1f}, "
        f"kiosk workers {cpu['kiosks']:.1f}, subscriber workers {cpu['subscribers']:.1f}; "
        f"whole machine {cpu['whole_machine']:.1f} of {report['cpu_capacity_seconds']:.0f}"
    )
    if report["refusals"]:
        print(f"  check-ins refused, by reason: {report['refusals']}")
    for error in report["errors"][:10]:
        print(f"  error: {error}")
    print("targets:")
    for target in report["targets"]:
        mark = "MET   " if target["met"] else "MISSED"
        print(f"  {mark} {target['name']}: {target['value']:.1f} (target {target['target']})")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each phase")
    parser.add_argument("--kiosks", type=int, default=30, help="concurrent kiosks in all")
    parser.add_argument("--workers", type=int, default=2, help="kiosk processes")
    parser.add_argument(
        "--rate", type=float, default=TARGET_RATE, help="target phase rate; 0: skip"
    )
    parser.add_argument("--subscribers", type=int, default=50, help="WebSocket subscribers")
    parser.add_argument("--subscriber-workers", type=int, default=1, help="their processes")
    parser.add_argument("--stations", type=int, default=12, help="stations serving (demo: 12)")
    parser.add_argument(
        "--service-seconds", type=float, default=1.0, help="a station's pause after each dose"
    )
    parser.add_argument(
        "--probe-seconds", type=float, default=3.0, help="quiet fan-out probe first; 0: none"
    )
    parser.add_argument("--walk-in-share", type=float, default=0.1)
    parser.add_argument("--bookings", type=int, default=30000, help="bookings seeded")
    parser.add_argument("--keep", help="keep the database and server log in this folder")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument(
        "--switch-interval",
        type=float,
        help="experiment: run the server with sys.setswitchinterval(this) (default 0.005)",
    )
    parser.add_argument("--py-spy-gil", action="store_true", help="sample only the GIL holder")
    parser.add_argument(
        "--py-spy",
        metavar="FILE",
        help="record the server with py-spy during the load (collapsed stacks, per thread)",
    )
    args = parser.parse_args(argv)
    if not 1 <= args.kiosks <= 500 or not 1 <= args.workers <= 16 or args.seconds > 300:
        parser.error("keep it bounded: 1-500 kiosks, 1-16 workers, at most 300 s")
    if not 0 <= args.subscribers <= 500 or not 1 <= args.subscriber_workers <= 8:
        parser.error("0-500 subscribers in 1-8 processes")

    from vaxflow.config import load_settings

    with tempfile.TemporaryDirectory(prefix="vaxflow-load-") as tmp:
        folder = Path(args.keep) if args.keep else Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        db = folder / "load.sqlite"
        for stale in folder.glob("load.sqlite*"):
            stale.unlink()
        config = site_file(folder, walk_in_capacity=1_000_000)
        settings = load_settings(config)
        stations = [(s.id, s.products[0]) for s in settings.stations][: args.stations]
        day = seed(config, db, args.bookings)
        bodies = booking_bodies(settings, day, args.bookings)
        proc, url = start_server(config, db, folder / "server.log", args.switch_interval)
        ctx = mp.get_context("spawn")
        try:
            return _run(args, url, proc, stations, ctx, bodies, screening(settings))
        finally:
            stop_server(proc)


def _run(
    args: argparse.Namespace,
    url: str,
    proc: subprocess.Popen[bytes],
    stations: list[tuple[str, str]],
    ctx: Any,
    bodies: list[dict[str, Any]],
    extra: dict[str, Any],
) -> int:
    sub_procs, sub_pipes, ready_pipes = [], [], []
    shares = [
        args.subscribers // args.subscriber_workers
        + (1 if i < args.subscribers % args.subscriber_workers else 0)
        for i in range(args.subscriber_workers)
    ]
    plan_pipes = []
    for share in shares:
        if share == 0:
            continue
        plan_recv, plan_send = ctx.Pipe(duplex=False)
        out_recv, out_send = ctx.Pipe(duplex=False)
        ready_recv, ready_send = ctx.Pipe(duplex=False)
        p = ctx.Process(
            target=_subscriber_entry, args=(plan_recv, share, out_send, ready_send), daemon=True
        )
        p.start()
        plan_pipes.append(plan_send)
        sub_procs.append(p)
        sub_pipes.append(out_recv)
        ready_pipes.append(ready_recv)
    # The subscribers get the plan and connect; the kiosks start once they are all live.
    start = time.monotonic() + 4.0 + 0.5 * args.workers
    plan = Plan(
        url=url,
        start=start,
        seconds=args.seconds,
        gap=2.0,
        rate=args.rate,
        probe_seconds=args.probe_seconds,
        service_seconds=args.service_seconds,
        total_kiosks=args.kiosks,
        bookings=bodies,
        walk_in_fields=walk_in_fields(),
        screening=extra,
        walk_in_share=args.walk_in_share,
    )
    for pipe in plan_pipes:
        pipe.send(plan)
    for pipe in ready_pipes:
        if not pipe.poll(max(1.0, start - time.monotonic() - 0.5)):
            raise SystemExit("the WebSocket subscribers did not all connect in time")
        pipe.recv()
    kiosk_procs, kiosk_pipes = [], []
    for w in range(args.workers):
        mine = list(range(w, args.kiosks, args.workers))
        their_stations = stations if w == 0 else []
        out_recv, out_send = ctx.Pipe(duplex=False)
        p = ctx.Process(
            target=kiosk_worker, args=(plan, mine, their_stations, out_send), daemon=True
        )
        p.start()
        kiosk_procs.append(p)
        kiosk_pipes.append(out_recv)
    spy = None
    if args.py_spy:
        spy = subprocess.Popen(
            [
                str(Path(sys.executable).with_name("py-spy")),
                "record",
                "--pid",
                str(proc.pid),
                "--format",
                "raw",
                "--threads",
                "--rate",
                "200",
                "--duration",
                str(int(plan.end - time.monotonic()) + 1),
                "--output",
                args.py_spy,
                *(["--gil"] if args.py_spy_gil else []),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    loadavg_before = os.getloadavg()[0]
    cpu_before = cpu_seconds(proc.pid)
    busy_before = machine_busy_seconds()
    wall_before = time.monotonic()
    kiosk_results: list[KioskResult] = []
    for pipe in kiosk_pipes:
        if pipe.poll(plan.end - time.monotonic() + 30):
            kiosk_results.append(pipe.recv())
    cpu_server = cpu_seconds(proc.pid) - cpu_before
    busy = machine_busy_seconds() - busy_before
    wall = time.monotonic() - wall_before
    sub_results: list[SubscriberResult] = []
    for pipe in sub_pipes:
        if pipe.poll(plan.end - time.monotonic() + 30):
            sub_results.append(pipe.recv())
    for p in [*kiosk_procs, *sub_procs]:
        p.join(5)
        if p.is_alive():
            p.kill()
            p.join()
    if spy is not None:
        spy.wait(30)
    if len(kiosk_results) != len(kiosk_procs) or len(sub_results) != len(sub_procs):
        raise SystemExit("a load worker did not report back")

    phases = [
        phase_figures(plan, name, begin, end, kiosk_results, sub_results)
        for name, begin, end in plan.phases()
    ]
    station_ms = [v for k in kiosk_results for v in k.station_ms]
    judged = phases[-1]
    targets = [
        {
            "name": f"check-ins per second ({judged['phase']} phase)",
            "value": judged["check_ins_per_second"],
            "target": f">= {TARGET_RATE:g}",
            "met": judged["check_ins_per_second"] >= TARGET_RATE * 0.98,
        },
        {
            "name": f"p99 check-in latency ms ({judged['phase']} phase)",
            "value": judged["latency_ms"]["p99"],
            "target": f"<= {TARGET_P99_MS:g}",
            "met": judged["latency_ms"]["p99"] <= TARGET_P99_MS,
        },
    ]
    if args.subscribers:
        fan = judged["fanout_all_ms_from_sent"]["p99"]
        targets.append(
            {
                "name": f"p99 fan-out ms to all {args.subscribers} subscribers, from send "
                f"({judged['phase']} phase)",
                "value": fan,
                "target": f"<= {TARGET_FANOUT_MS:g}",
                "met": fan <= TARGET_FANOUT_MS and judged["deliveries_missing"] == 0,
            }
        )
    report = {
        "kiosks": args.kiosks,
        "workers": args.workers,
        "stations": len(stations),
        "subscribers": args.subscribers,
        "subscriber_workers": args.subscriber_workers,
        "cpus": os.cpu_count(),
        "loadavg_before": loadavg_before,
        "phases": phases,
        "station_ops": len(station_ms),
        "doses": sum(k.doses for k in kiosk_results),
        "refusals": {
            reason: sum(k.refusals.get(reason, 0) for k in kiosk_results)
            for reason in sorted({r for k in kiosk_results for r in k.refusals})
        },
        "station_ms": summarize(station_ms),
        "wall_seconds": wall,
        "cpu_capacity_seconds": wall * (os.cpu_count() or 1),
        "cpu_seconds": {
            "server": cpu_server,
            "kiosks": sum(k.cpu for k in kiosk_results),
            "subscribers": sum(s.cpu for s in sub_results),
            "whole_machine": busy,
        },
        "errors": [e for k in kiosk_results for e in k.errors]
        + [e for s in sub_results for e in s.errors]
        + [
            f"{s.closed_early} subscriber(s) cut off by the server"
            for s in sub_results
            if s.closed_early
        ],
        "targets": targets,
    }
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print_table(report)
    return 0 if all(t["met"] for t in targets) else 1


def _subscriber_entry(plan_conn: Any, count: int, out: Any, ready: Any) -> None:
    plan = plan_conn.recv()
    subscriber_worker(plan, count, out, ready)


if __name__ == "__main__":
    sys.exit(main())
