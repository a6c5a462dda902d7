"""The doctor's rules: each kind of fact gives the line a technician needs (no machine)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from vaxflow.cli import doctor_text
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
        ({"demo_tokens": True}, "tokens", Level.FAULT, "still holds"),
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
        ({"screen": True, "font": None}, "font", Level.FAULT, "no font"),
        ({"screen": True, "font": "/f", "sound_checked": True}, "sound", Level.WARN, "silent"),
        (
            {"screen": True, "font": "/f", "sound_checked": True, "sound": "/usr/bin/aplay"},
            "sound",
            Level.OK,
            "aplay",
        ),
    ],
)
def test_each_fault_says_what_and_what_to_do(
    changes: dict[str, object], check: str, level: Level, words: str
) -> None:
    findings = diagnose(_healthy(**changes))
    if level is Level.OK:
        (finding,) = (f for f in findings if f.check == check)
        assert words in doctor_text.words(finding, "en")[0] and finding.todo == ""
        assert worst(findings) is Level.OK
        return
    findings = [f for f in findings if f.level is not Level.OK]
    (finding,) = findings
    assert (finding.check, finding.level) == (check, level)
    said, todo = doctor_text.words(finding, "en")
    assert words in said
    assert todo  # never a fault without what to do


def _placeholders(words: str) -> set[str]:
    return set(re.findall(r"{(\w+)}", words))


@pytest.mark.parametrize("language", ["zh-CN", "zh-TW"])
def test_every_line_has_its_words_in_every_language(language: str) -> None:
    for key in doctor_text.message_ids():
        found = doctor_text.catalog(language).gettext(key)
        assert found != key, f"{language}: no words for {key}"
        english = doctor_text.catalog("en").gettext(key)
        assert _placeholders(found) == _placeholders(english), key


def test_every_key_the_rules_use_has_words() -> None:
    source = (Path(doctor_text.__file__).with_name("doctor_rules.py")).read_text()
    used = set(re.findall(r'"((?:[a-z]+)\.[a-z_.]+)"', source))
    assert used and used <= set(doctor_text.message_ids())


def test_the_report_is_in_the_sites_language() -> None:
    (finding,) = [f for f in diagnose(_healthy(clock_offset=-301.0)) if f.level is Level.FAULT]
    assert doctor_text.words(finding, "zh-CN") == (
        "本机时钟比服务器慢 301.0 秒",
        "让两台机器都与站点时间服务器同步（timedatectl set-ntp true）",
    )
    assert doctor_text.words(finding, "zh-TW")[0] == "本機時鐘比伺服器慢 301.0 秒"
