"""The SQLite WAL under steady check-ins stays under its ceiling (issue 18).

Before the fix the log grew without bound under load (8.9 -> 83 MB in 20 s against a
10.6 MB database) and filled a small disk by itself. A real `vaxflow server` takes
back-to-back walk-ins from several kiosks for a dozen seconds while a thread samples the
sizes of the database file and its `-wal` every 10 ms: the log never passes its ceiling
(the database's size held between 2 and 48 MiB), never twice the database beyond the 2 MiB
floor, and /api/health and the marshal's dashboard report its figures.
"""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.faults.kit import MARSHAL, site_server
from tests.figures import Figures
from tests.queue.test_durability import walk_in_body
from vaxflow.config import load_settings
from vaxflow.queue.store.checkpoint import CEILING_MIN, ceiling_for

pytestmark = pytest.mark.slow

KIOSK = {"Authorization": "Bearer demo-kiosk-token"}
KIOSKS = 6
SECONDS = 12.0


class Sizes:
    """(database, WAL) sizes sampled in a thread, and the worst sample against the ceiling."""

    def __init__(self, db: Path) -> None:
        self.db, self.wal = db, Path(f"{db}-wal")
        self.samples: list[tuple[int, int]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Sizes:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(0.01):
            try:
                wal = self.wal.stat().st_size  # the WAL first: the database only grows
                db = self.db.stat().st_size
            except FileNotFoundError:
                continue
            self.samples.append((db, wal))


async def test_the_wal_stays_under_its_ceiling_under_steady_check_ins(
    tmp_path: Path, figures: Figures
) -> None:
    with site_server(tmp_path) as site:
        settings = load_settings(site.config)
        count = 0
        deadline = time.monotonic() + SECONDS

        async def kiosk(index: int, session: aiohttp.ClientSession) -> None:
            nonlocal count
            n = 0
            while time.monotonic() < deadline:
                body = walk_in_body(settings, 1 + index + n * KIOSKS)
                n += 1
                headers = {**KIOSK, "X-Device-Id": f"k{index}"}
                async with session.post(
                    f"{site.url}/api/checkins", json=body, headers=headers
                ) as response:
                    answer: Any = await response.json()
                assert response.status in (200, 409), answer  # 409: a generated name clash
                count += response.status == 200

        timeout = aiohttp.ClientTimeout(total=15)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            with Sizes(site.db) as sizes:
                await asyncio.gather(*(kiosk(i, session) for i in range(KIOSKS)))
            async with session.get(f"{site.url}/api/health") as response:
                health = await response.json()
            async with session.get(f"{site.url}/api/dashboard", headers=MARSHAL) as response:
                dashboard = await response.json()

    assert count > 1000, count  # a steady load, not a trickle
    worst = max(sizes.samples, key=lambda s: s[1] / ceiling_for(s[0]))
    max_wal = max(wal for _db, wal in sizes.samples)
    assert worst[1] <= ceiling_for(worst[0]), (worst, len(sizes.samples))
    assert all(wal <= max(2 * db, CEILING_MIN) for db, wal in sizes.samples), worst
    wal = health["wal"]
    assert wal["bytes"] <= wal["ceiling"] and wal["checkpoints"] >= 1, wal
    assert wal["max_bytes"] <= wal["ceiling"] and wal["refused_batches"] == 0, wal
    assert dashboard["wal"]["ceiling"] <= ceiling_for(dashboard["wal"]["db_bytes"])
    figures.add("check-ins under the WAL bound", count)
    figures.add("largest WAL seen (KiB)", max_wal // 1024)
