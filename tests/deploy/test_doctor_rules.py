"""The doctor's rules: each kind of fact gives the line a technician needs (no machine)."""

from __future__ import annotations

import pytest

from vaxflow.cli.doctor_rules import (
    DeviceFact,
    DiskFact,
    Facts,
    Level,
    diagnose,
    worst,
)

GIB = 1024**3


def _healthy(**changes: object) -> Facts:
    facts = Facts(
        role="server",
        config_path="/etc/vaxflow/site.toml",
        config_problems=[],
        site="City, id city",
        db_path="/var/lib/vaxflow/site.sqlite",
        db_problems=[],
        backup_dir="/var/lib/vaxflow/backups",
        newest_backup_age=600.0,
        disks=[DiskFact("/var/lib/vaxflow", 50 * GIB, 100 * GIB)],
        clock_synced=True,
        server_url="http://127.0.0.1:8080",
        clock_offset=0.2,
        devices=[DeviceFact("printer", "tcp://10.0.0.5:9100", "ok")],
    )
    for key, value in changes.items():
        setattr(facts, key, value)
    return facts


def test_a_healthy_server_is_all_ok() -> None:
    findings = diagnose(_healthy())
    assert worst(findings) is Level.OK, findings
    assert {f.check for f in findings} == {
        "config", "database", "backups", "disk", "clock", "server", "printer"
    }  # fmt: skip


@pytest.mark.parametrize(
    ("changes", "check", "level", "words"),
    [
        ({"config_problems": ["site.toml:3: site.id: required"]}, "config", Level.FAULT, "1 prob"),
        ({"demo_tokens": True}, "tokens", Level.FAULT, "demo's tokens"),
        ({"staff_sign_in": False}, "staff", Level.WARN, "sign-in is off"),
        ({"db_error": "there is no database at x"}, "database", Level.FAULT, "no database"),
        ({"db_problems": ["page 3 is never used"]}, "database", Level.FAULT, "integrity"),
        ({"db_wal_bytes": 400 * 1024**2}, "database", Level.WARN, "write-ahead log"),
        ({"newest_backup_age": None}, "backups", Level.WARN, "no backup"),
        ({"newest_backup_age": 5 * 3600.0}, "backups", Level.WARN, "5.0 hours old"),
        ({"disks": [DiskFact("/v", 100 * 1024**2, GIB)]}, "disk", Level.FAULT, "100 MiB free"),
        ({"disks": [DiskFact("/v", GIB, 9 * GIB)]}, "disk", Level.WARN, "1,024 MiB free"),
        ({"disks": [DiskFact("/v", GIB * 9, GIB * 9, "No space")]}, "disk", Level.FAULT, "write"),
        ({"clock_synced": False}, "clock", Level.WARN, "not synchronised"),
        ({"clock_synced": None}, "clock", Level.WARN, "cannot tell"),
        ({"clock_offset": 30.0}, "clock", Level.WARN, "30.0 s ahead of"),
        ({"clock_offset": -300.0}, "clock", Level.FAULT, "300.0 s behind"),
        ({"server_error": "Connection refused"}, "server", Level.FAULT, "cannot reach"),
        ({"tls_error": "self-signed certificate"}, "server", Level.FAULT, "not trusted"),
        ({"token_accepted": False}, "token", Level.FAULT, "does not know"),
        ({"token_accepted": True}, "token", Level.OK, ""),
        (
            {"devices": [DeviceFact("printer", "tcp://p", "fault", "paper_out", "load paper")]},
            "printer",
            Level.FAULT,
            "paper_out",
        ),
        (
            {"devices": [DeviceFact("scanner", "hid://", "unknown", "no_scan_yet")]},
            "scanner",
            Level.OK,
            "hid://",
        ),
        (
            {"role": "kiosk", "devices": [DeviceFact("printer", "sim://", "ok")]},
            "printer",
            Level.WARN,
            "simulated",
        ),
        ({"devices_error": "no drivers"}, "devices", Level.WARN, "no drivers"),
    ],
)
def test_each_fault_says_what_and_what_to_do(
    changes: dict[str, object], check: str, level: Level, words: str
) -> None:
    findings = [f for f in diagnose(_healthy(**changes)) if f.level is not Level.OK]
    if level is Level.OK:
        assert findings == []
        return
    (finding,) = findings
    assert (finding.check, finding.level) == (check, level)
    assert words in finding.said
    assert finding.todo  # never a fault without what to do
