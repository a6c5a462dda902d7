"""The station console's ID-card reader: cards read while someone is called go to verify.

`vaxflow station ... --id-reader URL` opens the reader through the hardware layer
(`serial:///dev/ttyUSB0`, `sim://?card=zhang`). While the station has called someone, each
card placed on the reader is checked against the call (`StationConsole.verify(number,
by="id_reader")`); a card already lying there when the call comes is read then. Every device
call has a deadline: an absent, silent or garbling reader never holds the console up; the
console shows what is wrong in plain words (typing or scanning the ID number still works),
the marshal is told through the device report, and the reader is reopened by itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from vaxflow.hardware.errors import DeviceProtocolError, DeviceTimeout, HardwareError
from vaxflow.hardware.urls import open_device
from vaxflow.queue.client.site import ServerRefused, ServerUnreachable
from vaxflow.queue.client.station_console import StationConsole
from vaxflow.queue.client.words import words

log = logging.getLogger(__name__)

#: What staff read when the reader is not working (message ids of the consoles' catalogue,
#: `vaxflow/queue/client/locale`); the way around it is in the same words.
WORDS = {
    "unplugged": "reader.unplugged",
    "no_answer": "reader.no_answer",
    "unreadable": "reader.unreadable",
    "faulty": "reader.faulty",
}


def warning_text(key: str, language: str) -> str:
    """The reader's trouble `key` in words, in the console's language."""
    return words(WORDS[key], language)


@dataclass(frozen=True)
class ReaderOptions:
    device_timeout: float = 3.0
    """Deadline of opening, closing or asking the health of the reader."""
    read_poll: float = 0.5
    """How long one read waits for a card; the read itself gets this plus device_timeout."""
    idle_poll: float = 0.3
    """How often to look whether someone has been called, while nobody is."""
    reconnect_delays: Sequence[float] = (0.5, 1.0, 2.0, 5.0)
    bad_reads_fault: int = 3
    """Unreadable cards in a row that make it a faulty reader rather than a card moved too soon."""


class StationIdReader:
    """Runs the reader beside a station console; `run()` until cancelled."""

    def __init__(
        self,
        console: StationConsole,
        url: str,
        *,
        device: Any | None = None,
        options: ReaderOptions | None = None,
    ) -> None:
        self.console = console
        self.url = url
        self.device = device if device is not None else open_device("idcard", url)
        self.options = options or ReaderOptions()
        self.device_id = f"station-{console.view.station_id}-idcard"
        self.reads = 0
        self.enabled = True
        """Off while nobody is signed in at the console: cards are then left on the reader."""
        self._reported: str | None = None

    def _warn(self, key: str | None) -> None:
        said = warning_text(key, self.console.view.language) if key else ""
        if self.console.view.device_warning != said:
            self.console.view.device_warning = said
            self.console.changed()

    async def run(self) -> None:
        failures, bad_reads, opened = 0, 0, False
        opt = self.options
        try:
            while True:
                try:
                    if not opened:
                        await self._open(failures)
                        opened, failures = True, 0
                        self._warn(None)
                        await self._report("ok", "", "reader open")
                    view = self.console.view
                    if not self.enabled or not view.called or view.busy:
                        await asyncio.sleep(opt.idle_poll)
                        continue
                    async with asyncio.timeout(opt.read_poll + opt.device_timeout):
                        card = await self.device.read_card(opt.read_poll)
                    if bad_reads:
                        self._warn(None)
                        if bad_reads >= opt.bad_reads_fault:
                            await self._report("ok", "", "reads cleanly again")
                    bad_reads = 0
                    if card is not None:
                        self.reads += 1
                        await self.console.verify(card.id_number, by="id_reader")
                except DeviceProtocolError as err:  # a garbled frame: a card moved too soon?
                    log.warning("ID-card reader: %s", err)
                    bad_reads += 1
                    faulty = bad_reads >= opt.bad_reads_fault
                    self._warn("faulty" if faulty else "unreadable")
                    if bad_reads == opt.bad_reads_fault:
                        await self._report("fault", "protocol_error", str(err))
                    await asyncio.sleep(opt.read_poll)
                except (DeviceTimeout, TimeoutError) as err:
                    failures, opened = failures + 1, False
                    self._warn("no_answer")
                    await self._report("unknown", "no_answer", str(err) or "no answer in time")
                except (HardwareError, OSError) as err:
                    failures, opened = failures + 1, False
                    self._warn("unplugged")
                    await self._report("offline", "unplugged", str(err))
        finally:
            with contextlib.suppress(HardwareError, OSError, TimeoutError):
                async with asyncio.timeout(self.options.device_timeout):
                    await self.device.close()

    async def _open(self, attempt: int) -> None:
        delays = self.options.reconnect_delays
        if attempt:
            await asyncio.sleep(delays[min(attempt - 1, len(delays) - 1)])
            with contextlib.suppress(HardwareError, OSError, TimeoutError):
                async with asyncio.timeout(self.options.device_timeout):
                    await self.device.close()
        async with asyncio.timeout(self.options.device_timeout):
            await self.device.open()

    async def _report(self, state: str, reason: str, detail: str) -> None:
        """Tell the marshal when the reader's state changes (never blocks the reader)."""
        if self._reported == state:
            return
        client = self.console.client
        try:
            async with asyncio.timeout(self.options.device_timeout):
                await client.report_device(
                    self.device_id, "idcard", self.url, state, reason, detail[:300]
                )
        except (ServerRefused, ServerUnreachable, TimeoutError) as err:
            log.warning("device report not sent: %s", err)
            return
        self._reported = state
