"""Print jobs as states: a failed print is kept with its reason for a reprint, never lost."""

from __future__ import annotations

import asyncio
import itertools
import logging
from dataclasses import dataclass, replace
from enum import StrEnum

from vaxflow.hardware.errors import (
    DeviceProtocolError,
    DeviceTimeout,
    HardwareError,
    PrinterNotReady,
)
from vaxflow.hardware.interfaces import TicketPrinter

logger = logging.getLogger(__name__)


class JobState(StrEnum):
    QUEUED = "queued"
    PRINTED = "printed"
    FAILED = "failed"


#: States in which a job still needs paper.
PENDING_STATES = frozenset({JobState.QUEUED, JobState.FAILED})


@dataclass(frozen=True)
class PrintJob:
    """One rendered ticket or certificate and what happened to it."""

    id: str
    data: bytes
    label: str = ""  # e.g. the ticket number, for staff screens and logs
    state: JobState = JobState.QUEUED
    reason: str = ""  # after a failure: paper_out, cover_open, offline, timeout, unavailable, ...
    attempts: int = 0


def failure_reason(err: HardwareError) -> str:
    """A reason code for a failed print."""
    if isinstance(err, PrinterNotReady):
        return err.reason
    if isinstance(err, DeviceTimeout):
        return "timeout"
    if isinstance(err, DeviceProtocolError):
        return "garbled"
    return "unavailable"


class PrintQueue:
    """Prints jobs one at a time on one printer and keeps the ones that failed."""

    def __init__(self, printer: TicketPrinter, *, timeout: float = 5.0, keep_printed: int = 50):
        self.printer = printer
        self.timeout = timeout
        self.keep_printed = keep_printed
        self._jobs: dict[str, PrintJob] = {}
        self._ids = itertools.count(1)
        self._lock = asyncio.Lock()

    async def submit(self, data: bytes, label: str = "") -> PrintJob:
        """Print a new job now; the returned job is printed or failed, it never raises."""
        job = PrintJob(id=f"job-{next(self._ids):06d}", data=data, label=label)
        self._jobs[job.id] = job
        return await self._attempt(job.id)

    async def reprint(self, job_id: str) -> PrintJob:
        """Print a kept job again (a failed one, or a printed one the person lost)."""
        if job_id not in self._jobs:
            raise KeyError(f"no print job {job_id!r}")
        return await self._attempt(job_id)

    async def retry_failed(self) -> list[PrintJob]:
        """Reprint every failed job, oldest first (after staff fixed the printer)."""
        return [await self._attempt(job.id) for job in self.failed()]

    def failed(self) -> list[PrintJob]:
        return [job for job in self._jobs.values() if job.state is JobState.FAILED]

    def get(self, job_id: str) -> PrintJob:
        return self._jobs[job_id]

    def discard(self, job_id: str) -> None:
        """Forget a job (staff handed the person a hand-written ticket)."""
        self._jobs.pop(job_id, None)

    async def _attempt(self, job_id: str) -> PrintJob:
        async with self._lock:
            job = replace(self._jobs[job_id], attempts=self._jobs[job_id].attempts + 1)
            try:
                await self.printer.print_bytes(job.data, timeout=self.timeout)
            except HardwareError as err:
                job = replace(job, state=JobState.FAILED, reason=failure_reason(err))
                logger.warning("print job %s (%s) failed: %s", job.id, job.label, err)
            else:
                job = replace(job, state=JobState.PRINTED, reason="")
            self._jobs[job_id] = job
            self._trim()
            return job

    def _trim(self) -> None:
        printed = [j.id for j in self._jobs.values() if j.state is JobState.PRINTED]
        for job_id in printed[: max(0, len(printed) - self.keep_printed)]:
            del self._jobs[job_id]
