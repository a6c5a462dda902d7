"""A simulated ticket printer: keeps each job, writes its .bin and a .png preview, injects faults.

URL: `sim://?dir=var/printer&fault=paper_near_end&width=576`; `dir` is optional (without it
jobs stay in memory), `fault` takes a comma-separated list of `SimFault` values.
"""

from __future__ import annotations

import asyncio
import logging
from enum import StrEnum
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from vaxflow.hardware.errors import DeviceTimeout, DeviceUnavailable, PrinterNotReady
from vaxflow.hardware.escpos_render import PrinterProfile, parse_escpos
from vaxflow.hardware.interfaces import DeviceHealth, DeviceState
from vaxflow.hardware.png_render import render_png
from vaxflow.hardware.printer_status import PrinterStatus, status_health

logger = logging.getLogger(__name__)

KIND = "printer"


class SimFault(StrEnum):
    """Faults the simulator can play; several may be active at once."""

    PAPER_OUT = "paper_out"
    PAPER_NEAR_END = "paper_near_end"
    COVER_OPEN = "cover_open"
    OFFLINE = "offline"  # unplugged: open and print fail with DeviceUnavailable
    TIMEOUT = "timeout"  # hangs: every call runs into its deadline


def parse_faults(text: str) -> frozenset[SimFault]:
    """`paper_out,cover_open` -> faults; an unknown name fails with the list of known ones."""
    faults: set[SimFault] = set()
    for name in filter(None, (part.strip() for part in text.split(","))):
        try:
            faults.add(SimFault(name))
        except ValueError:
            known = ", ".join(f.value for f in SimFault)
            raise ValueError(f"unknown printer fault {name!r}; use one of: {known}") from None
    return frozenset(faults)


class SimPrinter:
    """Implements `TicketPrinter` without hardware, for the demo, flow tests and the kiosk."""

    def __init__(self, url: str = "sim://", *, directory: str | Path | None = None) -> None:
        self.url = url
        query = {k: v[-1] for k, v in parse_qs(urlsplit(url).query).items()}
        where = directory if directory is not None else query.get("dir")
        self.directory = Path(where) if where else None
        self.profile = PrinterProfile.from_options(query)
        self.faults: set[SimFault] = set(parse_faults(query.get("fault", "")))
        self.jobs: list[bytes] = []
        self.is_open = False
        self._hang = asyncio.Event()  # never set: what a hung printer waits for

    def set_fault(self, fault: SimFault | str, active: bool = True) -> None:
        """Switch one fault on or off (tests, the demo's fault buttons)."""
        fault = SimFault(fault)
        if active:
            self.faults.add(fault)
        else:
            self.faults.discard(fault)

    def clear_faults(self) -> None:
        self.faults.clear()

    async def open(self) -> None:
        if SimFault.OFFLINE in self.faults:
            raise DeviceUnavailable(f"simulated printer {self.url} is unplugged")
        if self.directory is not None:
            await asyncio.to_thread(self.directory.mkdir, parents=True, exist_ok=True)
        self.is_open = True

    async def print_bytes(self, data: bytes, timeout: float) -> None:  # noqa: ASYNC109 (protocol)
        """Record the job (and its files) unless a fault says otherwise."""
        try:
            async with asyncio.timeout(timeout):
                if SimFault.TIMEOUT in self.faults:
                    await self._hang.wait()
                if not self.is_open or SimFault.OFFLINE in self.faults:
                    await self.open()
                for fault in (SimFault.COVER_OPEN, SimFault.PAPER_OUT):
                    if fault in self.faults:
                        raise PrinterNotReady(
                            f"simulated printer {self.url}: {fault.value}", reason=fault.value
                        )
                self.jobs.append(data)
                number = len(self.jobs)
                if self.directory is not None:
                    await asyncio.to_thread(self._write_files, number, data)
                logger.info("simulated printer %s: job %d, %d bytes", self.url, number, len(data))
        except TimeoutError as err:
            raise DeviceTimeout(f"simulated printer {self.url} hung for {timeout:g} s") from err

    async def health(self) -> DeviceHealth:
        if SimFault.OFFLINE in self.faults:
            return DeviceHealth(KIND, self.url, DeviceState.OFFLINE, "unplugged", "simulated")
        status = PrinterStatus(
            answered=SimFault.TIMEOUT not in self.faults,
            offline=bool(self.faults & {SimFault.PAPER_OUT, SimFault.COVER_OPEN}),
            cover_open=SimFault.COVER_OPEN in self.faults,
            paper_out=SimFault.PAPER_OUT in self.faults,
            paper_near_end=bool(self.faults & {SimFault.PAPER_NEAR_END, SimFault.PAPER_OUT}),
        )
        return status_health(KIND, self.url, status)

    async def close(self) -> None:
        self.is_open = False

    def _write_files(self, number: int, data: bytes) -> None:
        assert self.directory is not None
        stem = self.directory / f"job-{number:04d}"
        stem.with_suffix(".bin").write_bytes(data)
        # The preview is drawn from the bytes, so it shows what a printer would print.
        render_png(parse_escpos(data), self.profile.width).save(stem.with_suffix(".png"))
