"""Attacks from the site LAN on a real `vaxflow server`: a socket flood and a sign-in flood.

    .venv/bin/python benchmarks/attack_load.py [--events 30000] [--sockets 500]
        [--readers 20] [--sign-ins 200] [--code DIR] [--json]

The server runs as its own process (the demo site file, a temporary SQLite file holding
`--events` events of a day). Then:

* socket flood: `--sockets` WebSockets ask `/ws/events?since=0&batch=1` at once, each as
  its own device; `--readers` of them read everything, the others never read (an attacker, or
  a hung board). The server's RSS (VmRSS of /proc/PID/status) is printed before, at its peak
  during the flood, and 5 s after every socket closed; with /api/stats p99 meanwhile;
* sign-in flood: `--sign-ins` sign-ins at once (right PIN, each from its own device), `--rounds`
  times one after the other (a round lasts about a second: more rounds, more /api/stats
  samples for a p99 that is not just the maximum): their p99 and answers, and /api/stats p99
  meanwhile, beside /api/stats p99 with no flood.

Each figure is printed with the machine's load average (other work on the machine slows the
server too).

`--code DIR` runs the server from another checkout (a clone at the commit before issue 17) for a
before/after comparison. Exit status 0 when the server stayed up.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import selectors
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from vaxflow.clock import SystemClock  # noqa: E402
from vaxflow.config import load_settings  # noqa: E402
from vaxflow.queue.core.events import EventKind  # noqa: E402
from vaxflow.queue.core.stats import percentile  # noqa: E402
from vaxflow.queue.store.db import database_url  # noqa: E402
from vaxflow.queue.store.writer import Store, Tx  # noqa: E402

DEMO_CONFIG = ROOT / "vaxflow" / "config" / "demo.toml"
MARSHAL = {"Authorization": "Bearer demo-marshal-token"}
BOARD = "Bearer demo-board-token"
STATION = "Bearer demo-station-token"


async def seed(db: Path, events: int) -> None:
    """A day's events, shaped like the visits' (about 300 bytes each)."""
    settings = load_settings(DEMO_CONFIG)
    store = Store(database_url(str(db)), site_id=settings.site.id, clock=SystemClock())
    await store.start()
    kinds = [EventKind.CHECKED_IN, EventKind.CALLED, EventKind.DOSED, EventKind.RELEASED]

    def op(start: int, count: int) -> Any:
        def write(tx: Tx) -> None:
            for n in range(start, start + count):
                tx.emit(
                    kinds[n % 4],
                    n // 4 + 1,
                    {
                        "visit_id": n // 4 + 1,
                        "ticket": f"A{n // 4 % 1000:03d}",
                        "lane": "A",
                        "state": "observing",
                        "product": "CORONAVAC",
                        "name": "张*明",
                        "station_id": "S01",
                        "station_name": "Station 1",
                        "zone": "Hall A",
                        "call_count": 1,
                        "ends_at": "2026-12-05T10:30:00+08:00",
                        "adverse_open": False,
                        "print_failed": False,
                    },
                )

        return write

    for start in range(0, events, 5000):
        await store.write(op(start, min(5000, events - start)), actor="bench")
    await store.stop()


def start_server(db: Path, code: Path) -> tuple[subprocess.Popen[bytes], str]:
    env = {**os.environ, "PYTHONPATH": str(code)}
    command = [sys.executable, "-m", "vaxflow", "server", "--config", str(DEMO_CONFIG)]
    proc = subprocess.Popen(
        [*command, "--port", "0", "--db", str(db)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        cwd=code,
        env=env,
    )
    assert proc.stdout is not None
    deadline, buffer = time.monotonic() + 60, b""
    with selectors.DefaultSelector() as sel:
        sel.register(proc.stdout, selectors.EVENT_READ)
        while time.monotonic() < deadline:
            if sel.select(0.5):
                buffer += os.read(proc.stdout.fileno(), 4096)
                match = re.search(rb"listening on (https?://\S+)", buffer)
                if match:
                    threading.Thread(target=proc.stdout.read, daemon=True).start()
                    return proc, match.group(1).decode()
            if proc.poll() is not None:
                break
    proc.kill()
    raise SystemExit(f"the server did not start: {buffer.decode(errors='replace')}")


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


class Sampler:
    """RSS of the server and /api/stats latencies, sampled while an attack runs."""

    def __init__(self, pid: int, session: aiohttp.ClientSession, url: str) -> None:
        self.pid, self.session, self.url = pid, session, url
        self.peak = 0.0
        self.stats_ms: list[float] = []
        self.stats_failed = 0
        self._stop = asyncio.Event()

    async def run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, rss_mb(self.pid))
            start = time.perf_counter()
            try:
                async with self.session.get(f"{self.url}/api/stats", headers=MARSHAL) as r:
                    await r.read()
                    ok = r.status == 200
            except (aiohttp.ClientError, TimeoutError):
                ok = False
            if ok:
                self.stats_ms.append((time.perf_counter() - start) * 1000)
            else:
                self.stats_failed += 1
            await asyncio.sleep(0.05)

    def stop(self) -> None:
        self._stop.set()


async def socket_flood(
    url: str, pid: int, sockets: int, readers: int, events: int
) -> dict[str, Any]:
    ws_url = url.replace("http", "ws", 1) + "/ws/events?since=0&batch=1"
    timeout = aiohttp.ClientTimeout(total=120)
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(timeout=timeout, connector=connector) as session:
        before = rss_mb(pid)
        sampler = Sampler(pid, session, url)
        sampling = asyncio.create_task(sampler.run())
        outcomes: Counter[str] = Counter()
        received: list[int] = []
        opened: list[aiohttp.ClientWebSocketResponse] = []

        async def one(n: int) -> None:
            headers = {"Authorization": BOARD, "X-Device-Id": f"attacker-{n}"}
            try:
                ws = await session.ws_connect(ws_url, headers=headers, max_msg_size=0)
            except aiohttp.WSServerHandshakeError as err:
                outcomes[f"refused {err.status}"] += 1
                return
            except (aiohttp.ClientError, TimeoutError):
                outcomes["failed"] += 1
                return
            outcomes["open"] += 1
            opened.append(ws)
            if n >= readers:
                return  # never reads: holds the socket
            seen = 0
            async for message in ws:
                if message.type is not aiohttp.WSMsgType.TEXT:
                    break
                if '"kind":"live"' in message.data or '"kind": "live"' in message.data:
                    break
                seen += message.data.count('"seq"')
            received.append(seen)

        started = time.perf_counter()
        await asyncio.gather(*(one(n) for n in range(sockets)))
        readers_done = time.perf_counter() - started
        await asyncio.sleep(15)  # the non-readers sit there; slow ones are dropped
        dropped = sum(1 for ws in opened if ws.closed)
        for ws in opened:
            await ws.close()
        await asyncio.sleep(5)
        sampler.stop()
        await sampling
        after = rss_mb(pid)
    return {
        "events": events,
        "sockets": sockets,
        "outcomes": dict(outcomes),
        "readers_complete": sum(1 for r in received if r >= events),
        "readers_seconds": round(readers_done, 2),
        "closed_by_server_before_client": dropped,
        "rss_mb_before": round(before, 1),
        "rss_mb_peak": round(sampler.peak, 1),
        "rss_mb_after": round(after, 1),
        "stats_p99_ms": _p99(sampler.stats_ms),
        "stats_failed": sampler.stats_failed,
    }


async def quiet_stats(url: str, pid: int, seconds: float) -> dict[str, Any]:
    """/api/stats p99 with nothing else going on: the floor the flood figures stand on."""
    async with aiohttp.ClientSession() as session:
        sampler = Sampler(pid, session, url)
        sampling = asyncio.create_task(sampler.run())
        await asyncio.sleep(seconds)
        sampler.stop()
        await sampling
    return {
        "stats_p99_ms": _p99(sampler.stats_ms),
        "stats_samples": len(sampler.stats_ms),
        "load_average": _load(),
    }


async def sign_in_flood(url: str, pid: int, count: int, rounds: int = 1) -> dict[str, Any]:
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as session:
        sampler = Sampler(pid, session, url)
        sampling = asyncio.create_task(sampler.run())
        await asyncio.sleep(0.2)
        latencies: list[float] = []
        answers: Counter[str] = Counter()

        async def one(n: int) -> None:
            headers = {"Authorization": STATION, "X-Device-Id": f"console-{n}"}
            start = time.perf_counter()
            async with session.post(
                f"{url}/api/staff/sign-in",
                json={"staff_id": "N0001", "pin": "1234"},
                headers=headers,
            ) as response:
                body = await response.json()
            latencies.append((time.perf_counter() - start) * 1000)
            reason = (body.get("error") or {}).get("reason", "signed_in")
            answers[f"{response.status} {reason}"] += 1

        started = time.perf_counter()
        for _round in range(rounds):
            await asyncio.gather(*(one(n) for n in range(count)))
        wall = time.perf_counter() - started
        await asyncio.sleep(0.3)
        sampler.stop()
        await sampling
    return {
        "sign_ins": count,
        "rounds": rounds,
        "answers": dict(answers),
        "sign_in_p50_ms": round(percentile(latencies, 50) or 0, 1),
        "sign_in_p99_ms": _p99(latencies),
        "wall_seconds": round(wall, 2),
        "stats_p99_ms": _p99(sampler.stats_ms),
        "stats_samples": len(sampler.stats_ms),
        "load_average": _load(),
    }


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def _p99(values: list[float]) -> float | None:
    found = percentile(values, 99)
    return round(found, 1) if found is not None else None


async def main_async(args: argparse.Namespace) -> int:
    flood: dict[str, Any] | None = None
    signs: dict[str, Any] | None = None
    with tempfile.TemporaryDirectory() as folder:
        db = Path(folder) / "attack.sqlite"
        await seed(db, args.events)
        proc, url = start_server(db, args.code)
        try:
            await asyncio.sleep(1)
            quiet = await quiet_stats(url, proc.pid, 3)
            if args.only != "sign-ins":
                flood = await socket_flood(url, proc.pid, args.sockets, args.readers, args.events)
                flood["load_average"] = _load()
            if args.only != "sockets":
                signs = await sign_in_flood(url, proc.pid, args.sign_ins, args.rounds)
            alive = proc.poll() is None
        finally:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
    result = {"code": str(args.code), "quiet": quiet, "socket_flood": flood, "sign_in_flood": signs}
    if args.json:
        print(json.dumps(result, indent=2))
        return 0 if alive else 1
    print(f"server code: {args.code}")
    print(
        f"no flood: /api/stats p99 {quiet['stats_p99_ms']} ms over {quiet['stats_samples']} "
        f"reads (load average {quiet['load_average']})"
    )
    if (f := flood) is not None:
        print(f"socket flood: {f['sockets']} x since=0 over {f['events']} events: {f['outcomes']}")
        print(
            f"  RSS before {f['rss_mb_before']} MB, peak {f['rss_mb_peak']} MB, "
            f"5 s after {f['rss_mb_after']} MB"
        )
        print(
            f"  readers complete {f['readers_complete']}/{args.readers} in "
            f"{f['readers_seconds']} s; sockets the server closed: "
            f"{f['closed_by_server_before_client']}"
        )
        print(
            f"  /api/stats p99 {f['stats_p99_ms']} ms ({f['stats_failed']} failed; "
            f"load average {f['load_average']})"
        )
    if (s := signs) is not None:
        print(f"sign-in flood: {s['sign_ins']} at once, {s['rounds']} round(s): {s['answers']}")
        print(
            f"  sign-in p50 {s['sign_in_p50_ms']} ms, p99 {s['sign_in_p99_ms']} ms; "
            f"/api/stats p99 {s['stats_p99_ms']} ms over {s['stats_samples']} reads "
            f"(load average {s['load_average']})"
        )
    return 0 if alive else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--events", type=int, default=30_000)
    parser.add_argument("--sockets", type=int, default=500)
    parser.add_argument("--readers", type=int, default=20)
    parser.add_argument("--sign-ins", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=1, help="sign-in floods one after another")
    parser.add_argument("--only", choices=("sockets", "sign-ins"), help="run one attack only")
    parser.add_argument("--code", default=str(ROOT), help="checkout the server runs from")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    args.code = Path(args.code).resolve()
    return asyncio.run(main_async(args))


if __name__ == "__main__":
    sys.exit(main())
