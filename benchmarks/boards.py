"""Boards under load: 2,000 people in observation, 100 board connections, a real server process.

    .venv/bin/python benchmarks/boards.py [--people 2000] [--boards 100] [--updates 60] [--json]

A `vaxflow server` runs on a temporary SQLite file with vaxflow/config/demo.toml (walk-in capacity
and observation seats raised). The script fills observation through the API (walk-in check-in, call,
scan, dose at twelve stations), then connects `--boards` observation boards the way the web board
does: each loads GET /api/boards/observation (everyone with ends_at, and the event number) and then
follows /ws/events?since=N. Two figures are measured:

* update: an observer flags or resolves someone (one POST, one event); latency from just
  before the POST to the event's arrival at each board (median and the last of all boards),
  and the server's CPU time per update (utime + stime of the server process from /proc,
  divided by the number of updates: the request, the commit and the fan-out to every board);
* snapshot: every board reloads its snapshot at once (what a server restart causes); time
  until the last board has the 2,000 people, and server CPU per snapshot.

The boards run in this process's event loop; their own JSON decoding is part of the measured
latency, so the figures are an upper bound for what a TV sees.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.server_load import (  # noqa: E402
    DEMO_CONFIG,
    start_server,
    stop_server,
    walk_in_body,
    walk_in_fields,
)

KIOSK = {"Authorization": "Bearer demo-kiosk-token"}
STATION = {"Authorization": "Bearer demo-station-token"}
OBSERVER = {"Authorization": "Bearer demo-observer-token"}
BOARD = {"Authorization": "Bearer demo-board-token"}
STATIONS = [f"S{n:02d}" for n in (1, 2, 3, 4, 9, 10, 11, 12)]  # the ones that give CORONAVAC
TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process, in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def site_config(directory: Path, people: int) -> Path:
    text = DEMO_CONFIG.read_text(encoding="utf-8")
    text = text.replace("daily_capacity = 300", f"daily_capacity = {people + 100}")
    text = text.replace("seats = 150", f"seats = {people + 100}")
    path = directory / "site.toml"
    path.write_text(text, encoding="utf-8")
    return path


async def post(http: aiohttp.ClientSession, url: str, headers: dict[str, str], body: Any) -> Any:
    """POST, waiting and retrying (same Idempotency-Key) when the server asks to slow down."""
    key = {"Idempotency-Key": os.urandom(16).hex()}
    for _attempt in range(100):
        async with http.post(url, json=body, headers={**headers, **key}) as response:
            data = await response.json()
        if response.status == 429:
            await asyncio.sleep(float(data["error"]["details"].get("retry_after_seconds", 0.1)))
            continue
        if response.status != 200:
            raise SystemExit(f"POST {url}: {response.status} {data}")
        return data
    raise SystemExit(f"POST {url}: still rate limited")


async def fill_observation(base: str, people: int) -> list[int]:
    """Walk-ins through the API until `people` are in observation; their visit ids."""
    fields = walk_in_fields()
    from vaxflow.config import load_settings

    settings = load_settings(DEMO_CONFIG)
    extra = {
        "answers": {q.id: False for q in settings.questions},
        "consent_version": settings.consent.version,
    }
    async with aiohttp.ClientSession() as http:
        for station in STATIONS:
            await post(
                http,
                f"{base}/api/stations/{station}/open",
                STATION,
                {"product": "CORONAVAC", "lot": "LOT-B", "vaccinator": "Bench"},
            )
        queue: asyncio.Queue[int] = asyncio.Queue()
        for n in range(people):
            queue.put_nowait(n)
        dosed: list[int] = []

        async def kiosk_and_station(station: str) -> None:
            while True:
                try:
                    n = queue.get_nowait()
                except asyncio.QueueEmpty:
                    return
                kiosk = {**KIOSK, "X-Device-Id": f"kiosk-{station}"}
                await post(http, f"{base}/api/checkins", kiosk, walk_in_body(n, fields, extra))
                called = (
                    await post(http, f"{base}/api/stations/{station}/call-next", STATION, {})
                )["called"]
                await post(
                    http,
                    f"{base}/api/stations/{station}/start-service",
                    STATION,
                    {"code": called["ticket"]},
                )
                await post(
                    http,
                    f"{base}/api/stations/{station}/record-dose",
                    STATION,
                    {"visit_id": called["visit_id"]},
                )
                dosed.append(called["visit_id"])

        await asyncio.gather(*(kiosk_and_station(s) for s in STATIONS))
    return dosed


class Board:
    """One observation board: a snapshot, then the feed; records when each event arrives."""

    def __init__(self, http: aiohttp.ClientSession, base: str) -> None:
        self.http = http
        self.base = base
        self.people: dict[int, dict[str, Any]] = {}
        self.seq = 0
        self.arrived: dict[int, float] = {}  # event seq -> monotonic arrival
        self.by_visit: dict[tuple[int, str], float] = {}
        self.ws: aiohttp.ClientWebSocketResponse | None = None
        self.live = asyncio.Event()
        self.task: asyncio.Task[None] | None = None

    async def snapshot(self) -> None:
        async with self.http.get(f"{self.base}/api/boards/observation", headers=BOARD) as r:
            data = json.loads(await r.text())
        self.people = {p["visit_id"]: p for p in data["people"]}
        self.seq = data["seq"]

    async def follow(self) -> None:
        ws = await self.http.ws_connect(
            f"{self.base}/ws/events?since={self.seq}", protocols=("bearer.demo-board-token",)
        )
        self.ws = ws
        async for message in ws:
            event = json.loads(message.data)
            if event["kind"] == "live":
                self.live.set()
                continue
            self.by_visit[(event["visit_id"], event["kind"])] = time.monotonic()
            payload = event["payload"]
            if payload.get("state") == "observing":
                self.people[event["visit_id"]] = payload
            else:
                self.people.pop(event["visit_id"], None)

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()
        if self.task is not None:
            await self.task


async def measure(
    base: str, pid: int, visits: list[int], boards: int, updates: int
) -> dict[str, Any]:
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as http:
        clients = [Board(http, base) for _ in range(boards)]
        # --- every board loads its snapshot at once (as after a restart) -------------------
        cpu0, t0 = cpu_seconds(pid), time.monotonic()
        await asyncio.gather(*(b.snapshot() for b in clients))
        snapshot_wall = time.monotonic() - t0
        snapshot_cpu = (cpu_seconds(pid) - cpu0) / boards
        assert all(len(b.people) == len(visits) for b in clients), "a board missed people"
        single: list[float] = []
        for _ in range(5):
            t = time.monotonic()
            await clients[0].snapshot()
            single.append(time.monotonic() - t)
        for b in clients:
            b.task = asyncio.create_task(b.follow())
        await asyncio.gather(*(b.live.wait() for b in clients))
        # --- updates: flag, then resolve, one at a time ---------------------------------------
        latencies_all: list[float] = []
        latencies_median: list[float] = []
        cpu0 = cpu_seconds(pid)
        for n in range(updates):
            visit = visits[(n // 2) % len(visits)]
            kind, action, body = (
                ("adverse_flagged", "flag", {"kind": "rash", "severity": "mild"})
                if n % 2 == 0
                else ("adverse_resolved", "resolve", {"outcome": "resolved"})
            )
            sent = time.monotonic()
            await post(http, f"{base}/api/observation/{visit}/{action}", OBSERVER, body)
            deadline = sent + 10
            while not all((visit, kind) in b.by_visit for b in clients):
                if time.monotonic() > deadline:
                    raise SystemExit(f"update {n} did not reach every board")
                await asyncio.sleep(0.001)
            arrivals = [b.by_visit.pop((visit, kind)) - sent for b in clients]
            latencies_all.append(max(arrivals))
            latencies_median.append(statistics.median(arrivals))
            await asyncio.sleep(0.05)
        update_cpu = (cpu_seconds(pid) - cpu0) / updates
        for b in clients:
            await b.close()
    ms = 1000.0
    return {
        "people": len(visits),
        "boards": boards,
        "updates": updates,
        "update_latency_ms_median_board": round(statistics.median(latencies_median) * ms, 1),
        "update_latency_ms_last_board_p50": round(statistics.median(latencies_all) * ms, 1),
        "update_latency_ms_last_board_max": round(max(latencies_all) * ms, 1),
        "server_cpu_ms_per_update": round(update_cpu * ms, 2),
        "snapshot_ms_single": round(statistics.median(single) * ms, 1),
        "snapshot_all_boards_s": round(snapshot_wall, 2),
        "server_cpu_ms_per_snapshot": round(snapshot_cpu * ms, 1),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=2000)
    parser.add_argument("--boards", type=int, default=100)
    parser.add_argument("--updates", type=int, default=60)
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="vaxflow-boards-") as tmp:
        directory = Path(tmp)
        config = site_config(directory, args.people)
        proc, base = start_server(config, directory / "site.sqlite", directory / "server.log")
        try:
            t0 = time.monotonic()
            visits = asyncio.run(fill_observation(base, args.people))
            fill = time.monotonic() - t0
            figures = asyncio.run(measure(base, proc.pid, visits, args.boards, args.updates))
        finally:
            stop_server(proc)
    figures["fill_seconds"] = round(fill, 1)
    if args.json:
        print(json.dumps(figures, indent=2))
    else:
        for key, value in figures.items():
            print(f"{key:34} {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
