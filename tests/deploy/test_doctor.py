"""`vaxflow doctor` on real machines' faults: a server whose clock is 5 minutes off, a kiosk
printer out of paper, a server nobody can reach, a missing database, a full disk, a broken
site file. Each gives its line, and the exit status says there is a fault."""

from __future__ import annotations

import contextlib
import re
import resource
import signal
import socket
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from vaxflow.cli import main

from .demo_site import vaxflow

URL = "http://127.0.0.1:8080"


@pytest.fixture
def site(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    """A new site's folder from `vaxflow init-site`."""
    assert main(["init-site", str(tmp_path / "site"), "--server-url", URL]) == 0
    capsys.readouterr()
    return tmp_path / "site"


def _doctor(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    code = main(["doctor", "--env", "/nonexistent/device.env", *argv])
    return code, capsys.readouterr().out


def _lines(out: str, level: str) -> list[str]:
    return [line for line in out.splitlines() if line.startswith(level)]


def _sqlite(path: Path) -> Path:
    with contextlib.closing(sqlite3.connect(path)) as conn:
        conn.execute("CREATE TABLE events (seq INTEGER PRIMARY KEY)")
        conn.commit()
    return path


@contextlib.contextmanager
def _server(site: Path, db: Path, start: datetime) -> Iterator[str]:
    """`vaxflow server` on the site file, its clock started at `start`."""
    out = site.parent / "server.out"
    command = [*vaxflow(), "server", "--config", str(site / "site.toml"), "--host", "127.0.0.1"]
    command += ["--port", "0", "--db", str(db), "--start", start.isoformat()]
    with out.open("wb") as stdout:
        proc = subprocess.Popen(command, stdout=stdout, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while not (match := re.search(r"listening on (http://\S+)", out.read_text())):
            assert proc.poll() is None and time.monotonic() < deadline, out.read_text()[-3000:]
            time.sleep(0.05)
        yield match.group(1)
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(20)


@pytest.mark.slow
def test_a_server_5_minutes_off_and_a_printer_out_of_paper(
    site: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db, backups = tmp_path / "site.sqlite", tmp_path / "backups"
    with _server(site, db, datetime.now(UTC) - timedelta(minutes=5)) as url:
        assert main(["db", "backup", "--db", str(db), "--dir", str(backups)]) == 0
        capsys.readouterr()
        code, out = _doctor(
            capsys, "--config", str(site / "site.toml"), "--db", str(db),
            "--backup-dir", str(backups), "--server", url,
        )  # fmt: skip
        assert code == 1, out
        (fault,) = _lines(out, "FAULT")
        assert re.search(r"clock +this clock is 3\d\d\.\d s ahead of the server's", fault), out
        for check in ("config", "database", "backups", "disk", "server"):
            assert re.search(rf"^OK +{check} ", out, re.M), out

        kiosk = site / "devices" / "kiosk-01"
        text = (kiosk / "site.toml").read_text()
        (kiosk / "site.toml").write_text(
            text.replace('printer = "sim://"', 'printer = "sim://?fault=paper_out"')
        )
        code, out = _doctor(
            capsys,
            "--env",
            str(kiosk / "device.env"),
            "--config",
            str(kiosk / "site.toml"),
            "--local",
        )
    assert code == 1, out
    (fault,) = _lines(out, "FAULT")
    assert "printer" in fault and "paper_out" in fault
    assert "load a new roll" in out


def test_a_server_nobody_answers_on(site: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    code, out = _doctor(
        capsys, "--role", "kiosk", "--config", str(site / "site.toml"), "--no-devices",
        "--server", f"http://127.0.0.1:{port}",
    )  # fmt: skip
    assert code == 1
    (fault,) = _lines(out, "FAULT")
    assert "cannot reach the server" in fault and "systemctl status vaxflow-server" in out


def test_a_missing_database(site: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = _doctor(
        capsys, "--config", str(site / "site.toml"), "--db", str(tmp_path / "gone.sqlite"),
        "--local", "--backup-dir", str(tmp_path),
    )  # fmt: skip
    assert code == 1
    (fault,) = _lines(out, "FAULT")
    assert "there is no database" in fault and "vaxflow db restore" in out


def test_a_broken_site_file(site: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = site / "site.toml"
    path.write_text(path.read_text().replace("seats = 100", "seats = -1"))
    code, out = _doctor(capsys, "--config", str(path), "--local")
    assert code == 1
    (fault,) = _lines(out, "FAULT")
    assert "observation.seats" in fault and "vaxflow config check" in out


def _mount_tmpfs(folder: Path) -> bool:
    folder.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(folder)], capture_output=True
    )
    return done.returncode == 0


def test_a_full_disk(site: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "data"
    argv = ["--config", str(site / "site.toml"), "--local", "--backup-dir", str(tmp_path)]
    if _mount_tmpfs(data):  # a small disk, really nearly full
        try:
            code, out = _doctor(capsys, *argv, "--db", str(_sqlite(data / "site.sqlite")))
        finally:
            subprocess.run(["umount", str(data)], check=True)
        expected = "MiB free"
    else:  # no mounting here: a file-size limit stops the doctor's test write instead
        db = _sqlite(data / "site.sqlite")

        def limit() -> None:
            resource.setrlimit(resource.RLIMIT_FSIZE, (64 * 1024, 64 * 1024))

        done = subprocess.run(
            [*vaxflow(), "doctor", "--env", "/nonexistent", *argv, "--db", str(db)],
            capture_output=True,
            text=True,
            preexec_fn=limit,
            timeout=60,
        )
        code, out, expected = done.returncode, done.stdout, "cannot write"
    assert code == 1, out
    faults = _lines(out, "FAULT")
    assert faults and all(" disk " in f and expected in f for f in faults), out
