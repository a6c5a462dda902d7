"""The outbox's workers run as long as the server (a `cleanup_ctx`, after the store's).

One worker per configured target (FHIR, HL7 v2, booking write-off), and a sweep that writes
off the bookings whose window ended with nobody checked in. Cancelled and awaited on
shutdown; a kill between a send and its write only means the row is sent again (same ids).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from aiohttp import web

from vaxflow.queue.core.outbox import Target
from vaxflow.queue.ops import outbox_rows
from vaxflow.queue.server.appkeys import CLOCK, HTTP, SETTINGS, STORE, UPLINK_WORKERS
from vaxflow.queue.uplink.booking_writeoff import WriteOffSender
from vaxflow.queue.uplink.fhir import FhirSender
from vaxflow.queue.uplink.hl7 import Hl7Sender
from vaxflow.queue.uplink.worker import Worker

log = logging.getLogger(__name__)

#: How often bookings past their window are looked for, in seconds.
NO_SHOW_SWEEP_SECONDS = 60.0


async def uplink_lifetime(app: web.Application) -> AsyncIterator[None]:
    """Start the workers of the configured targets; stop them (and close links) at the end."""
    settings, store, clock, http = app[SETTINGS], app[STORE], app[CLOCK], app[HTTP]
    rules = settings.uplink
    workers: list[Worker] = []
    hl7_sender: Hl7Sender | None = None
    if rules.fhir is not None:
        send = FhirSender(http, rules.fhir, store, settings)
        workers.append(
            Worker(
                store,
                settings,
                Target.FHIR,
                send,
                clock,
                deadline_seconds=rules.fhir.timeout_seconds,
            )
        )
    if rules.hl7 is not None:
        hl7_sender = Hl7Sender(rules.hl7, store, settings, clock)
        workers.append(
            Worker(
                store,
                settings,
                Target.HL7,
                hl7_sender,
                clock,
                deadline_seconds=rules.hl7.timeout_seconds,
            )
        )
    if outbox_rows.writes_off(settings):
        assert settings.booking.service_url is not None
        writeoff = WriteOffSender(http, settings.booking.service_url, settings.site.id)
        workers.append(
            Worker(
                store,
                settings,
                Target.BOOKING,
                writeoff,
                clock,
                deadline_seconds=settings.booking.service_timeout_seconds,
            )
        )
    app[UPLINK_WORKERS] = tuple(workers)
    tasks = [asyncio.create_task(w.run(), name=f"uplink-{w.target}") for w in workers]
    if outbox_rows.writes_off(settings):
        tasks.append(asyncio.create_task(_sweep_no_shows(app), name="uplink-no-shows"))
    if workers:
        log.info("uplink: sending to %s", ", ".join(w.target for w in workers))
    yield
    for task in tasks:
        task.cancel()
    for task in tasks:
        with contextlib.suppress(asyncio.CancelledError):
            await task
    if hl7_sender is not None:
        await hl7_sender.close()


async def _sweep_no_shows(app: web.Application) -> None:
    settings, store = app[SETTINGS], app[STORE]
    while True:
        try:
            found = await store.write(
                lambda tx: outbox_rows.sweep_no_shows(tx, settings), actor="uplink"
            )
            if found:
                log.info("uplink: %d booking(s) written off as not come", found)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("uplink: the no-show sweep failed; trying again later")
        await asyncio.sleep(NO_SHOW_SWEEP_SECONDS)
