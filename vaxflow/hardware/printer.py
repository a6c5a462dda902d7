"""ESC/POS printer transports named by URL: tcp://, usb://, serial://, file://.

A transport only ships bytes rendered elsewhere (`escpos_render`) and asks the printer for
its status around each job. TCP uses asyncio streams rather than python-escpos' `Network`:
measured on python-escpos 3.1, `Network` has one socket timeout for connect, write and
read, `_read()` is a single `recv(16)` that returns whatever late reply is queued, and
`paper_status()` reports "paper adequate" when the printer does not answer at all. Serial
uses pyserial directly: `Serial._read()` is `read(16)`, which waits out the whole timeout
unless 16 bytes arrive, so each one-byte status reply would cost the full timeout. USB and
file use python-escpos' `Usb` and `File` classes in a worker thread.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar
from urllib.parse import parse_qs, unquote, urlsplit

from vaxflow.hardware.errors import (
    DeviceProtocolError,
    DeviceTimeout,
    DeviceUnavailable,
    HardwareError,
    PrinterNotReady,
)
from vaxflow.hardware.interfaces import DeviceHealth, DeviceState
from vaxflow.hardware.printer_status import (
    STATUS_QUERIES,
    UNANSWERED,
    PrinterStatus,
    parse_status,
    plain_detail,
    status_health,
    status_query,
)

logger = logging.getLogger(__name__)

KIND = "printer"
T = TypeVar("T")


@dataclass(frozen=True)
class PrinterTarget:
    """Where a printer URL points; only the fields of its scheme are set."""

    scheme: str
    host: str = ""
    port: int = 9100
    vendor_id: int = 0
    product_id: int = 0
    path: str = ""
    baudrate: int = 9600
    flow: str = ""  # serial flow control: "", "rtscts" or "xonxoff"


def parse_printer_url(url: str) -> PrinterTarget:
    """Split a printer URL; raise ValueError with a sentence for a malformed one."""
    parts = urlsplit(url)
    query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    if parts.scheme == "tcp":
        if not parts.hostname:
            raise ValueError(f"{url!r}: give a host, e.g. tcp://10.0.0.5:9100")
        try:
            port = parts.port or 9100
        except ValueError:
            raise ValueError(f"{url!r}: the port must be a number, e.g. 9100") from None
        return PrinterTarget("tcp", host=parts.hostname, port=port)
    if parts.scheme == "usb":
        vid, sep, pid = parts.netloc.partition(":")
        try:
            if not sep:
                raise ValueError
            return PrinterTarget("usb", vendor_id=int(vid, 16), product_id=int(pid, 16))
        except ValueError:
            raise ValueError(f"{url!r}: give VID:PID in hex, e.g. usb://0x0416:0x5011") from None
    if parts.scheme in ("serial", "file"):
        path = unquote(parts.path)
        if not path:
            raise ValueError(f"{url!r}: give a device path, e.g. {parts.scheme}:///dev/ttyUSB0")
        baudrate = query.get("baudrate", "9600")
        if not baudrate.isdigit():
            raise ValueError(f"{url!r}: baudrate must be a number, e.g. 9600")
        flow = query.get("flow", "")
        if flow not in ("", "rtscts", "xonxoff"):
            raise ValueError(f"{url!r}: flow must be rtscts or xonxoff")
        return PrinterTarget(parts.scheme, path=path, baudrate=int(baudrate), flow=flow)
    raise ValueError(f"{url!r} is not a printer URL (tcp, usb, serial or file)")


class _Link(Protocol):
    """An open connection to a printer: write bytes, read one status byte."""

    can_read: bool

    async def write(self, data: bytes) -> None: ...

    async def read_byte(self, wait: float) -> int | None: ...

    async def discard_input(self) -> None: ...

    async def close(self) -> None: ...


class _TcpLink:
    can_read = True

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader = reader
        self._writer = writer

    @classmethod
    async def connect(cls, host: str, port: int) -> _TcpLink:
        reader, writer = await asyncio.open_connection(host, port)
        return cls(reader, writer)

    async def write(self, data: bytes) -> None:
        self._writer.write(data)
        await self._writer.drain()

    async def read_byte(self, wait: float) -> int | None:
        try:
            async with asyncio.timeout(wait):
                data = await self._reader.read(1)
        except TimeoutError:
            return None
        if not data:
            raise ConnectionResetError("the printer closed the connection")
        return data[0]

    async def discard_input(self) -> None:
        """Drop late replies to earlier queries so they are not read as this one's."""
        while True:
            try:
                async with asyncio.timeout(0):
                    data = await self._reader.read(64)
            except TimeoutError:
                return
            if not data:
                raise ConnectionResetError("the printer closed the connection")
            logger.debug("discarded %d stale status byte(s)", len(data))

    async def close(self) -> None:
        self._writer.close()
        try:
            await self._writer.wait_closed()
        except OSError as err:  # the peer reset: closed is closed
            logger.debug("closing printer connection: %s", err)


class _SerialLink:
    """A serial printer through pyserial, each blocking call in a worker thread."""

    can_read = True

    def __init__(self, port: Any) -> None:
        self._port = port

    @classmethod
    async def connect(cls, target: PrinterTarget) -> _SerialLink:
        import serial

        def open_port() -> Any:
            return serial.Serial(
                target.path,
                target.baudrate,
                timeout=0.5,
                write_timeout=60,  # a raster ticket at 9600 baud takes ~25 s
                rtscts=target.flow == "rtscts",
                xonxoff=target.flow == "xonxoff",
            )

        return cls(await asyncio.to_thread(open_port))

    async def write(self, data: bytes) -> None:
        await asyncio.to_thread(self._write, data)

    def _write(self, data: bytes) -> None:
        self._port.write(data)
        self._port.flush()

    async def read_byte(self, wait: float) -> int | None:
        data: bytes = await asyncio.to_thread(self._read, wait)
        return data[0] if data else None

    def _read(self, wait: float) -> bytes:
        self._port.timeout = wait
        data: bytes = self._port.read(1)
        return data

    async def discard_input(self) -> None:
        await asyncio.to_thread(self._port.reset_input_buffer)

    async def close(self) -> None:
        await asyncio.to_thread(self._port.close)


class _EscposLink:
    """python-escpos Usb/File in a worker thread (their I/O is blocking)."""

    def __init__(self, device: Any, can_read: bool) -> None:
        self._device = device
        self.can_read = can_read

    @classmethod
    async def connect(cls, target: PrinterTarget, status_timeout: float) -> _EscposLink:
        from escpos import printer as escpos_printer

        device: Any
        if target.scheme == "usb":
            if not escpos_printer.Usb.is_usable():
                raise DeviceUnavailable("USB printing needs pyusb (pip install pyusb)")
            device = escpos_printer.Usb(
                target.vendor_id, target.product_id, timeout=int(status_timeout * 1000)
            )
        else:
            device = escpos_printer.File(devfile=target.path)
        await asyncio.to_thread(device.open)
        return cls(device, can_read=target.scheme != "file")

    async def write(self, data: bytes) -> None:
        await asyncio.to_thread(self._device._raw, data)

    async def read_byte(self, wait: float) -> int | None:
        # The device's own read timeout (set at connect) bounds the thread.
        try:
            async with asyncio.timeout(wait):
                data: bytes = await asyncio.to_thread(self._device._read)
        except TimeoutError:
            return None
        return data[-1] if data else None

    async def discard_input(self) -> None:
        return None

    async def close(self) -> None:
        await asyncio.to_thread(self._device.close)


def _unwell(url: str, state: DeviceState, reason: str, err: Exception) -> DeviceHealth:
    """A failed health check in words for staff, the driver's error after them."""
    return DeviceHealth(KIND, url, state, reason, plain_detail(reason, str(err)))


def _library_errors() -> tuple[type[BaseException], ...]:
    from escpos.exceptions import Error as EscposError

    return (OSError, ValueError, EscposError, RuntimeError)


class EscposPrinter:
    """A real ESC/POS printer; implements `TicketPrinter`."""

    def __init__(
        self,
        url: str,
        *,
        connect_timeout: float = 3.0,
        status_timeout: float = 0.5,
        health_timeout: float = 5.0,
    ) -> None:
        self.url = url
        self.target = parse_printer_url(url)
        self._connect_timeout = connect_timeout
        self._status_timeout = status_timeout
        self._health_timeout = health_timeout
        self._link: _Link | None = None
        self._answers_status: bool | None = None  # learned per connection
        self._lock = asyncio.Lock()

    async def open(self) -> None:
        """Connect (idempotent); raise DeviceUnavailable or DeviceTimeout."""
        async with self._lock:
            await self._guarded(self._connect_timeout, self._ensure_open())

    async def print_bytes(self, data: bytes, timeout: float) -> None:  # noqa: ASYNC109 (protocol)
        """Check status, send the job, check again; any failure raises (the job is not lost)."""
        async with self._lock:
            await self._guarded(timeout, self._print(data))

    async def health(self) -> DeviceHealth:
        """The printer's state for the marshal; never raises."""
        async with self._lock:
            try:
                status = await self._guarded(self._health_timeout, self._status_now())
            except DeviceTimeout as err:
                return _unwell(self.url, DeviceState.OFFLINE, "timeout", err)
            except DeviceUnavailable as err:
                return _unwell(self.url, DeviceState.OFFLINE, "unreachable", err)
            except HardwareError as err:
                return _unwell(self.url, DeviceState.UNKNOWN, "garbled", err)
        if self._link is not None and not self._link.can_read:
            return DeviceHealth(
                KIND,
                self.url,
                DeviceState.UNKNOWN,
                "no_status",
                "this transport cannot read status",
            )
        return status_health(KIND, self.url, status)

    async def close(self) -> None:
        """Disconnect; safe to call twice."""
        async with self._lock:
            await self._drop()

    async def _guarded(self, seconds: float, work: Coroutine[Any, Any, T]) -> T:
        """Run one device call under a deadline; translate library errors once, after closing.

        PrinterNotReady keeps the connection: the printer is there, it needs paper or a hand.
        """
        try:
            async with asyncio.timeout(seconds):
                return await work
        except PrinterNotReady:
            raise
        except HardwareError:
            await self._drop()
            raise
        except TimeoutError as err:  # before OSError: TimeoutError is one
            await self._drop()
            raise DeviceTimeout(f"printer {self.url} did not answer within {seconds:g} s") from err
        except _library_errors() as err:
            await self._drop()
            raise DeviceUnavailable(f"printer {self.url}: {err}") from err

    async def _ensure_open(self) -> _Link:
        if self._link is None:
            if self.target.scheme == "tcp":
                async with asyncio.timeout(self._connect_timeout):
                    self._link = await _TcpLink.connect(self.target.host, self.target.port)
            elif self.target.scheme == "serial":
                self._link = await _SerialLink.connect(self.target)
            else:
                self._link = await _EscposLink.connect(self.target, self._status_timeout)
            self._answers_status = None
            logger.info("printer %s connected", self.url)
        return self._link

    async def _print(self, data: bytes) -> None:
        link = await self._ensure_open()
        before = await self._query(link)
        self._raise_if_not_ready(before, "before printing")
        if not before.answered:
            logger.warning("printer %s: status unknown, printing without a check", self.url)
        await link.write(data)
        after = await self._query(link)
        self._raise_if_not_ready(after, "after printing")
        logger.info("printer %s: printed %d bytes", self.url, len(data))

    async def _status_now(self) -> PrinterStatus:
        link = await self._ensure_open()
        self._answers_status = None  # a health check always asks, even a silent printer
        return await self._query(link)

    async def _query(self, link: _Link) -> PrinterStatus:
        """Ask DLE EOT 1, 2, 4; a printer that answered before and now is silent has hung."""
        if not link.can_read or self._answers_status is False:
            return UNANSWERED
        replies: dict[int, int | None] = {}
        for n in STATUS_QUERIES:
            await link.discard_input()
            await link.write(status_query(n))
            reply = await link.read_byte(self._status_timeout)
            if reply is None:
                if self._answers_status:
                    raise DeviceTimeout(f"printer {self.url} stopped answering status queries")
                self._answers_status = False
                return UNANSWERED
            replies[n] = reply
        self._answers_status = True
        try:
            return parse_status(replies)
        except ValueError as err:
            raise DeviceProtocolError(f"printer {self.url}: {err}") from err

    def _raise_if_not_ready(self, status: PrinterStatus, when: str) -> None:
        reason = status.not_ready_reason
        if reason is not None:
            raise PrinterNotReady(f"printer {self.url} {when}: {reason}", reason=reason)

    async def _drop(self) -> None:
        link, self._link = self._link, None
        if link is not None:
            expected: tuple[type[BaseException], ...] = (TimeoutError, *_library_errors())
            try:
                # Bounded: a worker thread stuck in a blocking write must not hang us too.
                async with asyncio.timeout(2.0):
                    await link.close()
            except expected as err:
                logger.debug("closing %s: %r", self.url, err)
