"""What `vaxflow doctor` concludes from what it found: pure rules, one finding per check.

The probes (doctor_probes.py) gather `Facts` from the machine; these rules turn them into
findings a site technician reads: OK, or what is wrong and what to do about it. Tested with
tables of facts, no machine needed.
"""

from __future__ import annotations

from collections.abc import Mapping
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
    """One line of the doctor's report: message keys of the `doctor` catalogues, and the
    values their {placeholders} take (doctor_text.py puts them in the site's language)."""

    check: str
    level: Level
    said: str
    """The key of what was found."""
    todo: str = ""
    """The key of what to do about it; empty when there is nothing to do."""
    params: Mapping[str, object] = field(default_factory=dict)


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
    language: str = "en"
    """The site's first language: the report's, unless asked for another."""
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
    screen: bool = False
    """A machine with a screen (kiosk, station, TV): its font and sound were looked at."""
    font: str | None = None
    """A font file that draws Chinese; None: none found."""
    sound_checked: bool = False
    """Sound is a device: left out with the devices (the doctor timer's --no-devices)."""
    sound: str | None = None
    """The command that plays sound; None: no sound device or player."""


def _mib(n: int) -> str:
    return f"{n / 1024**2:,.0f}"


def config_findings(f: Facts) -> list[Finding]:
    """The site file loads, and is not left with the demo's or the template's defaults."""
    if f.config_problems is None:
        return []
    path = {"path": f.config_path}
    if f.config_problems:
        params = {**path, "count": len(f.config_problems), "first": f.config_problems[0]}
        return [Finding("config", Level.FAULT, "config.problems", "config.problems.todo", params)]
    found = [Finding("config", Level.OK, "config.ok", params={**path, "site": f.site})]
    if f.demo_tokens:
        found.append(Finding("tokens", Level.FAULT, "tokens.demo", "tokens.demo.todo"))
    if not f.staff_sign_in and f.role == "server":
        found.append(Finding("staff", Level.WARN, "staff.off", "staff.off.todo"))
    return found


def database_findings(f: Facts) -> list[Finding]:
    """The site database is there, sound and checkpointed; backups are recent."""
    if f.db_path is None:
        return []
    path = {"path": f.db_path}
    if f.db_error is not None:
        params = {**path, "error": f.db_error}
        return [Finding("database", Level.FAULT, "database.error", "database.error.todo", params)]
    if f.db_problems:
        params = {**path, "first": f.db_problems[0]}
        return [
            Finding(
                "database", Level.FAULT, "database.integrity", "database.integrity.todo", params
            )
        ]
    found = [Finding("database", Level.OK, "database.ok", params=path)]
    if f.db_wal_bytes > WARN_WAL_BYTES:
        found.append(
            Finding(
                "database",
                Level.WARN,
                "database.wal",
                "database.wal.todo",
                {"mib": _mib(f.db_wal_bytes)},
            )
        )
    if f.backup_dir is not None:
        where = {"dir": f.backup_dir}
        if f.newest_backup_age is None:
            found.append(Finding("backups", Level.WARN, "backups.none", "backups.none.todo", where))
        elif f.newest_backup_age > WARN_BACKUP_AGE_SECONDS:
            hours = {"hours": f"{f.newest_backup_age / 3600:.1f}"}
            found.append(Finding("backups", Level.WARN, "backups.old", "backups.old.todo", hours))
        else:
            minutes = {"minutes": f"{f.newest_backup_age / 60:.0f}"}
            found.append(Finding("backups", Level.OK, "backups.ok", params=minutes))
    return found


def disk_findings(f: Facts) -> list[Finding]:
    """Room to write where the site writes."""
    found = []
    for disk in f.disks:
        params: dict[str, object] = {"path": disk.path, "mib": _mib(disk.free_bytes)}
        if disk.write_error is not None:
            params["error"] = disk.write_error
            found.append(Finding("disk", Level.FAULT, "disk.write", "disk.write.todo", params))
        elif disk.free_bytes < FAULT_FREE_BYTES:
            found.append(Finding("disk", Level.FAULT, "disk.full", "disk.full.todo", params))
        elif disk.free_bytes < WARN_FREE_BYTES:
            found.append(Finding("disk", Level.WARN, "disk.low", "disk.low.todo", params))
        else:
            found.append(Finding("disk", Level.OK, "disk.ok", params=params))
    return found


def clock_findings(f: Facts) -> list[Finding]:
    """The clock is synchronised, and agrees with the server's."""
    found = []
    if f.clock_synced is False:
        found.append(Finding("clock", Level.WARN, "clock.unsynced", "clock.unsynced.todo"))
    elif f.clock_synced is None:
        found.append(Finding("clock", Level.WARN, "clock.unknown", "clock.unknown.todo"))
    else:
        found.append(Finding("clock", Level.OK, "clock.synced"))
    if f.clock_offset is not None:
        off = abs(f.clock_offset)
        said = "clock.ahead" if f.clock_offset > 0 else "clock.behind"
        params = {"seconds": f"{off:.1f}"}
        if off > FAULT_OFFSET_SECONDS:
            found.append(Finding("clock", Level.FAULT, said, "clock.offset.todo", params))
        elif off > WARN_OFFSET_SECONDS:
            found.append(Finding("clock", Level.WARN, said, "clock.offset.todo", params))
        else:
            found.append(Finding("clock", Level.OK, said, params=params))
    return found


def server_findings(f: Facts) -> list[Finding]:
    """This machine reaches the server, over a connection it trusts, with a token it knows."""
    if f.server_url is None:
        return []
    url = {"url": f.server_url}
    if f.tls_error is not None:
        params = {**url, "error": f.tls_error}
        return [Finding("server", Level.FAULT, "server.tls", "server.tls.todo", params)]
    if f.server_error is not None:
        params = {**url, "error": f.server_error}
        return [
            Finding("server", Level.FAULT, "server.unreachable", "server.unreachable.todo", params)
        ]
    found = [Finding("server", Level.OK, "server.ok", params=url)]
    if f.token_accepted is False:
        found.append(Finding("token", Level.FAULT, "token.refused", "token.refused.todo"))
    elif f.token_accepted:
        found.append(Finding("token", Level.OK, "token.ok"))
    return found


_DEVICE_LEVEL = {"ok": Level.OK, "warning": Level.WARN}


def device_findings(f: Facts) -> list[Finding]:
    """Each configured device opens and says it can work."""
    if f.devices_error is not None:
        params = {"error": f.devices_error}
        return [Finding("devices", Level.WARN, "devices.missing", "devices.missing.todo", params)]
    found = []
    for device in f.devices or ():
        level = _DEVICE_LEVEL.get(device.state, Level.FAULT)
        if device.state == "unknown" and device.reason == "no_scan_yet":
            level = Level.OK  # a keyboard-wedge scanner says nothing until someone scans
        params = {
            "url": device.url,
            "state": device.state,
            "reason": f" ({device.reason})" if device.reason else "",
            "detail": device.detail,
        }
        said, todo = "device.state", "device.detail.todo" if device.detail else "device.todo"
        if device.url.startswith("sim:") and f.role in ("kiosk", "station") and not level:
            level, said, todo = Level.WARN, "device.sim", "device.sim.todo"
        found.append(Finding(device.kind, level, said, "" if level is Level.OK else todo, params))
    return found


def screen_findings(f: Facts) -> list[Finding]:
    """A screen machine draws Chinese and can speak (calls, spoken prompts)."""
    if not f.screen:
        return []
    found = []
    if f.font is None:
        found.append(Finding("font", Level.FAULT, "font.missing", "font.missing.todo"))
    else:
        found.append(Finding("font", Level.OK, "font.ok", params={"path": f.font}))
    if f.sound_checked and f.sound is None:
        found.append(Finding("sound", Level.WARN, "sound.missing", "sound.missing.todo"))
    elif f.sound_checked:
        found.append(Finding("sound", Level.OK, "sound.ok", params={"player": f.sound}))
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
        *screen_findings(f),
    ]


def worst(findings: list[Finding]) -> Level:
    """The worst level found (OK for none)."""
    return max((x.level for x in findings), default=Level.OK)
