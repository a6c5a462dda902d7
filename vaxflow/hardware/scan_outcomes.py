"""What a wedge scanner's bursts became, between its decoder and `read()`: scans and fragments.

Shared by the window-text and the evdev wedge scanners: whole codes are queued for `read()`;
a fragment is logged, counted, and raised from `read()` as InvalidScan("partial_scan") so the
kiosk treats it as a bad read (never as a code), and the count shows in the device's health
("3 partial scans rejected") that the kiosk reports to the marshal.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging

from vaxflow.hardware.interfaces import DeviceHealth, DeviceState, Scan
from vaxflow.hardware.key_burst import Code, Fragment
from vaxflow.hardware.scan_text import InvalidScan, normalize_scan

log = logging.getLogger(__name__)

#: Codes not yet read are kept up to this many; older ones are dropped (stale scans).
QUEUE_LIMIT = 16


class ScanOutcomes:
    """The queue of codes and fragments for one scanner, and its tally of fragments."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.scans = 0
        self.fragments = 0
        self.last_fragment = ""  # the reason of the last one
        self._pending_fragment = False  # a fragment since the last whole scan
        self._queue: asyncio.Queue[Code | Fragment] = asyncio.Queue()

    def put(self, outcome: Code | Fragment) -> None:
        """Queue a decoded burst (on the event loop's thread)."""
        if isinstance(outcome, Fragment):
            self.fragments += 1
            self.last_fragment = outcome.reason.value
            self._pending_fragment = True
            log.warning(
                "%s: partial scan rejected (%s, %d characters); %d so far",
                self.url,
                outcome.reason.value,
                len(outcome.text),
                self.fragments,
            )
        if self._queue.qsize() >= QUEUE_LIMIT:
            dropped = self._queue.get_nowait()
            log.warning("%s: scan queue full, dropped %s", self.url, type(dropped).__name__)
        self._queue.put_nowait(outcome)

    async def get(self, timeout: float) -> Scan | None:  # noqa: ASYNC109 (the Scanner protocol)
        """The next code; None after `timeout`; InvalidScan("partial_scan") for a fragment."""
        try:
            async with asyncio.timeout(timeout):
                outcome = await self._queue.get()
        except TimeoutError:
            return None
        if isinstance(outcome, Fragment):
            raise InvalidScan(
                f"{self.url}: partial scan rejected ({outcome.reason.value}); "
                f"{self.fragments} so far",
                reason="partial_scan",
            )
        scan = Scan(normalize_scan(outcome.text), self.url)
        self.scans += 1
        # The code itself stays out of the log (a signed code holds an ID number): its length
        # and a digest tell a fragment from a whole code when staff compare with the QR.
        digest = hashlib.sha256(scan.text.encode()).hexdigest()[:12]
        log.info("%s: scan read, %d characters, sha256 %s", self.url, len(scan.text), digest)
        self._pending_fragment = False
        return scan

    def health(self, kind: str = "scanner") -> DeviceHealth:
        """WARNING while the last burst was a fragment; OK after a whole scan; else UNKNOWN."""
        detail = f"{self.fragments} partial scans rejected" if self.fragments else ""
        if self._pending_fragment:
            return DeviceHealth(
                kind,
                self.url,
                DeviceState.WARNING,
                "partial_scans",
                f"{detail} (last: {self.last_fragment})",
            )
        if self.scans == 0:
            return DeviceHealth(kind, self.url, DeviceState.UNKNOWN, "no_scan_yet", detail)
        return DeviceHealth(kind, self.url, DeviceState.OK, "", detail)
