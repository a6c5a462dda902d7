"""`vaxflow devices check`: every configured device opened and reported, nothing crashes."""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path

import pytest

from tests.conftest import DEMO_CONFIG
from vaxflow.cli import main
from vaxflow.cli.devices_cmd import check_device
from vaxflow.hardware.interfaces import DeviceState

from .printer_emulator import PrinterEmulator

DEMO = Path(__file__).resolve().parents[2] / "vaxflow" / "config" / "demo.toml"


def site_file(tmp_path: Path, printer: str, scanner: str = "sim://") -> Path:
    text = DEMO.read_text(encoding="utf-8")
    devices = f'[devices]\nscanner = "{scanner}"\nidcard = "sim://"\nprinter = "{printer}"\n'
    devices += "timeout_seconds = 2.0\n\n"
    text = re.sub(r"\[devices\]\n(?:.+\n)*\n", devices, text)
    path = tmp_path / "site.toml"
    path.write_text(text, encoding="utf-8")
    return path


async def run_cli(argv: list[str]) -> int:
    # The CLI runs its own event loop; the emulator serves on this one.
    return await asyncio.to_thread(main, argv)


async def test_check_reports_printer_states(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    async with PrinterEmulator() as emulator:
        config = site_file(tmp_path, emulator.url())
        await run_cli(["devices", "check", "--config", str(config), "--json", "--device-id", "k1"])
        emulator.paper_out = True
        code = await run_cli(["devices", "check", "--config", str(config), "--json"])
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    printers = [rec for rec in lines if rec["kind"] == "printer"]
    assert printers[0] == {
        "device_id": "k1/printer",
        "kind": "printer",
        "url": emulator.url(),
        "state": "ok",
        "reason": "",
        "detail": "",
    }
    assert (printers[1]["state"], printers[1]["reason"]) == ("fault", "paper_out")
    assert code == 1
    assert {rec["kind"] for rec in lines} == {"scanner", "idcard", "printer"}


def test_check_text_output_with_unreachable_printer(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = site_file(tmp_path, "tcp://127.0.0.1:9")  # discard port: nothing listens
    assert main(["devices", "check", "--config", str(config)]) == 1
    out = capsys.readouterr().out
    assert re.search(r"^printer\s+offline\s+tcp://127\.0\.0\.1:9 \(unreachable\)", out, re.M)
    assert re.search(r"^idcard\s+\w+\s+sim://", out, re.M)


async def test_driver_not_importable_is_reported_not_raised() -> None:
    # Every scheme in the table resolves to a module; one that is missing must not crash.
    health = await check_device("scanner", "hid://", 1.0)
    assert health.state in set(DeviceState)
    if health.reason == "driver_not_available":
        assert health.detail.startswith("driver not available")


def test_check_bad_config(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["devices", "check", "--config", str(tmp_path / "missing.toml")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_a_keyboard_wedge_scanner_that_has_not_scanned_yet_passes(tmp_path: Path) -> None:
    """hid:// cannot be asked anything until someone scans: unknown, but not a fault."""
    text = DEMO_CONFIG.read_text(encoding="utf-8")
    site = tmp_path / "hid.toml"
    site.write_text(text.replace('scanner = "sim://"', 'scanner = "hid://"'), encoding="utf-8")
    assert main(["devices", "check", "--config", str(site)]) == 0


def test_check_lists_the_keyboards_a_wedge_scanner_could_be(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from vaxflow.hardware.evdev_scanner import keyboard_devices

    site = site_file(tmp_path, "sim://", scanner="hid://")
    assert main(["devices", "check", "--config", str(site)]) == 0
    out = capsys.readouterr().out
    line = next(x for x in out.splitlines() if x.startswith("keyboards (a wedge scanner is one):"))
    if not Path("/dev/input").exists():
        assert "no /dev/input on this machine" in line
    else:
        for device in keyboard_devices():
            assert device.path in line and device.name in line


def test_check_a_wedge_scanner_device_that_is_missing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    site = site_file(tmp_path, "sim://", scanner=f"hid://{tmp_path}/usb-Scanner-event-kbd")
    assert main(["devices", "check", "--config", str(site)]) == 1
    out = capsys.readouterr().out
    assert "scanner  offline" in out and "keyboards present" in out
