"""A real server's wall clock steps; nobody's observation time moves (issue 18).

`vaxflow server` runs under libfaketime (Debian `faketime`) reading its offset from a file
(`FAKETIME_TIMESTAMP_FILE`, re-read every second) with `DONT_FAKE_MONOTONIC=1`: the wall
clock steps the way an NTP step or a hand-corrected clock does, the monotonic clock does not.
Before the fix "now" was the wall clock: +40 min released a person dosed a second earlier,
and a -20 min correction kept people 50 minutes. Now observation is time served on the
steady clock; the step is logged and shown in /api/health and to the marshal.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from datetime import time as dtime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
import pytest

from tests.conftest import load_test_site
from tests.queue.test_durability import ServerProcess, walk_in_body
from vaxflow.config import load_settings
from vaxflow.queue.api import models as m

pytestmark = pytest.mark.slow

LIBFAKETIME = Path("/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1")
OBSERVATION = 30 * 60  # the demo site's observation, seconds
SLACK = 5.0  # seconds: the board's reading against the exit's, on a slow machine


def token(role: str) -> dict[str, str]:
    return {"Authorization": f"Bearer demo-{role}-token"}


class SteppedServer:
    """A `vaxflow server` whose wall clock the test steps by writing libfaketime's file."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.offset_file = folder / "faketime"
        self.offset_file.write_text("+0\n")
        self.config = load_test_site(folder)
        self.starts = 0
        self.server = self._start()
        self.url = ""

    def _start(self) -> ServerProcess:
        self.starts += 1
        return ServerProcess(
            self.config,
            self.folder / "site.sqlite",
            self.folder,
            f"server{self.starts}",
            env={
                "LD_PRELOAD": str(LIBFAKETIME),
                "FAKETIME_TIMESTAMP_FILE": str(self.offset_file),
                "FAKETIME_CACHE_DURATION": "1",
                "DONT_FAKE_MONOTONIC": "1",
            },
        )

    def restart_at(self, offset: str) -> None:
        """Stop the server, set its wall clock to `offset` while it is down, start it again."""
        assert self.server.stop() == 0, self.server.log()
        self.offset_file.write_text(f"{offset}\n")
        time.sleep(2.5)  # libfaketime's cache of the file, in the new process too
        self.server = self._start()
        self.url = self.server.wait_url()

    async def step_to(self, offset: str, session: aiohttp.ClientSession) -> None:
        """Set the wall clock's offset from real time (`+40m`, `-20m`): a step. Returns once
        the server has seen it (libfaketime re-reads the file every second or two)."""
        async with session.get(self.url + "/api/health") as response:
            seen = len((await response.json())["clock"]["steps"])
        self.offset_file.write_text(f"{offset}\n")
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            await asyncio.sleep(0.2)
            async with session.get(self.url + "/api/health") as response:
                if len((await response.json())["clock"]["steps"]) > seen:
                    return
        raise AssertionError(f"the server never saw the step to {offset}")


@contextlib.contextmanager
def stepped_server(folder: Path) -> Iterator[SteppedServer]:
    if not LIBFAKETIME.exists():
        pytest.skip("libfaketime is not installed (Debian package faketime; ./dev installs it)")
    site = SteppedServer(folder)
    try:
        site.url = site.server.wait_url()
        yield site
        assert site.server.stop() == 0, site.server.log()
    finally:
        site.server.kill()


class Staff:
    """A station and an exit point over HTTP."""

    def __init__(self, session: aiohttp.ClientSession, url: str, config: Path) -> None:
        self.session, self.url = session, url
        self.settings = load_settings(config)
        self.people = 0

    async def post(self, role: str, path: str, body: dict[str, Any] | None = None) -> Any:
        async with self.session.post(self.url + path, json=body or {}, headers=token(role)) as r:
            answer = await r.json()
            assert r.status == 200, (path, answer)
            return answer

    async def get(self, role: str, path: str) -> Any:
        async with self.session.get(self.url + path, headers=token(role)) as r:
            answer = await r.json()
            assert r.status == 200, (path, answer)
            return answer

    async def dose(self) -> tuple[dict[str, Any], float]:
        """Check a walk-in in, call, scan and vaccinate them at S01: the dose's answer, and
        the monotonic time just before the dose was asked for."""
        self.people += 1
        ticket = await self.post("kiosk", "/api/checkins", walk_in_body(self.settings, self.people))
        called = (await self.post("station", "/api/stations/S01/call-next"))["called"]
        assert called["ticket"] == ticket["ticket"]
        await self.post("station", "/api/stations/S01/start-service", {"code": ticket["qr"]})
        sent = time.monotonic()
        dosed: dict[str, Any] = await self.post(
            "station", "/api/stations/S01/record-dose", {"visit_id": ticket["visit_id"]}
        )
        assert dosed["state"] == "observing"
        return dosed, sent

    async def check_remaining(self, dosed: dict[str, Any], sent: float, after: float) -> float:
        """The exit point's seconds left: what real time served allows (dosed between `sent`
        and `after`, scanned now), never moved by a step."""
        before = time.monotonic()
        scan = await self.post("observer", "/api/exit-scan", {"code": dosed["ticket"]})
        left = 0.0 if scan["may_leave"] else float(scan["remaining_seconds"])
        most = OBSERVATION - (before - after) + 1  # served at least since the dose's answer
        least = OBSERVATION - (time.monotonic() - sent) - 1
        assert least <= left <= most, (least, left, most)
        return left


async def test_wall_clock_steps_never_move_anyones_observation(tmp_path: Path) -> None:
    with stepped_server(tmp_path) as site:
        timeout = aiohttp.ClientTimeout(total=15)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            staff = Staff(session, site.url, site.config)
            await staff.post(
                "station",
                "/api/stations/S01/open",
                {"product": "CORONAVAC", "lot": "LOT-2611", "vaccinator": "Nurse Li"},
            )
            health = await staff.get("board", "/api/health")
            assert health["clock"]["steps"] == []

            # +40 min, a second after a dose: not released, the countdown did not move.
            first, first_sent = await staff.dose()
            first_at = time.monotonic()
            await site.step_to("+40m", session)
            left = await staff.check_remaining(first, first_sent, first_at)
            board = await staff.get("board", "/api/observation")
            shown = {p["ticket"]: p["remaining_seconds"] for p in board["people"]}
            assert abs(shown[first["ticket"]] - left) <= SLACK, shown

            # The step is seen: health, the marshal's alerts.
            health = await staff.get("board", "/api/health")
            steps = health["clock"]["steps"]
            assert [round(s["seconds"] / 60) for s in steps] == [40], health["clock"]
            assert abs(health["clock"]["wall_minus_served"] - 2400) < SLACK
            dashboard = await staff.get("marshal", "/api/dashboard")
            assert dashboard["alerts"]["clock"]["steps"] == steps
            assert m.DashboardResponse.model_validate(dashboard).alerts.clock is not None

            # A correction back to 20 min slow (-60 min): a person dosed now is not kept 50
            # (or 90) minutes, and the first person's time still runs on real time.
            second, second_sent = await staff.dose()
            second_at = time.monotonic()
            await site.step_to("-20m", session)
            await staff.check_remaining(second, second_sent, second_at)
            await staff.check_remaining(first, first_sent, first_at)
            health = await staff.get("board", "/api/health")
            assert [round(s["seconds"] / 60) for s in health["clock"]["steps"]] == [40, -60]

        # Set back another 10 minutes while the server is down: it resumes from its newest
        # saved event, so nobody is kept 10 minutes longer (nor released early).
        await asyncio.to_thread(site.restart_at, "-30m")
        async with aiohttp.ClientSession(timeout=timeout) as session:
            staff.session, staff.url = session, site.url
            before = time.monotonic()
            scan = await staff.post("observer", "/api/exit-scan", {"code": second["ticket"]})
            left = float(scan["remaining_seconds"])
            assert OBSERVATION - (before - second_sent) - 1 <= left <= OBSERVATION, left
            health = await staff.get("board", "/api/health")
            assert [round(s["seconds"] / 60) for s in health["clock"]["steps"]] == [-30]
    assert "behind the newest saved event" in site.server.log()


async def test_a_closed_day_stays_closed_until_its_turn(tmp_path: Path) -> None:
    """Staff close the site day; the wall clock steps back a day, while the server runs and
    while it is down: the day stays closed (check-ins refused, `site_day_closed`). Started
    again with the clock past the next turn (`day_turns_at`, 04:00 site time), the next day
    is open by itself and numbered from 1."""
    timeout = aiohttp.ClientTimeout(total=15)

    async def refused(staff: Staff, day: str) -> None:
        staff.people += 1
        body = walk_in_body(staff.settings, staff.people)
        async with staff.session.post(
            staff.url + "/api/checkins", json=body, headers=token("kiosk")
        ) as response:
            answer = await response.json()
        assert response.status == 409, answer
        assert (answer["error"]["reason"], answer["error"]["details"]["day"]) == (
            "site_day_closed",
            day,
        )

    with stepped_server(tmp_path) as site:
        async with aiohttp.ClientSession(timeout=timeout) as session:
            staff = Staff(session, site.url, site.config)
            first = await staff.post("kiosk", "/api/checkins", walk_in_body(staff.settings, 0))
            closed = await staff.post("marshal", "/api/site-day/close")
            day = first["site_day"]
            assert closed["closed"] == day
            await refused(staff, day)
            await site.step_to("-1d", session)
            await refused(staff, day)

        await asyncio.to_thread(site.restart_at, "-1d")  # set back while down, too
        async with aiohttp.ClientSession(timeout=timeout) as session:
            staff.session, staff.url = session, site.url
            await refused(staff, day)
            assert (await staff.get("marshal", "/api/dashboard"))["site_day"]["closed"] is True

        turn = datetime.fromisoformat(closed["next_turn"]).timestamp()
        await asyncio.to_thread(site.restart_at, f"+{int(turn - time.time()) + 60}")
        async with aiohttp.ClientSession(timeout=timeout) as session:
            staff.session, staff.url = session, site.url
            staff.people += 1
            body = walk_in_body(staff.settings, staff.people)
            morning = await staff.post("kiosk", "/api/checkins", body)
            following = (date.fromisoformat(day) + timedelta(days=1)).isoformat()
            assert (morning["site_day"], morning["ticket"]) == (following, "W001")
            shown = (await staff.get("marshal", "/api/dashboard"))["site_day"]
            assert (shown["day"], shown["closed"]) == (following, False)


async def test_the_turn_passes_under_a_running_server_and_nobody_is_stranded(
    tmp_path: Path,
) -> None:
    """The wall clock (libfaketime) set to 03:59:45 site time; people checked in, dosed,
    called and waiting; the server keeps running over the 04:00 turn. After it: the new
    day numbers from W001, the waiting person is called first and gets no second ticket, the
    called one is served by scan, and a typed W001 at the exit is the observing person."""
    timeout = aiohttp.ClientTimeout(total=15)
    with stepped_server(tmp_path) as site:
        settings = load_settings(site.config)
        zone = ZoneInfo(settings.site.timezone)
        local = datetime.now(zone)
        before_turn = datetime.combine(local.date(), dtime(3, 59, 45), zone)
        await asyncio.to_thread(site.restart_at, f"{int(before_turn.timestamp() - time.time()):+d}")
        async with aiohttp.ClientSession(timeout=timeout) as session:
            staff = Staff(session, site.url, site.config)
            for station in ("S01", "S02"):
                await staff.post(
                    "station",
                    f"/api/stations/{station}/open",
                    {"product": "CORONAVAC", "lot": "LOT-2611", "vaccinator": "Nurse Li"},
                )
            observing, _sent = await staff.dose()  # W001, observing
            called_ticket = await staff.post("kiosk", "/api/checkins", walk_in_body(settings, 2))
            waiting = await staff.post("kiosk", "/api/checkins", walk_in_body(settings, 3))
            called = (await staff.post("station", "/api/stations/S02/call-next"))["called"]
            assert called["visit_id"] == called_ticket["visit_id"]
            old_day = observing["site_day"]
            assert waiting["site_day"] == old_day, "the turn came before the test was ready"

            deadline = time.monotonic() + 60
            while (await staff.get("marshal", "/api/stats"))["site_day"] == old_day:
                assert time.monotonic() < deadline, "the site day never turned"
                await asyncio.sleep(0.5)

            new = await staff.post("kiosk", "/api/checkins", walk_in_body(settings, 4))
            assert (new["ticket"], new["site_day"] > old_day) == ("W001", True)
            async with session.post(
                site.url + "/api/checkins", json=walk_in_body(settings, 3), headers=token("kiosk")
            ) as response:
                again = await response.json()
            assert (response.status, again["error"]["reason"]) == (409, "already_checked_in")
            assert (await staff.get("marshal", "/api/stats"))["carried_over"] == 3
            first = (await staff.post("station", "/api/stations/S01/call-next"))["called"]
            assert first["visit_id"] == waiting["visit_id"]
            await staff.post("station", "/api/stations/S02/start-service", {"code": called["qr"]})
            body = {"visit_id": called["visit_id"]}
            assert (await staff.post("station", "/api/stations/S02/record-dose", body))[
                "state"
            ] == ("observing")
            scan = await staff.post("observer", "/api/exit-scan", {"code": "W001"})
            assert scan["visit"]["visit_id"] == observing["visit_id"]
            assert scan["may_leave"] is False and scan["remaining_seconds"] > 25 * 60
