"""The database on a nearly full disk: refusals in plain words, nothing acknowledged lost.

A real `vaxflow server` keeps its SQLite file on a small tmpfs of its own. The test fills
that filesystem with a file, leaving a few pages, and keeps checking people in from several
kiosks: the first few still fit, then every change is refused with 503 `storage_full` (words
for the person in three languages, a hint for staff) within milliseconds, while reads go on.
Deleting the file frees the space: the refused requests, retried with their keys, each get
one ticket, and numbering goes on from where it stopped, without a restart; then a minute
of steady check-ins is saved, every one (before issue 18 the unbounded WAL filled the disk
again within seconds and the server stayed at `storage_full`).
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import sqlite3
import subprocess
import time
from collections import Counter
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.conftest import load_test_site
from tests.figures import Figures
from tests.queue.test_durability import ServerProcess, walk_in_body
from vaxflow.config import Settings, load_settings
from vaxflow.queue.api import models as m
from vaxflow.queue.store.checkpoint import ceiling_for

pytestmark = [pytest.mark.slow, pytest.mark.timeout(150)]  # a minute of load after the fault

KIOSK = {"Authorization": "Bearer demo-kiosk-token"}
MARSHAL = {"Authorization": "Bearer demo-marshal-token"}
KIOSKS = 4
SLACK_BYTES = 64 * 1024  # left free after filling: a few more check-ins fit
MINUTE = 60.0  # of steady load after space is freed
EVERY = 0.05  # s between one kiosk's check-ins in that minute: 80 a second in all


@contextlib.contextmanager
def small_disk(where: Path, size: str = "16m") -> Any:
    """A tmpfs of `size` mounted at `where` (needs root and CAP_SYS_ADMIN, as in CI)."""
    where.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs", str(where)],
        capture_output=True,
        text=True,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small filesystem here: {mounted.stderr.strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def fill(path: Path, leave: int) -> int:
    """Write `path` until the disk is full, then give back `leave` bytes; returns its size."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    size = 0
    try:
        while True:
            try:
                size += os.write(fd, b"\0" * 65536)
            except OSError as err:
                assert err.errno == errno.ENOSPC, err
                break
        os.ftruncate(fd, max(0, size - leave))
    finally:
        os.close(fd)
    return size


def on_disk(disk: Path) -> dict[str, int]:
    """What takes the small disk's space, for a failure's message."""
    return {p.name: p.stat().st_size for p in disk.iterdir()}


class Kiosks:
    """Check-in requests by Idempotency-Key, and what became of them."""

    def __init__(self, settings: Settings, session: aiohttp.ClientSession, url: str) -> None:
        self.settings = settings
        self.session = session
        self.url = url
        self.bodies: dict[str, dict[str, Any]] = {}
        self.acked: dict[str, dict[str, Any]] = {}
        self.refused: dict[str, dict[str, Any]] = {}
        self.slowest = 0.0

    async def post(self, key: str) -> tuple[int, Any, dict[str, str]]:
        if key not in self.bodies:
            self.bodies[key] = walk_in_body(self.settings, len(self.bodies) + 1)
        headers = {**KIOSK, "Idempotency-Key": key, "X-Device-Id": key.split("-")[0]}
        started = time.monotonic()
        async with self.session.post(
            f"{self.url}/api/checkins", json=self.bodies[key], headers=headers
        ) as response:
            answer = await response.json()
        self.slowest = max(self.slowest, time.monotonic() - started)
        if response.status == 200:
            self.acked[key] = answer
            self.refused.pop(key, None)
        else:
            self.refused[key] = answer
        return response.status, answer, dict(response.headers)


async def test_full_disk_refuses_in_plain_words_then_recovers_without_restart(
    tmp_path: Path, figures: Figures
) -> None:
    config = load_test_site(tmp_path)
    settings = load_settings(config)
    with small_disk(tmp_path / "disk") as disk:
        db = disk / "site.sqlite"
        server = ServerProcess(config, db, tmp_path, "server")
        try:
            url = await asyncio.to_thread(server.wait_url)
            timeout = aiohttp.ClientTimeout(total=10)  # a hang fails the test, it is not waited out
            async with aiohttp.ClientSession(timeout=timeout) as session:
                kiosks = Kiosks(settings, session, url)
                for n in range(10):
                    status, answer, _ = await kiosks.post(f"k0-warm{n}")
                    assert status == 200, answer

                # 1. The disk fills up under sustained check-ins.
                fill(disk / "filler", SLACK_BYTES)
                statuses: Counter[int] = Counter()

                async def kiosk(index: int) -> None:
                    for n in range(40):
                        status, answer, headers = await kiosks.post(f"k{index + 1}-{n}")
                        statuses[status] += 1
                        if status != 200:
                            assert status == 503, answer
                            error = answer["error"]
                            assert error["reason"] == "storage_full", answer
                            assert set(error["messages"]) == {"zh-CN", "zh-TW", "en"}
                            assert all(error["messages"].values())
                            assert "disk" in error["hints"]["en"], error["hints"]
                            assert headers.get("Retry-After") == "5"

                await asyncio.gather(*(kiosk(i) for i in range(KIOSKS)))
                assert statuses[503] >= KIOSKS * 20, statuses  # it did fill up
                assert kiosks.slowest < 5, kiosks.slowest  # refused at once, never hung
                assert server.proc.poll() is None, server.log()
                async with session.get(f"{url}/api/stats", headers=MARSHAL) as response:
                    assert response.status == 200  # reads go on while writes are refused
                    during = await response.json()
                assert during["tickets_issued"] == len(kiosks.acked)
                async with session.get(f"{url}/api/dashboard", headers=MARSHAL) as response:
                    dashboard = await response.json()
                outage = dashboard["alerts"]["storage"]
                assert m.DashboardResponse.model_validate(dashboard).alerts.storage is not None
                assert outage is not None and outage["disk_full"] is True  # the marshal sees it
                assert outage["refused"] >= 1
                acked_while_full = dict(kiosks.acked)
                refused_keys = list(kiosks.refused)

                # 2. Space is freed: no restart, the same keys now give one ticket each.
                (disk / "filler").unlink()
                for key in refused_keys:
                    status, answer, _ = await kiosks.post(key)
                    assert status == 200, answer
                for key, first in acked_while_full.items():  # replays: the first answer
                    status, again, _ = await kiosks.post(key)
                    assert (status, again["ticket"]) == (200, first["ticket"]), key
                for n in range(10):
                    status, answer, _ = await kiosks.post(f"k0-after{n}")
                    assert status == 200, answer

                # 3. A minute of steady check-ins after space returned: the WAL stays bounded
                # and the disk does not fill again (before issue 18 it did within seconds).
                after: Counter[int] = Counter()
                until = time.monotonic() + MINUTE

                async def steady(index: int) -> None:
                    n, start = 0, time.monotonic()
                    while time.monotonic() < until:
                        status, answer, _ = await kiosks.post(f"k{index + 1}-minute{n}")
                        after[status] += 1
                        assert status == 200, (n, answer, on_disk(disk))
                        n += 1  # at most one check-in each EVERY seconds, on any machine
                        await asyncio.sleep(max(0.0, start + n * EVERY - time.monotonic()))

                await asyncio.gather(*(steady(i) for i in range(KIOSKS)))
                async with session.get(f"{url}/api/health") as response:
                    wal = (await response.json())["wal"]
                assert wal["bytes"] <= wal["ceiling"], wal  # lowered as the disk fills
                assert wal["max_bytes"] <= ceiling_for(wal["db_bytes"]), wal
                async with session.get(f"{url}/api/stats", headers=MARSHAL) as response:
                    stats = await response.json()
                async with session.get(f"{url}/api/dashboard", headers=MARSHAL) as response:
                    assert (await response.json())["alerts"]["storage"] is None  # over
            assert server.stop() == 0, server.log()
        finally:
            server.kill()
        log = server.log()

        # 4. Every acknowledged check-in is there, once; no number twice, none skipped.
        tickets = [answer["ticket"] for answer in kiosks.acked.values()]
        assert len(kiosks.acked) == len(kiosks.bodies) and not kiosks.refused
        assert len(set(tickets)) == len(tickets) == stats["tickets_issued"]
        with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as conn:
            assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
            rows = conn.execute("SELECT id, ticket, number FROM visits ORDER BY id").fetchall()
    assert sorted((a["visit_id"], a["ticket"]) for a in kiosks.acked.values()) == [
        (vid, ticket) for vid, ticket, _n in rows
    ]
    assert [n for _v, _t, n in rows] == list(range(1, len(rows) + 1))  # one walk-in lane
    # Staff read about the outage in words, and about its end; not once per request (at the
    # edge of full a small batch may still fit, so it may start and end a few times).
    outages = log.count("refusing changes until it can")
    assert 1 <= outages <= 5 and outages < statuses[503] // 10, log[-2000:]
    assert "disk full: free space on its disk" in log
    assert "the database saves again" in log
    figures.add("faults injected", 1)
    figures.add("requests refused for a full disk", statuses[503])
    figures.add("acknowledged check-ins verified", len(kiosks.acked))
    figures.add("check-ins saved in the minute after space was freed", after[200])
    figures.add("anything lost", 0)
