"""The systemd units in deploy/: systemd accepts them, their hardening stays low-exposure, and
their ExecStart lines really run: the server answers, the backup timer's command backs up,
the doctor timer's command finds a healthy server; all under no-new-privileges and
memory-deny-write-execute, as the units ask. The session script starts the role's screen."""

from __future__ import annotations

import ctypes
import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from vaxflow.cli import main
from vaxflow.queue.store.backup import rotated
from vaxflow.site_tls import pinned_context

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
UNITS = sorted((DEPLOY / "systemd").iterdir())
SERVICES = ["vaxflow-server", "vaxflow-backup", "vaxflow-doctor", "vaxflow-session@kiosk"]
#: The highest `systemd-analyze security` exposure each service may have (0 safest, 10 worst):
#: the session needs the GPU, input devices and a JIT, the server and doctor the network.
MAX_EXPOSURE = {
    "vaxflow-server": 1.5,
    "vaxflow-backup": 0.5,
    "vaxflow-doctor": 1.5,
    "vaxflow-session@kiosk": 2.0,
}
VAXFLOW = str(Path(sys.executable).with_name("vaxflow"))
PR_SET_NO_NEW_PRIVS, PR_SET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN = 38, 65, 1


def _installed(folder: Path, replace: dict[str, str]) -> Path:
    """The units as they would be installed, with `replace`'s paths put in."""
    folder.mkdir(exist_ok=True)
    for unit in UNITS:
        text = unit.read_text()
        for old, new in replace.items():
            text = text.replace(old, new)
        (folder / unit.name).write_text(text)
    shutil.copy(folder / "vaxflow-session@.service", folder / "vaxflow-session@kiosk.service")
    return folder


@pytest.fixture
def units(tmp_path: Path) -> Path:
    if shutil.which("systemd-analyze") is None or shutil.which("cage") is None:
        pytest.skip("needs systemd-analyze and cage (scripts/debian-packages.txt)")
    return _installed(
        tmp_path / "units",
        {"/opt/vaxflow/bin/vaxflow": VAXFLOW, "/opt/vaxflow/share/vaxflow/deploy": str(DEPLOY)},
    )


def test_systemd_accepts_every_unit(units: Path) -> None:
    names = [p.name for p in sorted(units.iterdir()) if not p.name.endswith("@.service")]
    done = subprocess.run(
        ["systemd-analyze", "verify", "--man=no", *names],
        cwd=units,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0 and not done.stderr.strip(), done.stderr


@pytest.mark.parametrize("service", SERVICES)
def test_each_service_is_hardened(units: Path, service: str) -> None:
    done = subprocess.run(
        ["systemd-analyze", "security", "--offline=yes", f"{service}.service"],
        cwd=units,
        capture_output=True,
        text=True,
        timeout=60,
    )
    match = re.search(r"Overall exposure level for \S+: (\d+\.\d)", done.stdout + done.stderr)
    assert match, done.stdout + done.stderr
    assert float(match.group(1)) <= MAX_EXPOSURE[service], done.stdout


def _confined() -> None:
    """What the units' NoNewPrivileges= and MemoryDenyWriteExecute= do to the process."""
    libc = ctypes.CDLL(None, use_errno=True)
    assert libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0
    if libc.prctl(PR_SET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN, 0, 0, 0) != 0:  # Linux 6.3 and later
        os.write(2, b"(memory-deny-write-execute not available here)\n")


def _exec_start(unit: str, replace: dict[str, str]) -> list[str]:
    (line,) = re.findall(r"^ExecStart=(.+)$", (DEPLOY / "systemd" / unit).read_text(), re.M)
    for old, new in replace.items():
        line = line.replace(old, new)
    return shlex.split(line)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.slow
def test_the_units_commands_run_confined(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["init-site", str(tmp_path / "site"), "--server-url", "https://h:8443"]) == 0
    capsys.readouterr()
    state, port = tmp_path / "state", _free_port()
    state.mkdir()
    site = tmp_path / "site" / "site.toml"
    text = site.read_text().replace("/var/lib/vaxflow", str(state))
    text = text.replace("/etc/vaxflow/tls", str(tmp_path / "site" / "tls"))  # init-site's TLS
    site.write_text(text.replace("port = 8443", f"port = {port}"))
    paths = {
        "/opt/vaxflow/bin/vaxflow": VAXFLOW,
        "/etc/vaxflow/site.toml": str(site),
        "/var/lib/vaxflow": str(state),
    }
    env = {**os.environ, "VAXFLOW_CONFIG": str(site), "VAXFLOW_BACKUP_DIR": f"{state}/backups"}
    log = tmp_path / "server.log"
    with log.open("wb") as out:
        server = subprocess.Popen(
            _exec_start("vaxflow-server.service", paths),
            stdout=out,
            stderr=subprocess.STDOUT,
            preexec_fn=_confined,
            cwd=state,
        )
    try:
        deadline = time.monotonic() + 30
        while "listening on" not in log.read_text():
            assert server.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.05)
        url = f"https://127.0.0.1:{port}/api/health"
        pinned = pinned_context(tmp_path / "site" / "tls" / "ca.crt")
        with urllib.request.urlopen(url, timeout=10, context=pinned) as answer:
            assert answer.status == 200
        for unit in ("vaxflow-backup.service", "vaxflow-doctor.service"):
            done = subprocess.run(
                _exec_start(unit, paths),
                capture_output=True,
                text=True,
                env=env,
                preexec_fn=_confined,
                timeout=60,
            )
            assert done.returncode == 0, f"{unit}:\n{done.stdout}\n{done.stderr}"
    finally:
        server.terminate()
        server.wait(20)
    assert len(rotated(state / "backups", "site")) == 1
    # The doctor's report, in the site's first language (zh-CN in a new site file).
    assert re.search(r"^正常 +server ", done.stdout, re.M), done.stdout
    assert "：0 个故障" in done.stdout.splitlines()[-1], done.stdout


STUB = '#!/bin/sh\nprintf "%s\\n" "$@"\n'


@pytest.mark.parametrize(
    ("role", "env", "argv"),
    [
        ("kiosk", {}, ["kiosk", "--config", "/s.toml", "--server", "http://h:8080"]),
        (
            "station",
            {"VAXFLOW_STATION": "S02"},
            ["station", "--config", "/s.toml", "--server", "http://h:8080", "--station", "S02"],
        ),
        ("board", {"VAXFLOW_BOARD": "observation"}, ["board", "observation", "--server", "http://h:8080"]),
        (
            "board",
            {"VAXFLOW_BOARD": "calls", "VAXFLOW_CA_FILE": "/etc/vaxflow/tls/ca.crt"},
            ["board", "calls", "--server", "http://h:8080", "--ca", "/etc/vaxflow/tls/ca.crt"],
        ),
    ],
)  # fmt: skip
def test_the_session_starts_the_roles_screen(
    tmp_path: Path, role: str, env: dict[str, str], argv: list[str]
) -> None:
    stub = tmp_path / "vaxflow"
    stub.write_text(STUB)
    stub.chmod(0o755)
    given = {
        "PATH": os.environ["PATH"],
        "VAXFLOW_BIN": str(stub),
        "VAXFLOW_CONFIG": "/s.toml",
        "VAXFLOW_SERVER_URL": "http://h:8080",
        "VAXFLOW_KIOSK_TOKEN": "secret-token-never-on-argv",
        **env,
    }
    done = subprocess.run(
        ["sh", str(DEPLOY / "vaxflow-session"), role],
        capture_output=True,
        text=True,
        env=given,
        timeout=10,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == argv


def test_the_session_refuses_a_role_without_a_screen() -> None:
    done = subprocess.run(
        ["sh", str(DEPLOY / "vaxflow-session"), "marshal"],
        capture_output=True,
        text=True,
        env={"PATH": os.environ["PATH"], "VAXFLOW_SERVER_URL": "http://h:8080"},
        timeout=10,
    )
    assert done.returncode == 2 and "no screen for the role 'marshal'" in done.stderr


def test_a_screen_comes_back_forever_and_the_server_on_failure() -> None:
    session = (DEPLOY / "systemd" / "vaxflow-session@.service").read_text()
    assert re.search(r"^Restart=always$", session, re.M)
    assert re.search(r"^StartLimitIntervalSec=0$", session, re.M)  # never gives up
    assert "network-online" not in session  # the screen starts without the network
    server = (DEPLOY / "systemd" / "vaxflow-server.service").read_text()
    assert re.search(r"^Restart=on-failure$", server, re.M)
    assert re.search(r"^StateDirectoryMode=0700$", server, re.M)
