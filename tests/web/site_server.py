"""A real `vaxflow server` process for the page and console tests: fixed loopback port,
SQLite file, restartable on both."""

from __future__ import annotations

import contextlib
import json
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
DEMO_CONFIG = ROOT / "vaxflow" / "config" / "demo.toml"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _vaxflow() -> list[str]:
    script = Path(sys.executable).with_name("vaxflow")
    return [str(script)] if script.exists() else [sys.executable, "-m", "vaxflow"]


class Server:
    """`vaxflow server` on a fixed loopback port and SQLite file; can be restarted on both."""

    def __init__(
        self, db: Path, log: Path, config: Path = DEMO_CONFIG, extra: Sequence[str] = ()
    ) -> None:
        self.db = db
        self.log = log
        self.config = config
        self.extra = tuple(extra)  # more `vaxflow server` options (a rehearsal clock)
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [
                    *_vaxflow(),
                    "server",
                    "--config",
                    str(self.config),
                    "--port",
                    str(self.port),
                    "--db",
                    str(self.db),
                    *self.extra,
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(self.url + "/api/health", timeout=1) as response:
                    if response.status == 200:
                        return
            except OSError:
                time.sleep(0.1)
        raise AssertionError("server did not start: " + self.log.read_text())

    def stop(self) -> None:
        if self.process is not None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
            self.process = None

    def call(self, role: str, method: str, path: str, body: Any = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            self.url + path,
            data=data,
            method=method,
            headers={
                "Authorization": f"Bearer demo-{role}-token",
                "Content-Type": "application/json",
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return json.loads(response.read())
        except urllib.error.HTTPError as err:
            with err:
                raise AssertionError(f"{method} {path}: {err.code} {err.read()!r}") from None


@contextlib.contextmanager
def running_server(
    where: Path, config: Path = DEMO_CONFIG, extra: Sequence[str] = ()
) -> Iterator[Server]:
    """A started `vaxflow server` with its database and log in `where`, stopped after."""
    running = Server(where / "site.sqlite", where / "server.log", config, extra)
    running.start()
    try:
        yield running
    finally:
        running.stop()
