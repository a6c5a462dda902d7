"""What `vaxflow doctor` looks at on this machine: the site file, the database, the disks, the
clock, the server, the devices. Each probe turns every failure into a fact; doctor_rules.py
says what the facts mean."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import ssl
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from vaxflow.cli.doctor_rules import DeviceFact, DiskFact, Facts
from vaxflow.config import ConfigError, Settings, load_settings
from vaxflow.queue.store.backup import BackupError, check_database, rotated

#: Written and removed in each folder the site writes to, to prove a write works there.
PROBE_BYTES = 1024 * 1024
#: Roles whose machine shows a screen (and speaks: calls, spoken prompts).
SCREEN_ROLES = ("kiosk", "station", "board")
#: Tokens nobody should run a real site with: the demo's and the example file's.
_PLACEHOLDER_TOKENS = ("demo-", "replace-with")


@dataclass(frozen=True)
class Where:
    """What the doctor is told to look at (command line, environment, device.env)."""

    role: str
    config: Path
    server_url: str | None
    db: str | None
    backup_dir: Path | None
    ca_file: Path | None
    local: bool
    devices: bool
    token: str | None = None
    device_id: str | None = None
    timeout: float = 5.0


def probe_config(facts: Facts, path: Path) -> Settings | None:
    """Load the site file; its problems, or what it is."""
    try:
        settings = load_settings(path)
    except ConfigError as err:
        facts.config_problems = [p.render(str(path)) for p in err.problems]
        return None
    facts.config_problems = []
    facts.language = settings.site.languages[0]
    facts.site = f"{settings.site.name}, id {settings.site.id}"
    facts.demo_tokens = any(
        token.startswith(_PLACEHOLDER_TOKENS)
        for tokens in settings.tokens.values()
        for token in tokens
    )
    facts.staff_sign_in = settings.staff_sign_in.required
    return settings


def probe_database(facts: Facts, db: str, backup_dir: Path | None) -> None:
    """The server's SQLite file: there, readable, sound; its newest backup's age."""
    if "://" in db:
        return  # PostgreSQL: the region's own monitoring looks after it
    path = Path(db)
    facts.db_path = str(path)
    try:
        found = check_database(path)
    except BackupError as err:
        facts.db_error = str(err)
        return
    facts.db_problems = found.problems
    facts.db_wal_bytes = found.wal_bytes
    if backup_dir is not None:
        facts.backup_dir = str(backup_dir)
        copies = rotated(backup_dir, path.stem) if backup_dir.is_dir() else []
        if copies:
            facts.newest_backup_age = time.time() - copies[-1].stat().st_mtime


def _write_probe(folder: Path) -> str | None:
    """Write PROBE_BYTES in `folder` and remove them; the error in words if that fails."""
    if threading.current_thread() is threading.main_thread():
        # Past a file-size limit the kernel sends SIGXFSZ, which would end the doctor
        # instead of letting the write fail with EFBIG.
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    try:
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".vaxflow-doctor-") as probe:
            probe.write(b"\0" * PROBE_BYTES)
            probe.flush()
            os.fsync(probe.fileno())
    except OSError as err:
        return err.strerror or str(err)
    return None


def probe_disks(facts: Facts, folders: list[Path]) -> None:
    """Free space and a test write in each folder the site writes to."""
    for folder in dict.fromkeys(folders):  # once each, in order
        if not folder.is_dir():
            continue
        usage = os.statvfs(folder)
        facts.disks.append(
            DiskFact(
                str(folder),
                usage.f_bavail * usage.f_frsize,
                usage.f_blocks * usage.f_frsize,
                _write_probe(folder),
            )
        )


def probe_clock_sync(facts: Facts) -> None:
    """Whether systemd says the clock is synchronised (None when it cannot say)."""
    if Path("/run/systemd/timesync/synchronized").exists():
        facts.clock_synced = True
        return
    try:
        done = subprocess.run(
            ["timedatectl", "show", "--property=NTPSynchronized", "--value"],
            capture_output=True,
            text=True,
            timeout=5,
        )
    except (OSError, subprocess.TimeoutExpired):
        return
    answer = done.stdout.strip()
    if done.returncode == 0 and answer in ("yes", "no"):
        facts.clock_synced = answer == "yes"


def probe_server(
    facts: Facts,
    url: str,
    ca_file: Path | None,
    timeout: float,
    token: str | None = None,
    device_id: str | None = None,
) -> None:
    """Ask the server its time: reachable, trusted, and how far our clock is from its; then
    whether it knows this device's token."""
    facts.server_url = url
    try:
        context = ssl.create_default_context(
            cafile=str(ca_file) if ca_file and url.startswith("https:") else None
        )
    except (OSError, ssl.SSLError) as err:
        facts.tls_error = f"the CA file {ca_file} cannot be read: {err}"
        return
    # The site LAN is never reached through a proxy a machine may have for the Internet.
    opener = urllib.request.build_opener(
        urllib.request.ProxyHandler({}), urllib.request.HTTPSHandler(context=context)
    )
    sent = time.time()
    try:
        with opener.open(f"{url.rstrip('/')}/api/time", timeout=timeout) as answer:
            body = json.loads(answer.read())
    except ssl.SSLCertVerificationError as err:
        facts.tls_error = err.verify_message or str(err)
        return
    except urllib.error.HTTPError as err:
        facts.server_error = f"HTTP {err.code} to /api/time: is this the vaxflow server's URL?"
        return
    except urllib.error.URLError as err:
        if isinstance(err.reason, ssl.SSLCertVerificationError):
            facts.tls_error = err.reason.verify_message or str(err.reason)
        else:
            facts.server_error = str(err.reason)
        return
    except (OSError, ValueError) as err:
        facts.server_error = str(err)
        return
    received = time.time()
    try:
        server_now = float(body["epoch_ms"]) / 1000
    except (KeyError, TypeError, ValueError):
        facts.server_error = "its /api/time answer has no epoch_ms: is it a vaxflow server?"
        return
    facts.clock_offset = (sent + received) / 2 - server_now
    if token:
        facts.token_accepted = _token_known(opener, url, token, device_id, timeout)


def _token_known(
    opener: urllib.request.OpenerDirector,
    url: str,
    token: str,
    device_id: str | None,
    timeout: float,
) -> bool | None:
    """Does the server know this device's token? It answers 401 to a token it does not know,
    and 403 to a known one asking for the marshal's dashboard (None: no clear answer)."""
    request = urllib.request.Request(
        f"{url.rstrip('/')}/api/dashboard",
        headers={"Authorization": f"Bearer {token}", "X-Device-Id": device_id or "doctor"},
    )
    try:
        with opener.open(request, timeout=timeout):
            return True
    except urllib.error.HTTPError as err:
        return {401: False, 403: True}.get(err.code)
    except (urllib.error.URLError, OSError):
        return None


def probe_devices(facts: Facts, settings: Settings) -> None:
    """Open each device of [devices] and ask its state (needs the kiosk extra for real ones)."""
    try:
        from vaxflow.cli.devices_cmd import KINDS, check_all
    except ModuleNotFoundError as err:
        facts.devices_error = f"the device drivers are not installed ({err.name})"
        return
    urls = {kind: getattr(settings.devices, kind) for kind in KINDS}
    found = asyncio.run(check_all(urls, settings.devices.timeout_seconds))
    facts.devices = [DeviceFact(h.kind, h.url, h.state.value, h.reason, h.detail) for h in found]


def probe_screen(facts: Facts, *, sound: bool) -> None:
    """The font the screens and tickets draw Chinese with, and (`sound`) what plays sound."""
    from vaxflow.hardware.audio import find_player
    from vaxflow.hardware.fonts import cjk_font_path

    facts.screen = True
    font = cjk_font_path()
    facts.font = str(font) if font is not None else None
    if sound:
        player = find_player()
        facts.sound_checked = True
        facts.sound = player[0] if player else None


def local_server_url(settings: Settings) -> str:
    """How the server machine reaches its own server."""
    scheme = "https" if settings.server.tls_cert else "http"
    host = settings.server.host
    if host in ("0.0.0.0", "::", ""):
        host = "127.0.0.1"
    return f"{scheme}://{host}:{settings.server.port}"


def gather(where: Where) -> Facts:
    """Every fact the doctor needs about this machine."""
    facts = Facts(role=where.role, config_path=str(where.config))
    settings = probe_config(facts, where.config)
    folders: list[Path] = []
    if where.role == "server" and settings is not None:
        db = where.db or settings.server.db
        backup_dir = where.backup_dir
        probe_database(facts, db, backup_dir)
        if "://" not in db:
            folders.append(Path(db).parent)
        if backup_dir is not None:
            folders.append(backup_dir)
    folders.append(Path(tempfile.gettempdir()))
    probe_disks(facts, folders)
    probe_clock_sync(facts)
    if not where.local:
        url = where.server_url
        if url is None and where.role == "server" and settings is not None:
            url = local_server_url(settings)
        ca_file = where.ca_file
        if ca_file is None and settings is not None and settings.server.tls_ca:
            ca_file = Path(settings.server.tls_ca)  # the site CA the site file pins
        if url is not None:
            probe_server(facts, url, ca_file, where.timeout, where.token, where.device_id)
    if where.devices and settings is not None:
        probe_devices(facts, settings)
    if where.role in SCREEN_ROLES:
        probe_screen(facts, sound=where.devices)
    return facts
