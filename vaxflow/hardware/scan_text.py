"""What scanners deliver, made into clean text: line framing, terminators, control characters.

Pure functions and a small framer, shared by the serial, HID, camera and simulated scanners,
so every source hands the kiosk the same kind of string (or the same error).
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

from vaxflow.hardware.errors import DeviceProtocolError

#: URL `terminator=` values and the bytes that end a scan on the wire.
TERMINATORS: dict[str, bytes] = {"cr": b"\r", "lf": b"\n", "crlf": b"\r\n"}

#: A QR code holds at most 7,089 digits; anything longer is a runaway stream, not a scan.
MAX_SCAN_CHARS = 7089

#: What a scanner may leave around a payload: terminators (a CRLF scanner configured as CR
#: leaves the LF at the start of the next line) and the NUL padding some firmwares send.
_EDGE = "\r\n\x00"


class InvalidScan(DeviceProtocolError):
    """A code was read but its content is not usable text; `reason` is a short code."""

    def __init__(self, message: str, *, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


def terminator_bytes(name: str) -> bytes:
    """The bytes for a `terminator=` URL value (cr, lf, crlf; case-insensitive)."""
    try:
        return TERMINATORS[name.lower()]
    except KeyError:
        raise ValueError(
            f"unknown terminator {name!r}; use one of: {', '.join(TERMINATORS)}"
        ) from None


def normalize_scan(raw: bytes | str) -> str:
    """The scan as text: UTF-8 decoded, terminators stripped, control characters refused.

    Raises InvalidScan with reason "not_utf8", "empty", "control_character" or "too_long".
    Controls inside the payload (tabs, newlines, GS separators) are refused: booking and ticket
    codes are single-line text, and a control character usually means a garbled line.
    """
    if isinstance(raw, bytes):
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as err:
            raise InvalidScan(
                f"scan is not valid UTF-8 (byte {err.start}: {raw[err.start : err.start + 1]!r})",
                reason="not_utf8",
            ) from err
    else:
        text = raw
    text = text.removeprefix("\ufeff").strip(_EDGE)
    if not text:
        raise InvalidScan("scan is empty", reason="empty")
    if len(text) > MAX_SCAN_CHARS:
        raise InvalidScan(f"scan is {len(text)} characters long", reason="too_long")
    for i, ch in enumerate(text):
        if unicodedata.category(ch) in ("Cc", "Cs"):
            raise InvalidScan(
                f"scan holds control character U+{ord(ch):04X} at position {i}",
                reason="control_character",
            )
    return text


@dataclass(frozen=True)
class Overflow:
    """Bytes that ran past the longest allowed line without a terminator; they were dropped."""

    dropped: int


class LineFramer:
    """Cut a byte stream into lines at a terminator, across arbitrary chunk boundaries."""

    def __init__(self, terminator: bytes, max_line: int = 4 * MAX_SCAN_CHARS) -> None:
        if not terminator:
            raise ValueError("terminator must not be empty")
        self.terminator = terminator
        self.max_line = max_line
        self._buffer = bytearray()
        self._overflowing = 0

    def feed(self, chunk: bytes) -> list[bytes | Overflow]:
        """Lines completed by this chunk (without the terminator), in order."""
        self._buffer += chunk
        out: list[bytes | Overflow] = []
        while True:
            end = self._buffer.find(self.terminator)
            if end < 0:
                break
            line = bytes(self._buffer[:end])
            del self._buffer[: end + len(self.terminator)]
            if self._overflowing or len(line) > self.max_line:
                out.append(Overflow(self._overflowing + len(line)))
                self._overflowing = 0
            else:
                out.append(line)
        # Keep a possible partial terminator at the end; drop the rest of a runaway line.
        keep = len(self.terminator) - 1
        if len(self._buffer) > self.max_line:
            cut = len(self._buffer) - keep
            self._overflowing += cut
            del self._buffer[:cut]
        return out

    def reset(self) -> None:
        """Forget a partial line (after a reconnect the rest of it will never come)."""
        self._buffer.clear()
        self._overflowing = 0

    @property
    def pending(self) -> int:
        """Bytes waiting for a terminator."""
        return len(self._buffer) + self._overflowing
