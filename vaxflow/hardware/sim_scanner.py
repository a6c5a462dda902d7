"""A simulated scanner for the demo and flow tests, with injected faults (`sim://?codes=A,B`)."""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Iterable
from enum import StrEnum
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from vaxflow.hardware.errors import DeviceUnavailable
from vaxflow.hardware.interfaces import DeviceHealth, DeviceState, Scan
from vaxflow.hardware.scan_text import normalize_scan

log = logging.getLogger(__name__)


class SimFault(StrEnum):
    """Faults a real scanner shows, injected by URL (`fault=`) or by `inject()`."""

    UNPLUGGED = "unplugged"  # read() raises DeviceUnavailable; health OFFLINE
    GARBLED = "garbled"  # the next code arrives corrupted: read() raises InvalidScan once
    TIMEOUT = "timeout"  # the scanner hangs: read() returns None, codes stay queued


class SimScanner:
    """Scans what it is given: codes from the URL, then whatever `push()` adds.

    URL: `sim://?codes=DEMO0001,DEMO0002&fault=unplugged`; keyword options `codes=` and
    `fault=` override the query.
    """

    def __init__(
        self,
        url: str = "sim://",
        *,
        codes: Iterable[str] | None = None,
        fault: SimFault | str | None = None,
        **options: Any,
    ) -> None:
        if options:
            raise TypeError(f"unknown sim scanner options: {', '.join(sorted(options))}")
        query = dict(parse_qsl(urlsplit(url).query))
        self.url = url
        if codes is None:
            codes = [c for c in query.get("codes", "").split(",") if c]
        self._codes: deque[bytes | str] = deque(codes)
        self._fault: SimFault | None = None
        self._is_open = False
        self._wake = asyncio.Event()
        self.inject(fault if fault is not None else query.get("fault") or None)

    async def open(self) -> None:
        self._is_open = True

    async def close(self) -> None:
        self._is_open = False
        self._wake.set()

    def push(self, code: str | bytes) -> None:
        """Queue a code as the scanner would deliver it (bytes: raw, possibly invalid, line)."""
        self._codes.append(code)
        self._wake.set()

    def inject(self, fault: SimFault | str | None) -> None:
        """Start a fault (None clears it); a waiting read() notices at once."""
        self._fault = SimFault(fault) if fault is not None else None
        if self._fault is not None:
            log.info("%s: injected fault %s", self.url, self._fault)
        self._wake.set()

    @property
    def fault(self) -> SimFault | None:
        return self._fault

    async def read(self, timeout: float) -> Scan | None:  # noqa: ASYNC109 (protocol)
        try:
            async with asyncio.timeout(timeout):
                while True:
                    scan = self._next()
                    if scan is not None:
                        return scan
                    self._wake.clear()
                    await self._wake.wait()
        except TimeoutError:
            return None

    def _next(self) -> Scan | None:
        if not self._is_open:
            raise DeviceUnavailable(f"{self.url}: scanner is not open")
        if self._fault is SimFault.UNPLUGGED:
            raise DeviceUnavailable(f"{self.url}: scanner unplugged")
        if self._fault is SimFault.TIMEOUT or not self._codes:
            return None
        code = self._codes.popleft()
        if self._fault is SimFault.GARBLED:
            self._fault = None
            raw = code.encode() if isinstance(code, str) else code
            code = b"\xff\x1b" + raw[1:]  # a line noise byte and an escape: not UTF-8 text
        return Scan(normalize_scan(code), self.url)

    async def health(self) -> DeviceHealth:
        if not self._is_open:
            return DeviceHealth("scanner", self.url, DeviceState.OFFLINE, "closed")
        if self._fault is SimFault.UNPLUGGED:
            return DeviceHealth("scanner", self.url, DeviceState.OFFLINE, "unplugged")
        if self._fault is SimFault.TIMEOUT:
            return DeviceHealth("scanner", self.url, DeviceState.UNKNOWN, "timeout")
        return DeviceHealth("scanner", self.url, DeviceState.OK)
