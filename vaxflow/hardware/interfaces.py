"""The small async protocols every device implements, real or simulated, and what they return."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from typing import Protocol


class DeviceState(StrEnum):
    """Health of one device as the marshal sees it."""

    OK = "ok"
    WARNING = "warning"  # works, but needs attention soon (paper near end)
    FAULT = "fault"  # reachable but cannot work (paper out, cover open)
    OFFLINE = "offline"  # unplugged, unreachable
    UNKNOWN = "unknown"  # no answer to a status query: never assume OK


@dataclass(frozen=True)
class DeviceHealth:
    """One device's state, with a reason code and plain words for staff."""

    kind: str  # "scanner" | "idcard" | "printer"
    url: str
    state: DeviceState
    reason: str = ""  # e.g. "paper_out", "cover_open", "unplugged"
    detail: str = ""


@dataclass(frozen=True)
class Scan:
    """One code read by a scanner."""

    text: str
    source: str  # the device URL it came from


@dataclass(frozen=True)
class IdCard:
    """What a second-generation resident ID card (or a simulated one) holds."""

    name: str
    sex: str  # "male" | "female" | "unknown"
    nation: str
    birth_date: date
    address: str
    id_number: str
    issuer: str
    valid_from: date
    valid_until: date | None  # None: long-term (长期)
    photo: bytes = field(default=b"", repr=False)


class Scanner(Protocol):
    """A source of scanned codes: camera, serial or HID scanner, or a simulator."""

    async def open(self) -> None: ...

    async def read(self, timeout: float) -> Scan | None:  # noqa: ASYNC109
        """The next code, or None when nothing was scanned within `timeout` seconds."""
        ...

    async def health(self) -> DeviceHealth: ...

    async def close(self) -> None: ...


class IdCardReader(Protocol):
    """An ID-card reader that reports a card placed on it."""

    async def open(self) -> None: ...

    async def read_card(self, timeout: float) -> IdCard | None:  # noqa: ASYNC109
        """The card on the reader, or None when no card appeared within `timeout` seconds."""
        ...

    async def health(self) -> DeviceHealth: ...

    async def close(self) -> None: ...


class TicketPrinter(Protocol):
    """A printer that ships already-rendered ESC/POS bytes."""

    async def open(self) -> None: ...

    async def print_bytes(self, data: bytes, timeout: float) -> None:  # noqa: ASYNC109
        """Send a rendered ticket; raise PrinterNotReady/DeviceTimeout/DeviceUnavailable."""
        ...

    async def health(self) -> DeviceHealth: ...

    async def close(self) -> None: ...
