"""USB scanners in virtual-COM mode via pyserial: `serial:///dev/ttyACM0?baudrate=9600&terminator=crlf`.

A dedicated thread owns the port: it reads, frames lines and hands them to the event loop;
when the scanner is unplugged it closes the port and keeps reopening the same path until the
scanner is back (udev symlinks such as /dev/serial/by-id/... keep the path stable).
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import threading
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import serial

from vaxflow.hardware.errors import DeviceProtocolError, DeviceUnavailable
from vaxflow.hardware.interfaces import DeviceHealth, DeviceState, Scan
from vaxflow.hardware.scan_text import InvalidScan, LineFramer, Overflow, normalize_scan
from vaxflow.hardware.scan_text import terminator_bytes as _terminator_bytes
from vaxflow.hardware.threads import stop_thread

log = logging.getLogger(__name__)

DEFAULT_BAUDRATE = 9600
#: Most USB scanners end a code with CR; with "cr" a CRLF scanner also works (the LF is
#: stripped from the start of the next line), an LF-only scanner needs terminator=lf.
DEFAULT_TERMINATOR = "cr"
#: Scans not yet read are kept up to this many; older ones are dropped (stale scans).
QUEUE_LIMIT = 16


@dataclass(frozen=True)
class _Link:
    """The port's state as the reader thread last saw it."""

    state: DeviceState
    reason: str = ""
    detail: str = ""


_Event = bytes | Overflow | _Link


class SerialScanner:
    """A scanner on a serial port; reconnects by itself after an unplug.

    Options (URL query or keywords): baudrate (default 9600), terminator cr|lf|crlf (default
    cr), reconnect_interval in seconds (default 1.0), poll_interval in seconds (default 0.1:
    how quickly the reader thread notices close()).
    """

    def __init__(
        self,
        url: str,
        *,
        baudrate: int | str | None = None,
        terminator: str | None = None,
        reconnect_interval: float | str | None = None,
        poll_interval: float | str | None = None,
        **options: Any,
    ) -> None:
        if options:
            raise TypeError(f"unknown serial scanner options: {', '.join(sorted(options))}")
        parts = urlsplit(url)
        query = dict(parse_qsl(parts.query))
        unknown = set(query) - {"baudrate", "terminator", "reconnect_interval", "poll_interval"}
        if unknown:
            raise ValueError(f"{url}: unknown option {sorted(unknown)[0]!r}")
        self.url = url
        self.port = parts.netloc + parts.path  # serial:///dev/ttyACM0 or serial://COM3
        if not self.port:
            raise ValueError(f"{url}: no serial port path (serial:///dev/ttyACM0)")

        def option(value: object, name: str, default: object) -> str:
            return str(value) if value is not None else query.get(name, str(default))

        try:
            self.baudrate = int(option(baudrate, "baudrate", DEFAULT_BAUDRATE))
            self.reconnect_interval = float(option(reconnect_interval, "reconnect_interval", 1.0))
            self.poll_interval = float(option(poll_interval, "poll_interval", 0.1))
        except ValueError as err:
            raise ValueError(f"{url}: {err}") from None
        self.terminator = _terminator_bytes(option(terminator, "terminator", DEFAULT_TERMINATOR))
        #: Longest wait in open() for the first connection attempt, and in close() for the
        #: reader thread to stop, in seconds.
        self.call_timeout = 2.0
        self._link = _Link(DeviceState.UNKNOWN, "not_open")
        self._events: asyncio.Queue[_Event] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._attempted = asyncio.Event()  # the thread has tried to open the port once

    async def open(self) -> None:
        """Start the reader thread and wait for its first connection attempt.

        A scanner that is not plugged in yet does not fail open(): health() says OFFLINE and
        the thread keeps trying, so the kiosk starts and the scanner joins when plugged in.
        """
        if self._thread is not None:
            return
        self._loop = asyncio.get_running_loop()
        self._events = asyncio.Queue()
        self._stop.clear()
        self._attempted = asyncio.Event()
        self._thread = threading.Thread(
            target=self._run, name=f"serial-scanner {self.port}", daemon=True
        )
        self._thread.start()
        try:
            async with asyncio.timeout(self.call_timeout):
                await self._attempted.wait()
        except TimeoutError:
            log.warning("%s: no answer from the port within %.1f s", self.url, self.call_timeout)
        if self._link.state is not DeviceState.OK:
            log.warning("%s: not connected yet (%s); will keep trying", self.url, self._link.detail)

    async def close(self) -> None:
        thread, self._thread = self._thread, None
        if thread is None:
            return
        await stop_thread(thread, self._stop, self.call_timeout)
        self._link = _Link(DeviceState.UNKNOWN, "not_open")

    async def read(self, timeout: float) -> Scan | None:  # noqa: ASYNC109 (protocol)
        """The next code; None after `timeout` seconds without one.

        Raises DeviceUnavailable when the scanner is (or goes) offline during the wait,
        InvalidScan for a line that is not clean text, DeviceProtocolError for a runaway line.
        """
        if self._events is None or self._thread is None:
            raise DeviceUnavailable(f"{self.url}: scanner is not open")
        events = self._events
        try:
            async with asyncio.timeout(timeout):
                while True:
                    event = await events.get()
                    scan = self._handle(event)
                    if scan is not None:
                        return scan
        except TimeoutError:
            if self._link.state is not DeviceState.OK:
                raise self._unavailable() from None
            return None

    def _handle(self, event: _Event) -> Scan | None:
        if isinstance(event, _Link):
            # Only if still offline: an unplug that has since healed is no news.
            if event.state is DeviceState.OFFLINE and self._link.state is DeviceState.OFFLINE:
                raise self._unavailable()
            return None
        if isinstance(event, Overflow):
            raise DeviceProtocolError(
                f"{self.url}: {event.dropped} bytes without a terminator "
                f"({self.terminator!r}); check the scanner's terminator setting"
            )
        try:
            return Scan(normalize_scan(event), self.url)
        except InvalidScan as err:
            if err.reason == "empty":
                return None  # a bare terminator, e.g. the LF of a CRLF scanner set to "lf"
            raise

    def _unavailable(self) -> DeviceUnavailable:
        link = self._link
        return DeviceUnavailable(f"{self.url}: scanner {link.reason or 'offline'} {link.detail}")

    async def health(self) -> DeviceHealth:
        """The port's state; when the port is missing, the detail lists the ports that exist."""
        link = self._link
        detail = link.detail
        if link.reason == "not_found":
            try:
                async with asyncio.timeout(self.call_timeout):
                    ports = await asyncio.to_thread(_present_ports)
            except TimeoutError:
                ports = []
            detail = f"{detail}; serial ports present: {', '.join(ports) or 'none'}"
        return DeviceHealth("scanner", self.url, link.state, link.reason, detail)

    # --- the reader thread -------------------------------------------------------------

    def _post(self, event: _Event) -> None:
        """Hand an event to the loop (from the reader thread)."""
        if isinstance(event, _Link):
            self._link = event
        loop, events = self._loop, self._events
        if loop is None or events is None:
            return
        with contextlib.suppress(RuntimeError):  # a closed loop: nobody is listening any more
            loop.call_soon_threadsafe(self._enqueue, events, event)

    def _enqueue(self, events: asyncio.Queue[_Event], event: _Event) -> None:
        if isinstance(event, _Link):
            self._attempted.set()
        if events.qsize() >= QUEUE_LIMIT:
            dropped = events.get_nowait()
            log.warning("scan queue full, dropped %r", dropped)
        events.put_nowait(event)

    def _run(self) -> None:
        framer = LineFramer(self.terminator)
        while not self._stop.is_set():
            try:
                port = serial.Serial(self.port, self.baudrate, timeout=self.poll_interval)
            except (serial.SerialException, OSError, ValueError) as err:
                missing = getattr(err, "errno", None) == errno.ENOENT
                reason = "not_found" if missing else "unplugged"
                if self._link.reason != reason:
                    log.warning("%s: cannot open: %s", self.url, err)
                self._post(_Link(DeviceState.OFFLINE, reason, str(err)))
                self._stop.wait(self.reconnect_interval)
                continue
            log.info("%s: connected", self.url)
            framer.reset()
            self._post(_Link(DeviceState.OK))
            try:
                self._pump(port, framer)
            except (serial.SerialException, OSError) as err:
                log.warning("%s: lost the scanner: %s", self.url, err)
                self._post(_Link(DeviceState.OFFLINE, "unplugged", str(err)))
            finally:
                port.close()
            self._stop.wait(self.reconnect_interval)

    def _pump(self, port: serial.Serial, framer: LineFramer) -> None:
        while not self._stop.is_set():
            data = port.read(port.in_waiting or 1)
            if data:
                for frame in framer.feed(data):
                    self._post(frame)


def _present_ports() -> list[str]:
    """Serial ports the OS lists now (blocking: it walks sysfs), to help staff fix a bad path."""
    from serial.tools import list_ports

    return sorted(port.device for port in list_ports.comports())
