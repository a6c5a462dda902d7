"""`vaxflow demo` and `vaxflow server` as an operator runs them: real processes, real sockets."""

from __future__ import annotations

import asyncio
import json
import re
import signal
import subprocess
import sys
import time
import tomllib
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
DEMO_CONFIG = ROOT / "vaxflow" / "config" / "demo.toml"
MARSHAL = {"Authorization": "Bearer demo-marshal-token"}
FULL_ID = re.compile(r"\d{17}[\dXx]")
SPEED = 600  # 30 site minutes of observation take 3 s
ALIVE_WITHIN = 15.0  # measured: the first releases come about 3-4 s after the start
STOP_WITHIN = 8.0  # measured: about 1-4 s after SIGINT
TEST_SITE_MINUTES = 30 * SPEED / 60  # 30 s of wall time at this speed


def _vaxflow() -> list[str]:
    script = Path(sys.executable).with_name("vaxflow")
    return [str(script)] if script.exists() else [sys.executable, "-m", "vaxflow"]


class Process:
    """A `vaxflow` command with stdout and stderr in files; killed if the test fails."""

    def __init__(self, folder: Path, name: str, *args: str) -> None:
        self.out = folder / f"{name}.out"
        self.err = folder / f"{name}.err"
        with self.out.open("wb") as out, self.err.open("wb") as err:
            self.proc = subprocess.Popen([*_vaxflow(), *args], stdout=out, stderr=err, cwd=folder)

    def stdout(self) -> str:
        return self.out.read_text(encoding="utf-8", errors="replace")

    def stderr(self) -> str:
        return self.err.read_text(encoding="utf-8", errors="replace")

    def wait_for(self, pattern: str, timeout: float = 20.0) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            match = re.search(pattern, self.stdout())
            if match:
                return match
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        raise AssertionError(
            f"no {pattern!r} in the output (exit {self.proc.poll()}):\n"
            f"{self.stdout()}\n{self.stderr()[-3000:]}"
        )

    def interrupt(self, timeout: float) -> tuple[int, float]:
        """Ctrl-C; the exit status and how long it took to go."""
        start = time.monotonic()
        self.proc.send_signal(signal.SIGINT)
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(
                f"still running {timeout:g} s after SIGINT:\n{self.stderr()[-3000:]}"
            ) from None
        return code, time.monotonic() - start

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(10)


async def _get(session: aiohttp.ClientSession, url: str, headers: dict[str, str]) -> Any:
    async with session.get(url, headers=headers) as response:
        assert response.status == 200, await response.text()
        return await response.json()


async def _follow(session: aiohttp.ClientSession, url: str, live_events: int) -> list[str]:
    """The feed from the first event: history, the `live` marker, then `live_events` more."""
    messages: list[str] = []
    after_live = -1
    async with session.ws_connect(
        # the marshal's whole feed (the public board's leaves out imports and staff events)
        url.replace("http", "ws", 1) + "/ws/events?since=0",
        headers=MARSHAL,
    ) as ws:
        async with asyncio.timeout(10):
            async for message in ws:
                assert message.type is aiohttp.WSMsgType.TEXT, message
                messages.append(message.data)
                if after_live >= 0:
                    after_live += 1
                elif json.loads(message.data)["kind"] == "live":
                    after_live = 0
                if after_live >= live_events:
                    break
    return messages


def _demo_site(tmp_path: Path) -> list[str]:
    """The demo's own site file, unless its site day would end during the test.

    The demo seeds bookings for the day it starts on; at 600x a site day passes in 2.4 minutes
    of wall time, so close to the site's midnight the bookings would turn "wrong day" mid-test.
    Then the test runs the same site in UTC (far from midnight whenever Shanghai is near it).
    """
    text = DEMO_CONFIG.read_text(encoding="utf-8")
    zone = tomllib.loads(text)["site"]["timezone"]
    local = datetime.now(ZoneInfo(zone))
    minutes_left = 24 * 60 - (local.hour * 60 + local.minute)
    if minutes_left > TEST_SITE_MINUTES + 30:
        return []
    shifted = tmp_path / "demo-utc.toml"
    shifted.write_text(text.replace(f'timezone = "{zone}"', 'timezone = "UTC"'), encoding="utf-8")
    return ["--config", str(shifted)]


async def test_demo_runs_a_live_site_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    demo = Process(
        tmp_path,
        "demo",
        "-v",  # debug logging: the privacy scan below reads every log line
        "demo",
        *_demo_site(tmp_path),
        "--port",
        "0",
        "--speed",
        str(SPEED),
        "--headless",
        "--db",
        str(tmp_path / "demo.sqlite"),
    )
    try:
        url = (await asyncio.to_thread(demo.wait_for, r"server\s+(http://[\d.]+:\d+)")).group(1)
        started = time.monotonic()
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session:
            stats: dict[str, Any] = {}
            while time.monotonic() - started < ALIVE_WITHIN:
                stats = await _get(session, f"{url}/api/stats", MARSHAL)
                if stats["tickets_issued"] > 0 and stats["released"] > 0:
                    break
                await asyncio.sleep(0.25)
            alive_after = time.monotonic() - started
            assert stats["tickets_issued"] > 0, stats
            assert stats["observing"] + stats["released"] > 0, stats  # doses recorded
            assert stats["released"] > 0, f"nobody released within {ALIVE_WITHIN} s: {stats}"
            messages = await _follow(session, url, live_events=20)
            board = {"Authorization": "Bearer demo-board-token"}
            for path in ("/api/observation", "/api/stations", "/api/stats"):
                payload = json.dumps(await _get(session, url + path, board), ensure_ascii=False)
                assert not FULL_ID.search(payload), f"a full ID number in {path}"
        events = [json.loads(m) for m in messages]
        numbered = [e["seq"] for e in events if e["kind"] != "live"]
        assert numbered == sorted(set(numbered)), "event numbers must strictly increase"
        assert numbered[0] == 1
        kinds = {e["kind"] for e in events}
        assert {"bookings_imported", "checked_in", "called", "dosed", "released", "live"} <= kinds
        for text in messages:
            assert not FULL_ID.search(text), text
        names = [e["payload"]["name"] for e in events if "name" in e.get("payload", {})]
        assert names
        assert all("*" in name for name in names), [n for n in names if "*" not in n]
        code, took = await asyncio.to_thread(demo.interrupt, STOP_WITHIN)
        assert code == 0, demo.stderr()[-3000:]
    finally:
        demo.kill()
    for text in (demo.stdout(), demo.stderr()):
        assert not FULL_ID.search(text), "a full ID number in the demo's output"
    print(f"alive (released > 0) after {alive_after:.1f} s; stopped {took:.1f} s after SIGINT")


async def test_server_answers_health_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    server = Process(
        tmp_path,
        "server",
        "server",
        "--config",
        str(DEMO_CONFIG),
        "--port",
        "0",
        "--db",
        str(tmp_path / "site.sqlite"),
    )
    try:
        match = await asyncio.to_thread(server.wait_for, r"listening on (http://[\d.]+:\d+)")
        async with aiohttp.ClientSession() as session:
            health = await _get(session, f"{match.group(1)}/api/health", {})
            assert health["status"] == "ok" and health["clock"]["steady"] is True, health
        code, _took = await asyncio.to_thread(server.interrupt, STOP_WITHIN)
        assert code == 0, server.stderr()[-3000:]
    finally:
        server.kill()
    assert (tmp_path / "site.sqlite").exists()


def test_server_with_a_bad_site_file_says_where_and_exits_1(tmp_path: Path) -> None:
    text, count = re.subn(
        r"(?m)^seats = \d+", 'seats = "many"', DEMO_CONFIG.read_text(encoding="utf-8")
    )
    assert count == 1
    bad = tmp_path / "broken-site.toml"
    bad.write_text(text, encoding="utf-8")
    result = subprocess.run(
        [*_vaxflow(), "server", "--config", str(bad), "--port", "0"],
        capture_output=True,
        text=True,
        timeout=30,
        cwd=tmp_path,
    )
    assert result.returncode == 1, result
    assert "broken-site.toml" in result.stderr
    assert "observation.seats" in result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""
    assert not list(tmp_path.glob("*.sqlite")), "nothing is created for a bad site file"
