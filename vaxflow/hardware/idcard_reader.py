"""The serial ID-card reader driver: polls find -> select -> read with per-command deadlines.

All port I/O runs on one dedicated worker thread, so commands never overlap even when a
caller is cancelled half-way; pyserial errors are translated once, in `_exchange_blocking`.

Reporting rule: a card is reported once. While it stays on the reader it is not reported
again; it must be lifted first (find card and select card both fail) and placed again.
Select is asked too because some readers answer find with "no card" for a card they have
already activated. Reopening the port after an unplug forgets the last card.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import time
from collections.abc import Callable
from typing import TypeVar
from urllib.parse import parse_qs, urlsplit

import serial

from vaxflow.hardware.errors import (
    DeviceProtocolError,
    DeviceTimeout,
    DeviceUnavailable,
    HardwareError,
)
from vaxflow.hardware.idcard_protocol import (
    Command,
    FrameDecoder,
    IdCardStatusError,
    Request,
    Response,
    Sw3,
    encode_request,
    format_sam_id,
    parse_basic_info,
    parse_response,
)
from vaxflow.hardware.interfaces import DeviceHealth, DeviceState, IdCard

logger = logging.getLogger(__name__)

_T = TypeVar("_T")

try:  # termios exists on POSIX only; pyserial lets its errors through from tcflush
    import termios

    _PORT_ERRORS: tuple[type[BaseException], ...] = (serial.SerialException, OSError, termios.error)
except ImportError:  # pragma: no cover - Windows
    _PORT_ERRORS = (serial.SerialException, OSError)

#: How long one blocking read waits for bytes; also the quiet gap that ends a partial frame.
_READ_SLICE = 0.02
#: A partial frame left unfinished this long is given up and the stream resynchronised.
_QUIET_GAP = 0.2


class SerialIdCardReader:
    """A resident ID-card reader on a serial port: ``serial:///dev/ttyUSB0?baudrate=115200``.

    URL query: ``baudrate`` (default 115200) and ``timeout``, the deadline of one command
    in seconds (default 1.0). ``poll_interval`` is the pause between two find-card polls.
    """

    def __init__(
        self,
        url: str,
        *,
        command_timeout: float = 1.0,
        poll_interval: float = 0.1,
    ) -> None:
        parts = urlsplit(url)
        if parts.scheme != "serial" or not parts.path:
            raise ValueError(f"{url!r} is not a serial device URL (serial:///dev/ttyUSB0)")
        query = parse_qs(parts.query)
        self.url = url
        self.path = parts.path
        self.baudrate = int(query.get("baudrate", ["115200"])[0])
        self.command_timeout = float(query.get("timeout", [str(command_timeout)])[0])
        self.poll_interval = poll_interval
        self._port: serial.Serial | None = None
        self._decoder = FrameDecoder()
        self._reported = False
        self._executor: concurrent.futures.ThreadPoolExecutor | None = None

    # --- the IdCardReader protocol ------------------------------------------------------

    async def open(self) -> None:
        """Open the port; DeviceUnavailable when it is not there (read_card retries later)."""
        await self._run(self._open_blocking)

    async def read_card(self, timeout: float) -> IdCard | None:  # noqa: ASYNC109 (protocol)
        """The next newly placed card, or None when none appeared within `timeout` seconds.

        A card found near the end of `timeout` is still selected and read, so the call can
        take up to two command timeouts longer.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            remaining = deadline - loop.time()
            find = await self._command(Command.FIND_CARD, max(remaining, _READ_SLICE * 5))
            present = find.sw3 == Sw3.FIND_OK
            if self._reported and not present:
                select = await self._command(Command.SELECT_CARD)
                present = select.sw3 == Sw3.OK
                self._reported = present
                if not present:
                    logger.debug("card lifted")
            elif present and not self._reported:
                card = await self._select_and_read()
                if card is not None:
                    self._reported = True
                    return card
            elif find.sw3 != Sw3.FIND_FAILED and not present:
                raise IdCardStatusError(Command.FIND_CARD, find.status)
            if loop.time() + self.poll_interval >= deadline:
                return None
            await asyncio.sleep(self.poll_interval)

    async def health(self) -> DeviceHealth:
        """Ask the security module for its id: answers prove port, reader and SAM work."""
        try:
            answer = await self._command(Command.READ_SAM_ID)
        except DeviceUnavailable as err:
            return self._health(DeviceState.OFFLINE, "unplugged", str(err))
        except DeviceTimeout as err:
            return self._health(DeviceState.UNKNOWN, "no_answer", str(err))
        except DeviceProtocolError as err:
            return self._health(DeviceState.FAULT, "protocol_error", str(err))
        if answer.sw3 != Sw3.OK:
            status = answer.status
            return self._health(DeviceState.FAULT, status.reason, status.message)
        return self._health(DeviceState.OK, "", f"SAM {format_sam_id(answer.data)}")

    async def close(self) -> None:
        """Close the port and stop the worker thread after any command still running."""
        if self._executor is None:
            return
        await self._run(self._close_blocking)
        self._executor.shutdown(wait=False)
        self._executor = None

    # --- async shell ---------------------------------------------------------------------

    async def _select_and_read(self) -> IdCard | None:
        """Select and read a found card; None when it was lifted before we got it."""
        select = await self._command(Command.SELECT_CARD)
        if select.sw3 == Sw3.SELECT_FAILED:
            return None
        if select.sw3 != Sw3.OK:
            raise IdCardStatusError(Command.SELECT_CARD, select.status)
        read = await self._command(Command.READ_BASIC_INFO)
        if read.sw3 == Sw3.READ_FAILED:
            logger.info("card read failed (moved while reading?); will retry")
            return None
        if read.sw3 != Sw3.OK:
            raise IdCardStatusError(Command.READ_BASIC_INFO, read.status)
        return parse_basic_info(read.data)

    async def _command(self, command: Command, budget: float | None = None) -> Response:
        """Send one command and wait for its answer, within min(command timeout, budget)."""
        limit = self.command_timeout if budget is None else min(self.command_timeout, budget)
        frame = encode_request(Request(command))
        try:
            # The worker honours `limit` itself (after finishing any command a cancelled caller
            # left running); this outer deadline only guards against a wedged thread.
            async with asyncio.timeout(limit + self.command_timeout + 1.0):
                return await self._run(lambda: self._exchange_blocking(frame, limit))
        except TimeoutError as err:
            raise DeviceTimeout(f"{self.url}: worker thread did not return") from err

    async def _run(self, func: Callable[[], _T]) -> _T:
        if self._executor is None:
            self._executor = concurrent.futures.ThreadPoolExecutor(
                max_workers=1, thread_name_prefix="idcard"
            )
        return await asyncio.get_running_loop().run_in_executor(self._executor, func)

    def _health(self, state: DeviceState, reason: str, detail: str) -> DeviceHealth:
        return DeviceHealth(kind="idcard", url=self.url, state=state, reason=reason, detail=detail)

    # --- blocking I/O (worker thread only) -------------------------------------------------

    def _open_blocking(self) -> serial.Serial:
        if self._port is not None:
            return self._port
        try:
            port = serial.Serial(self.path, self.baudrate, timeout=_READ_SLICE, exclusive=True)
        except _PORT_ERRORS as err:
            raise DeviceUnavailable(f"{self.url}: cannot open {self.path}: {err}") from err
        logger.info("opened ID-card reader %s", self.url)
        self._port = port
        self._decoder.clear()
        self._reported = False
        return port

    def _close_blocking(self) -> None:
        port, self._port = self._port, None
        if port is not None:
            try:
                port.close()
            except _PORT_ERRORS as err:
                logger.debug("closing %s: %s", self.url, err)

    def _exchange_blocking(self, frame: bytes, limit: float) -> Response:
        """Write a request frame and read until one answer frame, garbled or silent ends it."""
        port = self._open_blocking()
        try:
            return self._exchange_on(port, frame, limit)
        except HardwareError:  # ours (an OSError too): already says what went wrong
            raise
        except _PORT_ERRORS as err:
            self._close_blocking()
            raise DeviceUnavailable(f"{self.url}: reader unplugged or port failed: {err}") from err

    def _exchange_on(self, port: serial.Serial, frame: bytes, limit: float) -> Response:
        deadline = time.monotonic() + limit
        port.reset_input_buffer()
        self._decoder.clear()
        bad_before = self._decoder.bad_frames
        port.write(frame)
        last_byte = time.monotonic()
        while True:
            chunk = port.read(port.in_waiting or 1)
            now = time.monotonic()
            if chunk:
                last_byte = now
                bodies = self._decoder.feed(chunk)
            elif self._decoder.pending and now - last_byte > _QUIET_GAP:
                bodies = self._decoder.resync()
            else:
                bodies = []
            if bodies:
                if len(bodies) > 1:
                    logger.warning("%s: %d extra frames ignored", self.url, len(bodies) - 1)
                return parse_response(bodies[0])
            garbled = self._decoder.bad_frames > bad_before
            if garbled and not chunk and not self._decoder.pending:
                raise DeviceProtocolError(f"{self.url}: garbled answer (bad frame)")
            if now >= deadline:
                if garbled or self._decoder.pending:
                    raise DeviceProtocolError(f"{self.url}: incomplete or garbled answer")
                raise DeviceTimeout(f"{self.url}: no answer within {limit:.2f} s")
