"""A resident ID-card reader emulator on a pseudo-terminal, for driver and fault tests.

The emulator owns the master side of a pty and answers with real protocol frames built by
`vaxflow.hardware.idcard_protocol`; the driver opens the slave side through pyserial, via a
symlink (`link`) that plays /dev/ttyUSB0. `unplug()` closes the pty and removes the link;
`replug()` makes a new pty and points the link at it. Faults: `silent` (no answer),
`garbage` (bytes sent before every answer), `chunk_size` (answers split into small writes),
`corrupt` (bad checksums), `truncate` (half an answer, then nothing), `statuses` (force a
status per command) and `activated_quirk` (find fails for a card that is already selected).
"""

from __future__ import annotations

import contextlib
import os
import select
import threading
import time
import tty
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from types import TracebackType

from vaxflow.hardware.idcard_protocol import (
    Command,
    FrameDecoder,
    Response,
    Sw3,
    encode_basic_info,
    encode_response,
    parse_request,
)
from vaxflow.hardware.interfaces import IdCard

#: The security module id the emulator reports: 05.01-20101010-0012345678-1234567890.
SAM_ID = b"".join(
    n.to_bytes(size, "little")
    for n, size in [(5, 2), (1, 2), (20101010, 4), (12345678, 4), (1234567890, 4)]
)


def ric_check_digit(first17: str) -> str:
    """The GB 11643 check character for the first 17 digits of a resident ID number."""
    total = sum(int(c) * (2 ** (17 - i) % 11) for i, c in enumerate(first17))
    value = (12 - total % 11) % 11
    return "X" if value == 10 else str(value)


def make_card(
    name: str = "赵测试",
    *,
    sex: str = "male",
    nation: str = "汉",
    birth_date: date = date(1985, 5, 17),
    valid_until: date | None = date(2030, 1, 2),
    photo: bytes = bytes(range(256)) * 4,
) -> IdCard:
    """A test card with a valid ID number (area 440106, Tianhe: born 1985 or later)."""
    sequence = "013" if sex == "male" else "024"
    first17 = f"440106{birth_date:%Y%m%d}{sequence}"
    return IdCard(
        name=name,
        sex=sex,
        nation=nation,
        birth_date=birth_date,
        address="广东省广州市天河区体育西路1号",
        id_number=first17 + ric_check_digit(first17),
        issuer="广州市公安局天河分局",
        valid_from=date(2020, 1, 2),
        valid_until=valid_until,
        photo=photo,
    )


class IdCardEmulator:
    """A reader on a pty that answers find/select/read/SAM-id like the real thing."""

    def __init__(self, directory: Path, card: IdCard | None = None) -> None:
        self.link = directory / "ttyIDCARD"
        self.url = f"serial://{self.link}?baudrate=115200"
        self.requests: list[int] = []
        self.silent = False
        self.garbage = b""
        self.chunk_size: int | None = None
        self.corrupt = 0  # corrupt the checksum of this many next answers
        self.truncate = 0  # send only half of this many next answers
        self.statuses: dict[int, int] = {}
        self.activated_quirk = False
        self._card = card
        self._activated = False
        self._lock = threading.Condition()
        self._fds: tuple[int, int] | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self.replug()

    # --- test controls ----------------------------------------------------------------------

    def present(self, card: IdCard) -> None:
        with self._lock:
            self._card, self._activated = card, False

    def remove(self) -> None:
        with self._lock:
            self._card, self._activated = None, False

    def count(self, command: Command) -> int:
        with self._lock:
            return self.requests.count(command)

    def wait_for(self, command: Command, times: int, timeout: float = 5.0) -> None:
        """Block until the reader has received `command` `times` times (run it in a thread)."""
        with self._lock:
            if not self._lock.wait_for(lambda: self.requests.count(command) >= times, timeout):
                raise TimeoutError(f"{command.name} was not sent {times} times")

    @property
    def plugged(self) -> bool:
        return self._fds is not None

    def replug(self) -> None:
        """A new pty; the link now names its slave (replugging a USB reader)."""
        if self.plugged:
            raise RuntimeError("already plugged")
        master, slave = os.openpty()
        tty.setraw(slave)
        self._fds = (master, slave)
        tmp = self.link.with_name(self.link.name + ".new")
        tmp.unlink(missing_ok=True)
        tmp.symlink_to(os.ttyname(slave))
        tmp.replace(self.link)
        self._activated = False
        self._stop.clear()
        self._thread = threading.Thread(target=self._serve, args=(master,), daemon=True)
        self._thread.start()

    def unplug(self) -> None:
        """Close the pty (the driver's reads fail with EIO) and remove the device node."""
        if self._fds is None:
            return
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        for fd in self._fds:
            os.close(fd)
        self._fds = None
        self.link.unlink(missing_ok=True)

    def close(self) -> None:
        self.unplug()

    def __enter__(self) -> IdCardEmulator:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # --- the reader -------------------------------------------------------------------------

    def _serve(self, master: int) -> None:
        decoder = FrameDecoder()
        while not self._stop.is_set():
            ready, _, _ = select.select([master], [], [], 0.02)
            if not ready:
                continue
            try:
                data = os.read(master, 4096)
            except OSError:  # slave side gone; wait for the stop flag
                time.sleep(0.02)
                continue
            for body in decoder.feed(data):
                request = parse_request(body)
                with self._lock:
                    self.requests.append(request.command)
                    self._lock.notify_all()
                    answer = self._answer(request.command)
                    frame = None if answer is None or self.silent else self._shape(answer)
                if frame is not None:
                    self._send(master, frame)

    def _answer(self, command: int) -> Response | None:
        if command in self.statuses:
            return Response(self.statuses[command])
        card = self._card
        if command == Command.FIND_CARD:
            found = card is not None and not (self.activated_quirk and self._activated)
            return Response(Sw3.FIND_OK, bytes(4)) if found else Response(Sw3.FIND_FAILED)
        if command == Command.SELECT_CARD:
            if card is None:
                return Response(Sw3.SELECT_FAILED)
            self._activated = True
            return Response(Sw3.OK, bytes(8))
        if command == Command.READ_BASIC_INFO:
            if card is None or not self._activated:
                return Response(Sw3.READ_FAILED)
            return Response(Sw3.OK, encode_basic_info(card))
        if command == Command.READ_SAM_ID:
            return Response(Sw3.OK, SAM_ID)
        if command == Command.RESET:
            self._activated = False
            return Response(Sw3.OK)
        return Response(Sw3.UNKNOWN_COMMAND)

    def _shape(self, answer: Response) -> bytes:
        frame = encode_response(answer)
        if self.corrupt:
            self.corrupt -= 1
            frame = frame[:-1] + bytes([frame[-1] ^ 0x5A])
        if self.truncate:
            self.truncate -= 1
            frame = frame[: len(frame) // 2]
        return self.garbage + frame

    def _send(self, master: int, frame: bytes) -> None:
        size = self.chunk_size or len(frame)
        for piece in _pieces(frame, size):
            with contextlib.suppress(OSError):  # unplugged half-way: the rest is lost
                while piece:
                    piece = piece[os.write(master, piece) :]
            if self.chunk_size:
                time.sleep(0.001)  # let the driver see the frame arrive in parts


def _pieces(data: bytes, size: int) -> Iterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]
