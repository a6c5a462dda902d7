"""What `vaxflow doctor` concludes from what it found: pure rules, one finding per check.

The probes (doctor_probes.py) gather `Facts` from the machine; these rules turn them into
findings a site technician reads: OK, or what is wrong and what to do about it. Tested with
tables of facts, no machine needed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum

#: Disk space below which the site's data can no longer be trusted to be written, in bytes.
FAULT_FREE_BYTES = 512 * 1024**2
#: Disk space below which the technician should make room soon, in bytes.
WARN_FREE_BYTES = 2 * 1024**3
#: Clock offsets to the server, in seconds: countdowns and day changes go wrong beyond these.
WARN_OFFSET_SECONDS = 10.0
FAULT_OFFSET_SECONDS = 120.0
#: A write-ahead log larger than this (bytes) means checkpoints are not keeping up.
WARN_WAL_BYTES = 256 * 1024**2
#: The newest backup older than this (seconds) means the backup timer is not running.
WARN_BACKUP_AGE_SECONDS = 2 * 3600.0


class Level(IntEnum):
    """How bad a finding is; the worst one decides the exit status."""

    OK = 0
    WARN = 1
    FAULT = 2


@dataclass(frozen=True)
class Finding:
    """One line of the doctor's report."""

    check: str
    level: Level
    said: str
    todo: str = ""


@dataclass(frozen=True)
class DeviceFact:
    """One configured device as it answered (cli.devices_cmd's health, flattened)."""

    kind: str
    url: str
    state: str  # ok | warning | fault | offline | unknown
    reason: str = ""
    detail: str = ""


@dataclass(frozen=True)
class DiskFact:
    """Free space where the site writes, and whether a test write there worked."""

    path: str
    free_bytes: int
    total_bytes: int
    write_error: str | None = None


@dataclass
class Facts:
    """Everything the probes found on this machine; None: not looked at."""

    role: str
    config_path: str
    config_problems: list[str] | None = None
    site: str = ""
    demo_tokens: bool = False
    staff_sign_in: bool = True
    db_path: str | None = None
    db_error: str | None = None
    db_problems: list[str] | None = None
    db_wal_bytes: int = 0
    newest_backup_age: float | None = None
    backup_dir: str | None = None
    disks: list[DiskFact] = field(default_factory=list)
    clock_synced: bool | None = None
    server_url: str | None = None
    server_error: str | None = None
    tls_error: str | None = None
    clock_offset: float | None = None
    token_accepted: bool | None = None
    devices: list[DeviceFact] | None = None
    devices_error: str | None = None


def _mib(n: int) -> str:
    return f"{n / 1024**2:,.0f} MiB"


def config_findings(f: Facts) -> list[Finding]:
    """The site file loads, and is not left with the demo's or the template's defaults."""
    if f.config_problems is None:
        return []
    if f.config_problems:
        return [
            Finding(
                "config",
                Level.FAULT,
                f"{f.config_path}: {len(f.config_problems)} problem(s): {f.config_problems[0]}",
                f"fix the site file (vaxflow config check {f.config_path} lists every problem)",
            )
        ]
    found = [Finding("config", Level.OK, f"{f.config_path}: valid ({f.site})")]
    if f.demo_tokens:
        found.append(
            Finding(
                "tokens",
                Level.FAULT,
                "the site file still holds the demo's tokens",
                "give every device its own token: vaxflow init-site DIR --server-url URL",
            )
        )
    if not f.staff_sign_in and f.role == "server":
        found.append(
            Finding(
                "staff",
                Level.WARN,
                "staff sign-in is off: a station's token alone records doses",
                "list [[staff]] in the site file and set staff_sign_in.required = true",
            )
        )
    return found


def database_findings(f: Facts) -> list[Finding]:
    """The site database is there, sound and checkpointed; backups are recent."""
    if f.db_path is None:
        return []
    if f.db_error is not None:
        return [
            Finding(
                "database",
                Level.FAULT,
                f.db_error,
                "start vaxflow-server once (it creates the database), or restore the newest "
                "backup: vaxflow db restore --from FILE",
            )
        ]
    if f.db_problems:
        return [
            Finding(
                "database",
                Level.FAULT,
                f"{f.db_path} failed its integrity check: {f.db_problems[0]}",
                "stop vaxflow-server and restore the newest backup: vaxflow db restore --force",
            )
        ]
    found = [Finding("database", Level.OK, f"{f.db_path}: integrity OK")]
    if f.db_wal_bytes > WARN_WAL_BYTES:
        found.append(
            Finding(
                "database",
                Level.WARN,
                f"the write-ahead log is {_mib(f.db_wal_bytes)}: checkpoints are not keeping up",
                "restart vaxflow-server in a quiet moment",
            )
        )
    if f.backup_dir is not None:
        if f.newest_backup_age is None:
            found.append(
                Finding(
                    "backups",
                    Level.WARN,
                    f"no backup in {f.backup_dir}",
                    "systemctl enable --now vaxflow-backup.timer",
                )
            )
        elif f.newest_backup_age > WARN_BACKUP_AGE_SECONDS:
            found.append(
                Finding(
                    "backups",
                    Level.WARN,
                    f"the newest backup is {f.newest_backup_age / 3600:.1f} hours old",
                    "systemctl status vaxflow-backup.timer vaxflow-backup.service",
                )
            )
        else:
            age = f.newest_backup_age / 60
            found.append(Finding("backups", Level.OK, f"newest backup {age:.0f} minutes old"))
    return found


def disk_findings(f: Facts) -> list[Finding]:
    """Room to write where the site writes."""
    found = []
    for disk in f.disks:
        if disk.write_error is not None:
            found.append(
                Finding(
                    "disk",
                    Level.FAULT,
                    f"{disk.path}: cannot write ({disk.write_error})",
                    "free space there (old logs, journalctl --vacuum-size=200M) or fix its "
                    "permissions",
                )
            )
        elif disk.free_bytes < FAULT_FREE_BYTES:
            found.append(
                Finding(
                    "disk",
                    Level.FAULT,
                    f"{disk.path}: only {_mib(disk.free_bytes)} free",
                    "free space now: old backups, logs (journalctl --vacuum-size=200M)",
                )
            )
        elif disk.free_bytes < WARN_FREE_BYTES:
            found.append(
                Finding(
                    "disk",
                    Level.WARN,
                    f"{disk.path}: {_mib(disk.free_bytes)} free",
                    "free space before the site opens",
                )
            )
        else:
            found.append(Finding("disk", Level.OK, f"{disk.path}: {_mib(disk.free_bytes)} free"))
    return found


def clock_findings(f: Facts) -> list[Finding]:
    """The clock is synchronised, and agrees with the server's."""
    found = []
    if f.clock_synced is False:
        found.append(
            Finding(
                "clock",
                Level.WARN,
                "the system clock is not synchronised (NTP)",
                "timedatectl set-ntp true; check the site's time server is reachable",
            )
        )
    elif f.clock_synced is None:
        found.append(
            Finding(
                "clock",
                Level.WARN,
                "cannot tell whether the clock is synchronised (no timedatectl answer)",
                "check timedatectl or chronyc tracking by hand",
            )
        )
    else:
        found.append(Finding("clock", Level.OK, "the system clock is synchronised"))
    if f.clock_offset is not None:
        off = abs(f.clock_offset)
        ahead = "ahead of" if f.clock_offset > 0 else "behind"
        said = f"this clock is {off:.1f} s {ahead} the server's"
        todo = "synchronise both clocks to the site's time server (timedatectl set-ntp true)"
        if off > FAULT_OFFSET_SECONDS:
            found.append(Finding("clock", Level.FAULT, said, todo))
        elif off > WARN_OFFSET_SECONDS:
            found.append(Finding("clock", Level.WARN, said, todo))
        else:
            found.append(Finding("clock", Level.OK, said))
    return found


def server_findings(f: Facts) -> list[Finding]:
    """This machine reaches the server, over a connection it trusts."""
    if f.server_url is None:
        return []
    if f.tls_error is not None:
        return [
            Finding(
                "server",
                Level.FAULT,
                f"{f.server_url}: the server's certificate is not trusted ({f.tls_error})",
                "install the site's CA certificate on this device (vaxflow tls init made it)",
            )
        ]
    if f.server_error is not None:
        return [
            Finding(
                "server",
                Level.FAULT,
                f"cannot reach the server at {f.server_url} ({f.server_error})",
                "check the network cable or Wi-Fi, the URL in /etc/vaxflow/device.env, and on "
                "the server: systemctl status vaxflow-server",
            )
        ]
    found = [Finding("server", Level.OK, f"{f.server_url} answers")]
    if f.token_accepted is False:
        found.append(
            Finding(
                "token",
                Level.FAULT,
                "the server does not know this device's token",
                "install this device's files from the site folder again (vaxflow init-site "
                "--refresh) or, on the server, the current site.toml and restart vaxflow-server",
            )
        )
    elif f.token_accepted:
        found.append(Finding("token", Level.OK, "the server knows this device's token"))
    return found


_DEVICE_LEVEL = {"ok": Level.OK, "warning": Level.WARN}


def device_findings(f: Facts) -> list[Finding]:
    """Each configured device opens and says it can work."""
    if f.devices_error is not None:
        return [Finding("devices", Level.WARN, f.devices_error, "pip install 'vaxflow[kiosk]'")]
    found = []
    for device in f.devices or ():
        level = _DEVICE_LEVEL.get(device.state, Level.FAULT)
        if device.state == "unknown" and device.reason == "no_scan_yet":
            level = Level.OK  # a keyboard-wedge scanner says nothing until someone scans
        said = f"{device.url}: {device.state}" + (f" ({device.reason})" if device.reason else "")
        todo = device.detail or "check its cable and power; vaxflow devices check"
        if device.url.startswith("sim:") and f.role in ("kiosk", "station") and not level:
            level = Level.WARN
            said += "; a simulated device"
            todo = "set the real device's URL under [devices] (vaxflow devices check)"
        found.append(Finding(device.kind, level, said, "" if level is Level.OK else todo))
    return found


def diagnose(f: Facts) -> list[Finding]:
    """Every finding, in the order a technician works through them."""
    return [
        *config_findings(f),
        *database_findings(f),
        *disk_findings(f),
        *clock_findings(f),
        *server_findings(f),
        *device_findings(f),
    ]


def worst(findings: list[Finding]) -> Level:
    """The worst level found (OK for none)."""
    return max((x.level for x in findings), default=Level.OK)
