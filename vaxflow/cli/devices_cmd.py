"""`vaxflow devices check --config FILE`: open every configured device and report its state."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import socket
from typing import Any

from vaxflow.cli.common import site_settings
from vaxflow.hardware.errors import DeviceTimeout, DeviceUnavailable, HardwareError
from vaxflow.hardware.evdev_scanner import describe_keyboards, keyboard_devices
from vaxflow.hardware.interfaces import DeviceHealth, DeviceState
from vaxflow.hardware.printer_status import health_json
from vaxflow.hardware.urls import UnknownDeviceScheme, device_class

logger = logging.getLogger(__name__)

KINDS = ("scanner", "idcard", "printer")
#: States that do not make `devices check` fail.
GOOD_STATES = frozenset({DeviceState.OK, DeviceState.WARNING})
#: Unknown for a reason that is no fault: a keyboard-wedge scanner cannot be asked anything
#: until someone scans with it, so its silence at a check is expected.
EXPECTED_UNKNOWN = frozenset({"no_scan_yet"})


def passes(health: DeviceHealth) -> bool:
    """Does this device let the kiosk open?"""
    return health.state in GOOD_STATES or (
        health.state is DeviceState.UNKNOWN and health.reason in EXPECTED_UNKNOWN
    )


def register(sub: Any) -> None:
    devices = sub.add_parser("devices", help="scanner, ID-card reader and printer")
    devices_sub = devices.add_subparsers(dest="devices_command", required=True, metavar="ACTION")
    check = devices_sub.add_parser(
        "check", help="open each device of a site file's [devices] table and report its state"
    )
    check.add_argument("--config", required=True, metavar="FILE", help="site TOML file")
    check.add_argument("--json", action="store_true", help="one health record per line (JSON)")
    check.add_argument(
        "--device-id",
        default=socket.gethostname(),
        metavar="ID",
        help="this machine's name in the health records (default: the host name)",
    )
    check.set_defaults(func=_check)


async def check_device(kind: str, url: str, seconds: float) -> DeviceHealth:
    """Open one device, ask its health, close it; every failure becomes a health record."""
    try:
        cls = device_class(kind, url)
    except UnknownDeviceScheme as err:
        return DeviceHealth(kind, url, DeviceState.UNKNOWN, "bad_url", str(err))
    except (ImportError, AttributeError) as err:
        return DeviceHealth(
            kind, url, DeviceState.UNKNOWN, "driver_not_available", f"driver not available: {err}"
        )
    try:
        device = cls(url)
    except ValueError as err:
        return DeviceHealth(kind, url, DeviceState.UNKNOWN, "bad_url", str(err))
    try:
        async with asyncio.timeout(seconds):
            await device.open()
        async with asyncio.timeout(seconds):
            health: DeviceHealth = await device.health()
    except (TimeoutError, DeviceTimeout) as err:
        health = DeviceHealth(kind, url, DeviceState.OFFLINE, "timeout", str(err) or "no answer")
    except DeviceUnavailable as err:
        health = DeviceHealth(kind, url, DeviceState.OFFLINE, "unreachable", str(err))
    except HardwareError as err:
        health = DeviceHealth(kind, url, DeviceState.UNKNOWN, "error", str(err))
    finally:
        try:
            async with asyncio.timeout(seconds):
                await device.close()
        except (TimeoutError, HardwareError) as err:
            logger.debug("closing %s %s: %s", kind, url, err)
    return health


async def check_all(urls: dict[str, str], seconds: float) -> list[DeviceHealth]:
    """Check the devices one after another (they may share a serial port or a USB hub)."""
    return [await check_device(kind, url, seconds) for kind, url in urls.items()]


def _check(args: argparse.Namespace) -> int:
    settings = site_settings(args.config, status=2)
    urls = {kind: getattr(settings.devices, kind) for kind in KINDS}
    results = asyncio.run(check_all(urls, settings.devices.timeout_seconds))
    for health in results:
        if args.json:
            record = health_json(health, f"{args.device_id}/{health.kind}")
            print(json.dumps(record, ensure_ascii=False))
        else:
            reason = f" ({health.reason})" if health.reason else ""
            detail = f" — {health.detail}" if health.detail else ""
            print(f"{health.kind:<8} {health.state.value:<8} {health.url}{reason}{detail}")
    if not args.json:
        # Where a wedge scanner's own device is: the path for scanner = "hid:///dev/input/...".
        print(f"keyboards (a wedge scanner is one): {describe_keyboards(keyboard_devices())}")
    return 0 if all(passes(h) for h in results) else 1
