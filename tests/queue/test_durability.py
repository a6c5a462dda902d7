"""Kill -9 in the middle of sustained check-ins: nothing acknowledged is lost, no ticket twice.

A real `vaxflow server` process runs on a SQLite file while several kiosks check people in:
walk-ins with distinct, valid ID numbers (walk-ins depend on the fewest booking rules, and for
them the Idempotency-Key is what stands between a retry and a second ticket). After about a
second of load the server gets SIGKILL; it is restarted on the same file and every request is
accounted for: acknowledged ones still exist with the same ticket and visit, requests whose
answer was lost are retried with their key and give exactly one ticket, and numbering continues.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from stdnum.cn import ric

from tests.conftest import load_test_site
from tests.figures import Figures
from vaxflow.config import Settings, load_settings
from vaxflow.queue.api import models as api_models

pytestmark = pytest.mark.slow

KIOSK = {"Authorization": "Bearer demo-kiosk-token"}
MARSHAL = {"Authorization": "Bearer demo-marshal-token"}
KIOSKS = 8
LOAD_SECONDS = 1.0
MIN_ACKED = 30
TICKET = re.compile(r"^([A-Z])(\d+)$")


# --- a real server process ---------------------------------------------------------------


def _vaxflow() -> list[str]:
    script = Path(sys.executable).with_name("vaxflow")
    return [str(script)] if script.exists() else [sys.executable, "-m", "vaxflow"]


class ServerProcess:
    """`vaxflow server` on a free port; stdout and stderr go to files in the test's folder."""

    def __init__(
        self,
        config: Path,
        db: Path,
        folder: Path,
        name: str,
        env: dict[str, str] | None = None,
    ) -> None:
        """`env` is added to the server's environment (libfaketime's, say)."""
        self.out = folder / f"{name}.out"
        self.err = folder / f"{name}.err"
        with self.out.open("wb") as out, self.err.open("wb") as err:
            self.proc = subprocess.Popen(
                [*_vaxflow(), "server", "--config", str(config), "--port", "0", "--db", str(db)],
                stdout=out,
                stderr=err,
                env={**os.environ, **env} if env else None,
            )
        self.url = ""

    def wait_url(self, timeout: float = 20.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            match = re.search(r"listening on (http://\S+)", self.out.read_text(errors="replace"))
            if match:
                self.url = match.group(1)
                return self.url
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        raise AssertionError(f"the server did not start:\n{self.log()}")

    def log(self) -> str:
        return self.err.read_text(errors="replace")[-3000:]

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(10)

    def stop(self) -> int:
        """SIGINT, as an operator's Ctrl-C; SIGKILL if it does not go within 10 s."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                return self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
                raise AssertionError(f"the server ignored SIGINT:\n{self.log()}") from None
        return self.proc.returncode


# Bodies are built from the fields the API models have, so the test follows the API as it
# grows (ID card, health answers, consent) without depending on one version of it.
_CHECKIN_FIELDS = set(api_models.CheckInRequest.model_fields)
_WALK_IN_FIELDS = set(api_models.WalkInBody.model_fields)
_NAMES = ("王芳", "李强", "张伟", "刘洋", "陈静", "杨秀英", "赵磊")


def walk_in_body(settings: Settings, index: int) -> dict[str, Any]:
    """A walk-in adult (18-51 years old) with a valid resident ID number unique to `index`."""
    birth = date(1975, 1, 1) + timedelta(days=index // 499)
    order = (index % 499) * 2 + 1  # odd: male
    body17 = f"110101{birth:%Y%m%d}{order:03d}"
    person = {
        "name": _NAMES[index % len(_NAMES)],
        # python-stdnum's calc_check_digit wants the number with a placeholder check digit
        "id_number": body17 + ric.calc_check_digit(body17 + "0"),
        "birth_date": birth.isoformat(),
        "sex": "male",
    }
    request: dict[str, Any] = {"walk_in": {k: v for k, v in person.items() if k in _WALK_IN_FIELDS}}
    questions = getattr(settings, "questions", None)
    if "answers" in _CHECKIN_FIELDS and questions:
        request["answers"] = {q.id: False for q in questions}
    consent = getattr(settings, "consent", None)
    if "consent_version" in _CHECKIN_FIELDS and consent is not None and consent.text:
        request["consent_version"] = consent.version
    return request


# --- the kiosks ------------------------------------------------------------------------


@dataclass
class Ledger:
    """Every check-in request made, by Idempotency-Key."""

    settings: Settings
    bodies: dict[str, dict[str, Any]] = field(default_factory=dict)
    acked: dict[str, dict[str, Any]] = field(default_factory=dict)
    unacked: list[str] = field(default_factory=list)
    refused: dict[str, tuple[int, Any]] = field(default_factory=dict)
    people: int = 0

    def next_body(self) -> dict[str, Any]:
        self.people += 1
        return walk_in_body(self.settings, self.people)


async def _kiosk(session: aiohttp.ClientSession, url: str, index: int, ledger: Ledger) -> None:
    """Check people in back to back until the server goes away."""
    n = 0
    while True:
        key = f"kiosk{index}-{n}"
        body = ledger.next_body()
        n += 1
        ledger.bodies[key] = body
        headers = {**KIOSK, "Idempotency-Key": key, "X-Device-Id": f"kiosk-{index}"}
        try:
            async with session.post(f"{url}/api/checkins", json=body, headers=headers) as r:
                data = await r.json()
                status = r.status
        except (aiohttp.ClientError, TimeoutError):
            ledger.unacked.append(key)  # in flight at the kill: the answer is lost
            return
        if status == 200:
            ledger.acked[key] = data
        else:
            ledger.refused[key] = (status, data)


async def _post(
    session: aiohttp.ClientSession, url: str, key: str, body: dict[str, Any]
) -> tuple[int, Any]:
    headers = {**KIOSK, "Idempotency-Key": key}
    async with session.post(f"{url}/api/checkins", json=body, headers=headers) as r:
        return r.status, await r.json()


async def _get(session: aiohttp.ClientSession, url: str, headers: dict[str, str]) -> Any:
    async with session.get(url, headers=headers) as r:
        assert r.status == 200, await r.text()
        return await r.json()


async def _bounded(jobs: list[Any], limit: int = 8) -> list[Any]:
    gate = asyncio.Semaphore(limit)

    async def one(job: Any) -> Any:
        async with gate:
            return await job

    return await asyncio.gather(*(one(job) for job in jobs))


def _lane_number(ticket: str) -> tuple[str, int]:
    match = TICKET.match(ticket)
    assert match, ticket
    return match.group(1), int(match.group(2))


# --- the test --------------------------------------------------------------------------


async def test_sigkill_under_load_loses_no_acknowledged_check_in(
    tmp_path: Path, figures: Figures
) -> None:
    config = load_test_site(tmp_path)
    db = tmp_path / "site.sqlite"
    ledger = Ledger(load_settings(config))
    servers: list[ServerProcess] = []
    timeout = aiohttp.ClientTimeout(total=10)
    try:
        # 1. Sustained check-ins, then SIGKILL.
        first = ServerProcess(config, db, tmp_path, "first")
        servers.append(first)
        url = await asyncio.to_thread(first.wait_url)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            kiosks = [asyncio.create_task(_kiosk(session, url, i, ledger)) for i in range(KIOSKS)]
            started = time.monotonic()
            while time.monotonic() - started < LOAD_SECONDS or len(ledger.acked) < MIN_ACKED:
                assert time.monotonic() - started < 10, "too few check-ins answered"
                assert not any(k.done() for k in kiosks), f"a kiosk stopped:\n{first.log()}"
                await asyncio.sleep(0.02)
            os.kill(first.proc.pid, signal.SIGKILL)
            killed_at = datetime.now().astimezone()
            await asyncio.wait_for(asyncio.gather(*kiosks), 15)
            first.kill()  # reap it
        assert first.proc.returncode == -signal.SIGKILL
        reasons = Counter(
            str(answer.get("error", {}).get("reason")) for _s, answer in ledger.refused.values()
        )
        assert not ledger.refused, f"{len(ledger.refused)} refused during the load: {reasons}"
        assert len(ledger.unacked) == KIOSKS  # every kiosk had exactly one request in flight
        acked_before = dict(ledger.acked)

        # 2. Restart on the same file and account for every request.
        second = ServerProcess(config, db, tmp_path, "second")
        servers.append(second)
        url = await asyncio.to_thread(second.wait_url)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            # Every acknowledged ticket is there, with the same visit.
            found = await _bounded(
                [
                    _get(session, f"{url}/api/tickets/{answer['ticket']}", KIOSK)
                    for answer in acked_before.values()
                ]
            )
            for answer, visit in zip(acked_before.values(), found, strict=True):
                assert (visit["visit_id"], visit["ticket"]) == (
                    answer["visit_id"],
                    answer["ticket"],
                )
                assert visit["state"] == "checked_in"
            # Replaying an acknowledged request gives its first answer, not a second ticket.
            replays = await _bounded(
                [_post(session, url, key, ledger.bodies[key]) for key in acked_before]
            )
            for (key, answer), (status, again) in zip(acked_before.items(), replays, strict=True):
                assert status == 200, again
                assert (again["visit_id"], again["ticket"]) == (
                    answer["visit_id"],
                    answer["ticket"],
                ), key
            # Requests whose answer was lost: retried with their key, they give one ticket.
            # Committed before the kill -> the stored answer; not committed -> a new ticket.
            committed_before_kill, made_now = 0, 0
            for key in ledger.unacked:
                status, answer = await _post(session, url, key, ledger.bodies[key])
                assert status == 200, (key, answer)
                status, again = await _post(session, url, key, ledger.bodies[key])
                assert (status, again["visit_id"], again["ticket"]) == (
                    200,
                    answer["visit_id"],
                    answer["ticket"],
                ), key
                if datetime.fromisoformat(answer["checked_in_at"]) < killed_at:
                    committed_before_kill += 1
                else:
                    made_now += 1
                ledger.acked[key] = answer
            # Check-ins go on after the restart.
            fresh: dict[str, dict[str, Any]] = {}
            for n in range(30):
                key = f"after-{n}"
                body = ledger.next_body()
                ledger.bodies[key] = body
                status, answer = await _post(session, url, key, body)
                assert status == 200, answer
                fresh[key] = answer
            ledger.acked.update(fresh)
            stats = await _get(session, f"{url}/api/stats", MARSHAL)
        assert second.stop() == 0, second.log()
    finally:
        for server in servers:
            with contextlib.suppress(Exception):
                server.kill()

    # 3. One ticket per request, none twice, numbers 1..N per lane with no reuse.
    tickets = [answer["ticket"] for answer in ledger.acked.values()]
    visits = [answer["visit_id"] for answer in ledger.acked.values()]
    assert len(set(tickets)) == len(tickets), Counter(tickets).most_common(3)
    assert len(set(visits)) == len(visits)
    assert stats["tickets_issued"] == len(tickets) == stats["checked_in"]
    uri = f"file:{db}?mode=ro"
    with contextlib.closing(sqlite3.connect(uri, uri=True)) as conn:
        rows = conn.execute("SELECT id, ticket, lane, number FROM visits").fetchall()
        doubles = conn.execute(
            "SELECT site_day, ticket, COUNT(*) FROM visits GROUP BY site_day, ticket"
            " HAVING COUNT(*) > 1"
        ).fetchall()
        counters = dict(conn.execute("SELECT lane, last_number FROM ticket_counters").fetchall())
    assert not doubles
    # Every visit in the database is the answer to exactly one of the requests made.
    assert sorted((vid, t) for vid, t, _lane, _n in rows) == sorted(
        zip(visits, tickets, strict=True)
    )
    by_lane: dict[str, list[int]] = defaultdict(list)
    for _vid, ticket, lane, number in rows:
        assert _lane_number(ticket) == (lane, number)
        by_lane[lane].append(number)
    for lane, numbers in by_lane.items():
        assert sorted(numbers) == list(range(1, counters[lane] + 1)), lane
    # Numbers after the restart continue above everything issued before the kill.
    before: dict[str, int] = defaultdict(int)
    for key, answer in ledger.acked.items():
        if key not in fresh and datetime.fromisoformat(answer["checked_in_at"]) < killed_at:
            lane, number = _lane_number(answer["ticket"])
            before[lane] = max(before[lane], number)
    for answer in fresh.values():
        lane, number = _lane_number(answer["ticket"])
        assert number > before[lane], (answer["ticket"], before)
    figures.add("faults injected", 1)
    figures.add("acknowledged check-ins verified", len(ledger.acked))
    figures.add("anything lost", 0)
    print(
        f"acknowledged before the kill: {len(acked_before)}; in flight: {len(ledger.unacked)} "
        f"({committed_before_kill} had committed, {made_now} made on retry); "
        f"after restart: {len(fresh)}; lanes {dict(counters)}"
    )
