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
from ipaddress import ip_address
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from vaxflow.cli import main

from .demo_site import vaxflow

URL = "https://127.0.0.1:8443"


@pytest.fixture
def site(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    """A new site's folder from `vaxflow init-site`, with its TLS material in site/tls."""
    assert main(["init-site", str(tmp_path / "site"), "--server-url", URL]) == 0
    capsys.readouterr()
    return tmp_path / "site"


def _doctor(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    code = main(["doctor", "--env", "/nonexistent/device.env", "--lang", "en", *argv])
    return code, capsys.readouterr().out


def _lines(out: str, level: str) -> list[str]:
    return [line for line in out.splitlines() if line.startswith(level)]


def _sqlite(path: Path) -> Path:
    with contextlib.closing(sqlite3.connect(path)) as conn:
        conn.execute("CREATE TABLE events (seq INTEGER PRIMARY KEY)")
        conn.commit()
    return path


@contextlib.contextmanager
def _server(site: Path, db: Path, start: datetime, *tls: str) -> Iterator[str]:
    """`vaxflow server` on the site file, its clock started at `start`."""
    out = site.parent / "server.out"
    command = [*vaxflow(), "server", "--config", str(site / "site.toml"), "--host", "127.0.0.1"]
    command += ["--port", "0", "--db", str(db), "--start", start.isoformat(), *tls]
    with out.open("wb") as stdout:
        proc = subprocess.Popen(command, stdout=stdout, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while not (match := re.search(r"listening on (https?://\S+)", out.read_text())):
            assert proc.poll() is None and time.monotonic() < deadline, out.read_text()[-3000:]
            time.sleep(0.05)
        yield match.group(1)
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(20)


@pytest.mark.slow
def test_a_server_5_minutes_off_a_printer_out_of_paper_and_an_unknown_token(
    site: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    db, backups = tmp_path / "site.sqlite", tmp_path / "backups"
    tls = site / "tls"  # init-site's certificate, served as installed in /etc/vaxflow/tls
    served = ("--tls-cert", str(tls / "server.crt"), "--tls-key", str(tls / "server.key"))
    ca = ("--ca", str(tls / "ca.crt"))
    with _server(site, db, datetime.now(UTC) - timedelta(minutes=5), *served) as url:
        assert url.startswith("https://")
        assert main(["db", "backup", "--db", str(db), "--dir", str(backups)]) == 0
        capsys.readouterr()
        code, out = _doctor(
            capsys, "--config", str(site / "site.toml"), "--db", str(db),
            "--backup-dir", str(backups), "--server", url, *ca,
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
        kiosk_argv = ["--env", str(kiosk / "device.env"), "--config", str(kiosk / "site.toml"), *ca]
        code, out = _doctor(capsys, *kiosk_argv, "--server", url)
        assert code == 1, out
        assert re.search(r"^OK +token +the server knows this device's token", out, re.M), out
        faults = _lines(out, "FAULT")
        assert len(faults) == 2 and "clock" in faults[0], out
        assert "printer" in faults[1] and "paper_out" in faults[1], out
        assert "load a new roll" in out

        monkeypatch.setenv("VAXFLOW_KIOSK_TOKEN", "a-token-the-server-never-gave")
        code, out = _doctor(capsys, *kiosk_argv, "--server", url, "--no-devices")
    assert code == 1, out
    assert re.search(r"^FAULT +token +the server does not know this device's token", out, re.M)


@pytest.mark.slow
def test_a_server_certificate_this_device_does_not_trust(
    site: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cert, key = _self_signed(tmp_path)
    tls = ("--tls-cert", str(cert), "--tls-key", str(key))
    with _server(site, tmp_path / "site.sqlite", datetime.now(UTC), *tls) as url:
        assert url.startswith("https://")
        argv = ["--role", "board", "--config", str(site / "site.toml"), "--server", url]
        code, out = _doctor(capsys, *argv, "--ca", str(site / "tls" / "ca.crt"))  # another CA
        assert code == 1, out
        (fault,) = _lines(out, "FAULT")
        assert "certificate is not trusted" in fault and "CA certificate" in out
        code, out = _doctor(capsys, *argv, "--ca", str(cert))
    assert code == 0, out
    assert re.search(r"^OK +server ", out, re.M), out


def _self_signed(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 signed by its own key (a site CA nobody installed)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "vaxflow test site")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ip_address("127.0.0.1"))]), False
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "site.crt", folder / "site.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


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
            [*vaxflow(), "doctor", "--env", "/nonexistent", "--lang", "en", *argv, "--db", str(db)],
            capture_output=True,
            text=True,
            preexec_fn=limit,
            timeout=60,
        )
        code, out, expected = done.returncode, done.stdout, "cannot write"
    assert code == 1, out
    faults = _lines(out, "FAULT")
    assert faults and all(" disk " in f and expected in f for f in faults), out


def test_a_device_without_the_site_ca_file(site: Path, capsys: pytest.CaptureFixture[str]) -> None:
    kiosk = site / "devices" / "kiosk-01" / "site.toml"
    text = kiosk.read_text().replace("/etc/vaxflow/tls/ca.crt", str(site / "no-such-ca.crt"))
    kiosk.write_text(text)  # the site file pins a CA nobody copied to this machine
    argv = ["--role", "kiosk", "--config", str(kiosk), "--no-devices", "--server", URL]
    code, out = _doctor(capsys, *argv)
    assert code == 1, out
    (fault,) = _lines(out, "FAULT")
    assert "no-such-ca.crt cannot be read" in fault and "tls/ca.crt" in out, out
