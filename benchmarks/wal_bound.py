"""The SQLite WAL under steady check-ins: how large it grows against the database, and the rate.

    .venv/bin/python benchmarks/wal_bound.py [--seconds 20] [--kiosks 8] [--bookings 20000]
        [--json]

A `vaxflow server` process on a temporary SQLite file (the demo site, walk-in capacity
raised, `--bookings` seeded so the database has a site's size) takes walk-in check-ins from
`--kiosks` concurrent clients back to back for `--seconds`. A thread samples the sizes of
`site.sqlite` and `site.sqlite-wal` every 20 ms. Printed: the largest WAL seen, the
database's size, their ratio, the WAL ceiling the server reports in /api/health (if it
does), and check-ins per second. Issue 18: the WAL grew without bound (8.9 -> 83 MB in 20 s
against a 10.6 MB database) and filled a small disk by itself.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.server_load import (  # noqa: E402
    KIOSK,
    screening,
    seed,
    site_file,
    start_server,
    stop_server,
    walk_in_body,
    walk_in_fields,
)

MIB = 1024 * 1024


class Sampler:
    """The database's and the WAL's sizes, every `every` seconds, in a thread."""

    def __init__(self, db: Path, every: float = 0.02) -> None:
        self.db, self.wal = db, Path(f"{db}-wal")
        self.every = every
        self.max_wal = 0
        self.db_at_max = 0
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            try:
                wal = self.wal.stat().st_size
                db = self.db.stat().st_size
            except FileNotFoundError:
                continue
            self.samples += 1
            if wal > self.max_wal:
                self.max_wal, self.db_at_max = wal, db


async def load(url: str, kiosks: int, seconds: float, extra: dict[str, Any]) -> dict[str, Any]:
    """Back-to-back walk-ins from `kiosks` clients for `seconds`; counts and the health."""
    fields = walk_in_fields()
    done = 0
    refused: dict[str, int] = {}
    deadline = time.monotonic() + seconds

    async def kiosk(index: int, session: aiohttp.ClientSession) -> None:
        nonlocal done
        n = 0
        while time.monotonic() < deadline:
            body = walk_in_body(index + n * kiosks, fields, extra)
            n += 1
            headers = {**KIOSK, "X-Device-Id": f"bench-{index}"}
            async with session.post(f"{url}/api/checkins", json=body, headers=headers) as r:
                answer = await r.json()
            if r.status == 200:
                done += 1
            else:
                reason = str(answer.get("error", {}).get("reason", r.status))
                refused[reason] = refused.get(reason, 0) + 1

    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        started = time.monotonic()
        await asyncio.gather(*(kiosk(i, session) for i in range(kiosks)))
        elapsed = time.monotonic() - started
        async with session.get(f"{url}/api/health") as r:
            health = await r.json()
    return {"checkins": done, "seconds": elapsed, "refused": refused, "health": health}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="length of the load")
    parser.add_argument("--kiosks", type=int, default=8, help="concurrent clients")
    parser.add_argument("--bookings", type=int, default=20000, help="bookings seeded")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="wal-bound-") as tmp:
        folder = Path(tmp)
        config = site_file(folder, walk_in_capacity=1_000_000)
        db = folder / "site.sqlite"
        if args.bookings:
            seed(config, db, args.bookings)
        from vaxflow.config import load_settings

        extra = screening(load_settings(config))
        proc, url = start_server(config, db, folder / "server.log")
        try:
            with Sampler(db) as sampler:
                result = asyncio.run(load(url, args.kiosks, args.seconds, extra))
        finally:
            stop_server(proc)
        db_size = os.path.getsize(db)
    wal = result["health"].get("wal") or {}
    figures = {
        "seconds": round(result["seconds"], 1),
        "kiosks": args.kiosks,
        "checkins": result["checkins"],
        "checkins_per_second": round(result["checkins"] / result["seconds"], 1),
        "refused": result["refused"],
        "max_wal_mib": round(sampler.max_wal / MIB, 2),
        "db_mib_at_max_wal": round(sampler.db_at_max / MIB, 2),
        "db_mib_after": round(db_size / MIB, 2),
        "max_wal_over_db": round(sampler.max_wal / max(sampler.db_at_max, 1), 2),
        "wal_ceiling_mib": round(wal["ceiling"] / MIB, 2) if "ceiling" in wal else None,
        "samples": sampler.samples,
    }
    if args.json:
        print(json.dumps(figures))
    else:
        for name, value in figures.items():
            print(f"{name:>22}  {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
