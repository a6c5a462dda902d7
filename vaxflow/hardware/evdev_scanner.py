"""A wedge scanner read as a device: `hid:///dev/input/by-id/usb-...-event-kbd` (Linux evdev).

The scanner's own event device is opened and grabbed exclusively (EVIOCGRAB), so its keys
never reach the kiosk's window or any other program; its events are read on the event loop
(`add_reader` on a non-blocking descriptor: each read returns at once) and decoded with the
kernel's own timestamps (`evdev_keys`). Unplugged, it raises DeviceUnavailable from `read()`
and the kiosk's device loop reopens it with its usual deadlines and back-off; a path that
does not exist names the keyboards that do.

URL options: `layout=us|de` (default us), `max_gap_ms` (longest pause between two keys of a
code, default 100), `pause_ms` (default 1000), `min_length` (default 4), `grab=0` to share
the device (testing only: its keys then also reach the window).
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import fcntl
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from vaxflow.hardware.errors import DeviceUnavailable
from vaxflow.hardware.evdev_keys import EvdevDecoder, parse_events
from vaxflow.hardware.interfaces import DeviceHealth, DeviceState, Scan
from vaxflow.hardware.scan_outcomes import ScanOutcomes

log = logging.getLogger(__name__)

#: ioctl numbers from linux/input.h: _IOW('E', 0x90, int) and _IOW('E', 0xa0, int).
EVIOCGRAB = 0x40044590
EVIOCSCLOCKID = 0x400445A0
CLOCK_MONOTONIC = 1
#: Where udev names input devices by their USB identity; keyboards end in "-event-kbd".
BY_ID = Path("/dev/input/by-id")

_OPTIONS = frozenset({"layout", "max_gap_ms", "pause_ms", "min_length", "grab"})


@dataclass(frozen=True)
class InputDevice:
    """A keyboard-like input device a wedge scanner could be."""

    path: str  # the stable /dev/input/by-id/... name
    name: str  # what the device calls itself (sysfs), e.g. "Honeywell Imaging ... Scanner"


def keyboard_devices(by_id: Path = BY_ID) -> list[InputDevice]:
    """The event devices udev calls keyboards, with their names; [] when there are none.

    Blocking (walks sysfs): call it through asyncio.to_thread on the loop.
    """
    if not by_id.is_dir():
        return []
    found = []
    for link in sorted(by_id.glob("*-event-kbd")):
        node = link.resolve().name  # eventN
        try:
            name = Path(f"/sys/class/input/{node}/device/name").read_text().strip()
        except OSError:
            name = "?"
        found.append(InputDevice(str(link), name))
    return found


def describe_keyboards(devices: list[InputDevice], input_dir: Path = BY_ID.parent) -> str:
    """Plain words for staff: the candidates, or why there are none."""
    if not input_dir.exists():
        return f"no {input_dir} on this machine (a container, or not Linux): use hid://"
    if not devices:
        return "no keyboard devices in /dev/input/by-id (is the scanner plugged in?)"
    return "; ".join(f"{d.path} ({d.name})" for d in devices)


class EvdevScanner:
    """A wedge scanner's event device (see the module docstring)."""

    def __init__(self, url: str, **options: Any) -> None:
        parts = urlsplit(url)
        self.path = parts.path
        if not self.path or self.path == "/":
            raise ValueError(f"{url}: no device path (hid:///dev/input/by-id/...-event-kbd)")
        query = {**dict(parse_qsl(parts.query)), **{k: str(v) for k, v in options.items()}}
        unknown = set(query) - _OPTIONS
        if unknown:
            raise ValueError(f"{url}: unknown option {sorted(unknown)[0]!r}")
        try:
            self.decoder = EvdevDecoder(
                query.get("layout", "us"),
                max_gap=float(query.get("max_gap_ms", 100)) / 1000,
                pause=float(query.get("pause_ms", 1000)) / 1000,
                min_length=int(query.get("min_length", 4)),
            )
        except ValueError as err:
            raise ValueError(f"{url}: {err}") from None
        self.url = url
        self.grab = query.get("grab", "1") not in ("0", "false", "no")
        self._outcomes = ScanOutcomes(url)
        self._fd: int | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._rest = b""
        self._flush_timer: asyncio.TimerHandle | None = None
        self._lost: DeviceHealth | None = None  # why the device is not readable now
        self.grabbed = False
        self._grab_problem = ""
        #: Longest wait for opening the device, in seconds.
        self.call_timeout = 2.0

    async def open(self) -> None:
        """Open and grab the device; DeviceUnavailable (naming the keyboards there are) if not."""
        if self._fd is not None:
            return
        try:
            async with asyncio.timeout(self.call_timeout):
                fd = await asyncio.to_thread(os.open, self.path, os.O_RDONLY | os.O_NONBLOCK)
        except TimeoutError:
            raise DeviceUnavailable(f"{self.url}: no answer within {self.call_timeout} s") from None
        except OSError as err:
            reason = {errno.ENOENT: "not_found", errno.EACCES: "no_permission"}.get(
                err.errno or 0, "unplugged"
            )
            detail = str(err)
            if reason == "no_permission":
                detail += "; the kiosk's user must be in the 'input' group (or a udev rule)"
            if reason == "not_found":
                found = await asyncio.to_thread(keyboard_devices)
                detail += f"; keyboards present: {describe_keyboards(found)}"
            self._lost = DeviceHealth("scanner", self.url, DeviceState.OFFLINE, reason, detail)
            raise DeviceUnavailable(f"{self.url}: {detail}") from err
        self._fd = fd
        self._lost = None
        self._rest = b""
        self._grab(fd)
        opened_at = None
        with contextlib.suppress(OSError):  # a pipe (tests) has no clock to set
            fcntl.ioctl(fd, EVIOCSCLOCKID, CLOCK_MONOTONIC)
            opened_at = time.monotonic()
        self.decoder.reset(opened_at)
        self._loop = asyncio.get_running_loop()
        self._loop.add_reader(fd, self._readable)
        log.info("%s: reading%s", self.url, " (grabbed)" if self.grabbed else "")

    def _grab(self, fd: int) -> None:
        self.grabbed = False
        self._grab_problem = ""
        if not self.grab:
            return
        try:
            fcntl.ioctl(fd, EVIOCGRAB, 1)
        except OSError as err:
            if err.errno == errno.EBUSY:
                self._grab_problem = "another program holds the scanner (grabbed)"
            else:  # ENOTTY/EINVAL: not an event device (a pipe, a recording)
                self._grab_problem = f"cannot grab: {err.strerror}"
            log.warning("%s: %s; its keys may also reach the window", self.url, self._grab_problem)
            return
        self.grabbed = True

    async def close(self) -> None:
        self._stop_reading()
        self._flush()

    def _stop_reading(self) -> None:
        if self._flush_timer is not None:
            self._flush_timer.cancel()
            self._flush_timer = None
        fd, self._fd = self._fd, None
        if fd is None:
            return
        if self._loop is not None:
            self._loop.remove_reader(fd)
        with contextlib.suppress(OSError):
            if self.grabbed:
                fcntl.ioctl(fd, EVIOCGRAB, 0)
        os.close(fd)
        self.grabbed = False

    def _readable(self) -> None:
        """The device has events (on the loop: the descriptor is non-blocking)."""
        fd = self._fd
        if fd is None:
            return
        try:
            data = os.read(fd, 64 * 24)
        except BlockingIOError:
            return
        except OSError as err:  # ENODEV: unplugged
            self._gone("unplugged", str(err))
            return
        if not data:
            self._gone("unplugged", "end of stream")
            return
        events, self._rest = parse_events(self._rest + data)
        for event in events:
            for outcome in self.decoder.feed(event):
                self._outcomes.put(outcome)
        if self._flush_timer is not None:
            self._flush_timer.cancel()
            self._flush_timer = None
        if self.decoder.holding and self._loop is not None:
            self._flush_timer = self._loop.call_later(self.decoder.pause, self._flush)

    def _flush(self) -> None:
        self._flush_timer = None
        for outcome in self.decoder.flush():
            self._outcomes.put(outcome)

    def _gone(self, reason: str, detail: str) -> None:
        log.warning("%s: lost the scanner: %s", self.url, detail)
        self._stop_reading()
        self._flush()
        self._lost = DeviceHealth("scanner", self.url, DeviceState.OFFLINE, reason, detail)

    async def read(self, timeout: float) -> Scan | None:  # noqa: ASYNC109 (protocol)
        """The next whole code; None after `timeout`; DeviceUnavailable once unplugged.

        Raises InvalidScan("partial_scan") for a rejected fragment.
        """
        if self._fd is None:
            raise DeviceUnavailable(
                f"{self.url}: scanner {self._lost.detail if self._lost else 'is not open'}"
            )
        scan = await self._outcomes.get(timeout)
        if scan is None and self._fd is None:
            raise DeviceUnavailable(f"{self.url}: scanner unplugged")
        return scan

    async def health(self) -> DeviceHealth:
        """OFFLINE when unreadable; WARNING when not grabbed or after a fragment; else as read."""
        if self._lost is not None:
            return self._lost
        if self._fd is None:
            return DeviceHealth("scanner", self.url, DeviceState.OFFLINE, "closed")
        health = self._outcomes.health()
        if self.grab and not self.grabbed and health.state is not DeviceState.WARNING:
            return DeviceHealth(
                "scanner", self.url, DeviceState.WARNING, "not_grabbed", self._grab_problem
            )
        if health.state is DeviceState.UNKNOWN:
            # The device is open and its events come to us: nothing to wait for.
            return DeviceHealth("scanner", self.url, DeviceState.OK, "", health.detail)
        return health
