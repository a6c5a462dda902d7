"""The real kiosk app under Xvfb, with simulated devices and a real demo server process.

Each test runs `vaxflow kiosk --script NAME` (one Kivy app per process: Kivy's window
cannot be made twice in one interpreter) against a `vaxflow demo` server on loopback, reads
its `SCREEN`/`RESULT` lines, and checks the server's own counts and the printer's files.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import pytest

from tests.xvfb import xvfb

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]

MARSHAL = "demo-marshal-token"


@pytest.fixture(scope="module")
def display() -> Iterator[str]:
    """A private Xvfb display for the module's kiosk processes."""
    with xvfb("720x1280x24", range(150, 250)) as name:
        yield name


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Server:
    """A `vaxflow demo` process on a fixed loopback port (so it can come back on it)."""

    db: Path
    port: int = field(default_factory=_free_port)
    process: subprocess.Popen[str] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        command = [sys.executable, "-m", "vaxflow", "demo", "--port", str(self.port)]
        command += ["--no-traffic", "--speed", "1", "--headless", "--db", str(self.db)]
        self.process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
        assert self.process.stdout is not None
        for line in self.process.stdout:
            if self.url in line:
                return
        raise AssertionError("the demo server did not start")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(10)
            if self.process.stdout is not None:
                self.process.stdout.close()
            self.process = None

    def get(self, path: str) -> Any:
        request = urllib.request.Request(
            self.url + path, headers={"Authorization": f"Bearer {MARSHAL}"}
        )
        with urllib.request.urlopen(request, timeout=5) as answer:
            return json.load(answer)


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One demo server for the tests that count tickets by difference."""
    site = Server(tmp_path_factory.mktemp("site") / "demo.sqlite")
    site.start()
    yield site
    site.stop()


@pytest.fixture
def server(shared: Server) -> Server:
    return shared


@pytest.fixture
def own_server(tmp_path: Path) -> Iterator[Server]:
    """A server of the test's own, to stop and start again."""
    site = Server(tmp_path / "demo.sqlite")
    site.start()
    yield site
    site.stop()


def issued(server: Server) -> int:
    count: int = server.get("/api/stats")["tickets_issued"]
    return count


@dataclass
class Kiosk:
    """One `vaxflow kiosk --script` process and what it said."""

    process: subprocess.Popen[str]
    out: Path
    printer: Path
    screens: list[str] = field(default_factory=list)

    def until(self, prefix: str) -> str:
        """Read lines up to the first starting with `prefix`; return the rest of it."""
        stdout: IO[str] | None = self.process.stdout
        assert stdout is not None
        for line in stdout:
            line = line.rstrip("\n")
            if line.startswith("SCREEN "):
                self.screens.append(line[7:])
            if line.startswith(prefix):
                return line[len(prefix) :].strip()
        raise AssertionError(f"kiosk ended before {prefix!r}; screens: {self.screens}")

    def go(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write("go\n")
        self.process.stdin.flush()

    def result(self) -> dict[str, Any]:
        result: dict[str, Any] = json.loads(self.until("RESULT "))
        assert self.process.wait(30) == 0
        return result


@pytest.fixture
def kiosk(display: str, tmp_path: Path) -> Iterator[Any]:
    started: list[Kiosk] = []

    def start(script: str, server_url: str) -> Kiosk:
        out, printer = tmp_path / "shots", tmp_path / "printer"
        env = {
            **os.environ,
            "DISPLAY": display,
            "KIVY_NO_ARGS": "1",
            "KIVY_NO_CONSOLELOG": "1",
            "KIVY_HOME": str(tmp_path / "kivy"),
        }
        command = [sys.executable, "-m", "vaxflow", "kiosk", "--server", server_url]
        command += ["--script", script, "--out", str(out), "--printer-dir", str(printer)]
        command += ["--size", "720x1280"]
        process = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env
        )
        started.append(Kiosk(process, out, printer))
        return started[-1]

    yield start
    for one in started:
        if one.process.poll() is None:
            one.process.kill()
        one.process.wait(10)
        for stream in (one.process.stdin, one.process.stdout):
            if stream is not None:
                stream.close()


def test_booked_check_in_from_qr_to_printed_ticket(kiosk: Any, server: Server) -> None:
    before = issued(server)
    app = kiosk("booked", server.url)
    result = app.result()
    number = result["ticket"]
    assert number.startswith("A") and result["print"] == "printed"
    for screen in ("wait_card", "checking", "question", "consent", "printing", "ticket"):
        assert screen in result["screens"]
    jobs = sorted(app.printer.glob("job-*.bin"))
    assert len(jobs) == 1
    assert number.encode() in jobs[0].read_bytes()
    assert issued(server) == before + 1
    assert (app.out / "ticket.png").stat().st_size > 10_000


def test_walk_in(kiosk: Any, server: Server) -> None:
    before = issued(server)
    result = kiosk("walk_in", server.url).result()
    assert result["ticket"].startswith("W") and result["walk_in"] is True
    assert "walk_in" in result["screens"]
    assert issued(server) == before + 1


def test_id_mismatch_shows_the_reason_and_the_desk(kiosk: Any, server: Server) -> None:
    before = issued(server)
    result = kiosk("id_mismatch", server.url).result()
    assert result["reason"] == "id_mismatch"
    assert "ID card" in result["message"]
    assert result["go_to"] == "Please go to the information desk"
    assert issued(server) == before


def test_printer_out_of_paper_shows_the_ticket_alerts_staff_and_reprints(
    kiosk: Any, server: Server
) -> None:
    app = kiosk("paper_out", server.url)
    result = app.result()
    assert (result["first"], result["reprint"]) == ("failed", "printed")
    devices = server.get("/api/devices")
    rows = devices if isinstance(devices, list) else devices.get("devices", [])
    printer = [d for d in rows if d["device_id"] == "kiosk-1-printer"]
    assert printer and printer[0]["reason"] == "paper_out", rows
    visit = server.get(f"/api/tickets/{result['ticket']}")
    assert visit["print_failed"] is False  # the reprint was reported
    assert len(list(app.printer.glob("job-*.bin"))) == 1


def test_server_going_away_mid_check_in_gives_exactly_one_ticket(
    kiosk: Any, own_server: Server
) -> None:
    server = own_server
    app = kiosk("server_restart", server.url)
    app.until("CHECKPOINT consent")
    server.stop()
    app.go()
    app.until("CHECKPOINT offline")
    assert app.screens[-1] == "offline"
    server.start()
    app.go()
    result = app.result()
    assert result["print"] == "printed"
    assert server.get("/api/stats")["tickets_issued"] == 1


def test_passport_typed_on_the_kiosk_keyboard_gets_a_walk_in_ticket(
    kiosk: Any, server: Server
) -> None:
    before = issued(server)
    app = kiosk("passport", server.url)
    result = app.result()
    assert result.get("problem") is None, result
    assert result["ticket"].startswith("W") and result["print"] == "printed"
    assert (result["id_type"], result["number"][0]) == ("passport", "E")
    for screen in ("document", "typing", "wait_booking", "walk_in", "question", "ticket"):
        assert screen in result["screens"]
    assert issued(server) == before + 1
    for shot in ("document.png", "typing_error.png", "typing_birth.png"):
        assert (app.out / shot).stat().st_size > 10_000


def test_a_booked_person_with_answers_from_the_app_needs_three_taps(
    kiosk: Any, server: Server
) -> None:
    before = issued(server)
    app = kiosk("booked_confirmed", server.url)
    result = app.result()
    assert result["print"] == "printed" and result["taps"] <= 3, result
    assert "confirm_answers" in result["screens"] and "question" not in result["screens"]
    assert result["answers"] and not any(result["answers"].values())
    assert issued(server) == before + 1
    assert (app.out / "confirm_answers.png").stat().st_size > 10_000
