"""`vaxflow idcard read`, run as the real console script against the simulator and a pty reader."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.hardware.idcard_emulator import IdCardEmulator, make_card

VAXFLOW = Path(sys.executable).parent / "vaxflow"
CARD = make_card("欧阳小红", sex="female", valid_until=None)


def vaxflow(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(VAXFLOW), "idcard", "read", *args],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


@pytest.fixture
def emulator(tmp_path: Path) -> Iterator[IdCardEmulator]:
    with IdCardEmulator(tmp_path) as emu:
        yield emu


def test_sim_card_is_printed_masked() -> None:
    run = vaxflow("--device", "sim://?card=zhang")
    assert run.returncode == 0, run.stderr
    assert "张*明" in run.stdout
    assert "4501**********1238" in run.stdout
    assert "450103199001011238" not in run.stdout + run.stderr
    assert "2015-06-01 to 2035-06-01" in run.stdout


def test_pty_reader_json(emulator: IdCardEmulator) -> None:
    emulator.present(CARD)
    run = vaxflow("--device", emulator.url, "--json", "--timeout", "5")
    assert run.returncode == 0, run.stderr
    printed = json.loads(run.stdout)
    assert printed["name"] == "欧**红"
    assert printed["id_number"] == CARD.id_number[:4] + "*" * 10 + CARD.id_number[-4:]
    assert printed["valid_until"] is None  # long-term
    assert printed["photo_bytes"] == 1024
    assert CARD.id_number not in run.stdout + run.stderr


def test_pty_reader_show_id(emulator: IdCardEmulator) -> None:
    emulator.present(CARD)
    run = vaxflow("--device", emulator.url, "--json", "--show-id")
    assert run.returncode == 0, run.stderr
    printed = json.loads(run.stdout)
    assert (printed["name"], printed["id_number"]) == (CARD.name, CARD.id_number)


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        ("empty", "no card placed on the reader within 0.3 s"),
        ("unplugged", "not available"),
        ("silent", "did not answer"),
        ("garbled", "unreadable"),
    ],
)
def test_pty_reader_failures_are_one_line(
    emulator: IdCardEmulator, setup: str, message: str
) -> None:
    if setup == "unplugged":
        emulator.unplug()
    elif setup == "silent":
        emulator.silent = True
    elif setup == "garbled":
        emulator.corrupt = 1
    run = vaxflow("--device", emulator.url + "&timeout=0.3", "--timeout", "0.3")
    assert run.returncode == 1
    assert message in run.stderr
    assert "Traceback" not in run.stderr
    assert run.stdout == ""


@pytest.mark.parametrize(
    ("url", "code", "message"),
    [
        ("sim://?fault=unplugged", 1, "not available"),
        ("sim://?card=nobody", 2, "unknown demo card"),
        ("tcp://10.0.0.5:9100", 2, "no idcard driver"),
    ],
)
def test_sim_and_url_failures(url: str, code: int, message: str) -> None:
    run = vaxflow("--device", url, "--timeout", "0.1")
    assert run.returncode == code
    assert message in run.stderr
    assert "Traceback" not in run.stderr
