"""A network ESC/POS printer on 127.0.0.1: records what it is sent, answers status queries.

It answers DLE EOT 1/2/3/4 and GS r 1 the way an Epson-compatible printer does, from its
injectable state (paper out, paper near end, cover open, offline, error); `no_reply` makes
it ignore status queries and `garble` answers them with a byte that is not a status byte.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator
from types import TracebackType
from typing import Self

from vaxflow.hardware.escpos_render import split_commands

DLE_EOT = b"\x10\x04"
GS_R = b"\x1dr"


class PrinterEmulator:
    """Start with `async with PrinterEmulator() as printer:`; `printer.url` is its address."""

    def __init__(self) -> None:
        self.paper_out = False
        self.paper_near_end = False
        self.cover_open = False
        self.offline = False
        self.error = False
        self.no_reply = False
        self.garble = False
        self.run_out_after_job = False  # paper ends while the next job prints
        self.received = bytearray()  # every byte except status queries
        self.queries: list[bytes] = []
        self.connections = 0
        self._server: asyncio.Server | None = None
        self._port = 0
        self._writers: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._arrived = asyncio.Event()

    @property
    def port(self) -> int:
        """The listening port (kept after closing, so a test can connect to a dead printer)."""
        return self._port

    def url(self, query: str = "") -> str:
        return f"tcp://127.0.0.1:{self.port}" + (f"?{query}" if query else "")

    async def __aenter__(self) -> Self:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self._port = int(self._server.sockets[0].getsockname()[1])
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self._server is not None
        self._server.close()
        await self.drop_connections()
        await self._server.wait_closed()

    async def drop_connections(self) -> None:
        """Close every client connection (the printer was switched off)."""
        for writer in list(self._writers):
            writer.close()
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def wait_received(self, size: int, seconds: float = 2.0) -> bytes:
        """What was received once at least `size` bytes are in (a blind print has no reply)."""
        async with asyncio.timeout(seconds):
            while len(self.received) < size:
                self._arrived.clear()
                await self._arrived.wait()
        return bytes(self.received)

    def status_byte(self, n: int) -> int:
        """The reply to DLE EOT n for the current state."""
        stopped = self.paper_out or self.cover_open or self.error or self.offline
        if n == 1:
            return 0x12 | (0x08 if stopped else 0)
        if n == 2:
            return (
                0x12
                | (0x04 if self.cover_open else 0)
                | (0x20 if self.paper_out else 0)
                | (0x40 if self.error else 0)
            )
        if n == 4:
            return (
                0x12
                | (0x0C if self.paper_near_end or self.paper_out else 0)
                | (0x60 if self.paper_out else 0)
            )
        return 0x12

    def paper_sensor_byte(self) -> int:
        """The reply to GS r 1."""
        return (0x03 if self.paper_near_end or self.paper_out else 0) | (
            0x0C if self.paper_out else 0
        )

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self._writers.add(writer)
        self.connections += 1
        try:
            await self._serve(reader, writer)
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            self._writers.discard(writer)
            self._tasks.discard(task)
            writer.close()
            with contextlib.suppress(ConnectionError, asyncio.CancelledError):
                await writer.wait_closed()

    def feed(self, pending: bytes, data: bytes) -> tuple[bytes, bytes]:
        """Take bytes from a client; return (reply bytes, incomplete command kept for later)."""
        commands, pending = split_commands(pending + data)
        replies = bytearray()
        job = False
        for command in commands:
            raw = command.head + command.args
            if command.head in (DLE_EOT, GS_R):
                self.queries.append(raw)
                if self.no_reply:
                    continue
                if self.garble:
                    replies.append(0xFF)
                elif command.head == DLE_EOT:
                    replies.append(self.status_byte(command.args[0]))
                else:
                    replies.append(self.paper_sensor_byte() if command.args[0] in (1, 49) else 0)
            else:
                self.received += raw
                self._arrived.set()
                job = True
        if job and self.run_out_after_job:
            self.paper_out = True
        return bytes(replies), pending

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        pending = b""
        while data := await reader.read(65536):
            reply, pending = self.feed(pending, data)
            writer.write(reply)
            await writer.drain()

    @contextlib.asynccontextmanager
    async def serial_port(self) -> AsyncIterator[str]:
        """A pseudo-terminal standing in for the printer's serial port; yields its path."""
        master, slave = os.openpty()
        loop = asyncio.get_running_loop()
        pending = b""

        def readable() -> None:
            nonlocal pending
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO: the other side closed; it may reopen
                return
            reply, pending = self.feed(pending, data)
            if reply:
                os.write(master, reply)

        loop.add_reader(master, readable)
        try:
            yield os.ttyname(slave)
        finally:
            loop.remove_reader(master)
            os.close(slave)
            os.close(master)
