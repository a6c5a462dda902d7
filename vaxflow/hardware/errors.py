"""The hardware exception tree: library errors are translated into these once, at the boundary."""

from __future__ import annotations


class HardwareError(OSError):
    """A device could not do what was asked."""


class DeviceUnavailable(HardwareError):
    """The device is missing, unplugged or refused the connection."""


class DeviceTimeout(HardwareError):
    """The device did not answer within its deadline."""


class DeviceProtocolError(HardwareError):
    """The device answered with bytes that do not make sense (garbled frame, bad checksum)."""


class PrinterNotReady(HardwareError):
    """The printer is reachable but cannot print now (paper out, cover open)."""

    def __init__(self, message: str, *, reason: str) -> None:
        super().__init__(message)
        self.reason = reason
