"""ESC/POS real-time status (DLE EOT n): pure parsing into a status, a health record and JSON.

DLE EOT is answered even while the printer is offline or its buffer is full, which is when
we most need it; GS r is only answered once the printer is online and idle, so we do not
use it. A missing reply means "unknown", never "OK".
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from vaxflow.hardware.interfaces import DeviceHealth, DeviceState

DLE_EOT = b"\x10\x04"

#: The status queries sent, in order: printer (1), offline cause (2), roll paper sensor (4).
STATUS_QUERIES: tuple[int, ...] = (1, 2, 4)

# DLE EOT 1: printer status
ST1_OFFLINE = 0x08
# DLE EOT 2: offline cause
ST2_COVER_OPEN = 0x04
ST2_PAPER_END_STOP = 0x20
ST2_ERROR = 0x40
# DLE EOT 4: roll paper sensor
ST4_NEAR_END = 0x0C
ST4_PAPER_END = 0x60


def status_query(n: int) -> bytes:
    """The bytes of DLE EOT n."""
    return DLE_EOT + bytes([n])


def is_status_byte(byte: int) -> bool:
    """Every DLE EOT reply has bit 1 and bit 4 set and bits 0 and 7 clear."""
    return byte & 0x93 == 0x12


@dataclass(frozen=True)
class PrinterStatus:
    """What the printer said about itself; `answered` False means we do not know."""

    answered: bool
    offline: bool = False
    cover_open: bool = False
    paper_out: bool = False
    paper_near_end: bool = False
    error: bool = False

    @property
    def not_ready_reason(self) -> str | None:
        """Why the printer cannot print now (most specific first), or None if it can."""
        if not self.answered:
            return None
        if self.cover_open:
            return "cover_open"
        if self.paper_out:
            return "paper_out"
        if self.error:
            return "error"
        if self.offline:
            return "offline"
        return None


UNANSWERED = PrinterStatus(answered=False)


def parse_status(replies: Mapping[int, int | None]) -> PrinterStatus:
    """Combine the replies to DLE EOT 1, 2 and 4 (None: no reply) into one status.

    Raises ValueError for a byte that is not a status reply (a garbled line).
    """
    if any(replies.get(n) is None for n in STATUS_QUERIES):
        return UNANSWERED
    bytes_ = {n: int(replies[n] or 0) for n in STATUS_QUERIES}
    for n, byte in bytes_.items():
        if not is_status_byte(byte):
            raise ValueError(f"0x{byte:02x} is not a reply to DLE EOT {n}")
    return PrinterStatus(
        answered=True,
        offline=bool(bytes_[1] & ST1_OFFLINE),
        cover_open=bool(bytes_[2] & ST2_COVER_OPEN),
        paper_out=bool(bytes_[2] & ST2_PAPER_END_STOP) or bool(bytes_[4] & ST4_PAPER_END),
        paper_near_end=bool(bytes_[4] & ST4_NEAR_END),
        error=bool(bytes_[2] & ST2_ERROR),
    )


_DETAIL = {
    "cover_open": "The printer cover is open: close it.",
    "paper_out": "The printer is out of paper: load a new roll.",
    "error": "The printer reports an error (cutter jam?): check it and power-cycle.",
    "offline": "The printer says it is offline: check the cover, paper and error light.",
    "paper_near_end": "The paper roll is nearly used up: have a new roll ready.",
    "no_status_reply": "The printer does not answer status queries; its state is unknown.",
    "unreachable": "The printer cannot be reached: check that it is switched on and its "
    "cable is in.",
    "timeout": "The printer stopped answering: check that it is switched on and not jammed.",
    "garbled": "The printer's answers make no sense: check the cable, or power-cycle it.",
}

#: The longest `detail` the server takes in a device report.
MAX_DETAIL = 300


def plain_detail(reason: str, technical: str = "") -> str:
    """Words for staff about `reason`, then the technical cause, within MAX_DETAIL."""
    words = _DETAIL.get(reason, "")
    detail = f"{words} ({technical})" if words and technical else words or technical
    return detail if len(detail) <= MAX_DETAIL else detail[: MAX_DETAIL - 1] + "…"


def status_health(kind: str, url: str, status: PrinterStatus) -> DeviceHealth:
    """The marshal's view of a printer status."""
    if not status.answered:
        return DeviceHealth(
            kind, url, DeviceState.UNKNOWN, "no_status_reply", _DETAIL["no_status_reply"]
        )
    reason = status.not_ready_reason
    if reason is not None:
        return DeviceHealth(kind, url, DeviceState.FAULT, reason, _DETAIL[reason])
    if status.paper_near_end:
        return DeviceHealth(
            kind, url, DeviceState.WARNING, "paper_near_end", _DETAIL["paper_near_end"]
        )
    return DeviceHealth(kind, url, DeviceState.OK)


def health_json(health: DeviceHealth, device_id: str) -> dict[str, str]:
    """The body of `POST /api/devices/health` for one device."""
    return {
        "device_id": device_id,
        "kind": health.kind,
        "url": health.url,
        "state": health.state.value,
        "reason": health.reason,
        "detail": plain_detail("", health.detail),
    }
