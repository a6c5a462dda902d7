"""Certificates the exit printer fails to print are kept in a reprint list until reprinted.

The exit printer is a TCP socket (tests/hardware/printer_emulator.py) that goes offline,
runs out of paper or is switched off; the real app factory and store do the rest.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.hardware.printer_emulator import PrinterEmulator
from vaxflow.clock import FrozenClock
from vaxflow.config import Settings
from vaxflow.hardware.certificate_print import print_outcome
from vaxflow.queue.core.privacy import mask_name
from vaxflow.queue.ops import certificates
from vaxflow.queue.ops.certificates import FAILED, PRINTED, QUEUED, PrintRecord, to_reprint
from vaxflow.queue.server.app import create_app
from vaxflow.queue.server.board_handlers import PRINT_TASKS

from .conftest import AiohttpClient, Site
from .people import walk_in_body

T0 = datetime(2026, 11, 21, 9, 0, tzinfo=UTC)


def test_the_list_is_each_visits_latest_outcome() -> None:
    events = [
        PrintRecord(1, QUEUED, T0),
        PrintRecord(1, FAILED, T0, "paper_out"),
        PrintRecord(2, QUEUED, T0),
        PrintRecord(2, PRINTED, T0),
        PrintRecord(3, QUEUED, T0),
        PrintRecord(3, FAILED, T0, "offline"),
        PrintRecord(3, PRINTED, T0 + timedelta(minutes=2)),  # reprinted
        PrintRecord(4, QUEUED, T0 + timedelta(seconds=1)),  # no outcome: the server stopped
    ]
    assert [(r.visit_id, r.reason) for r in to_reprint(events, T0 + timedelta(seconds=5))] == [
        (1, "paper_out")
    ]
    late = T0 + certificates.LOST_AFTER + timedelta(seconds=2)
    assert [r.visit_id for r in to_reprint(events, late)] == [1, 4]


@pytest.fixture
async def printer() -> AsyncIterator[PrinterEmulator]:
    async with PrinterEmulator() as emulator:
        yield emulator


async def _exit_site(
    aiohttp_client: AiohttpClient,
    settings: Settings,
    clock: FrozenClock,
    db: Path,
    printer_url: str,
) -> Site:
    observation = settings.observation.model_copy(update={"exit_printer": printer_url})
    printing = settings.model_copy(update={"observation": observation})
    app = create_app(printing, db=str(db), clock=clock, certificate_printer=print_outcome)
    return Site(await aiohttp_client(app), clock, printing)


async def _observed(site: Site, n: int) -> dict[str, Any]:
    """Someone vaccinated at S01 and observed for their 30 minutes."""
    walk_in: dict[str, Any] = await site.post(
        "kiosk", "/api/checkins", walk_in_body(site.settings, n)
    )
    await site.post("station", "/api/stations/S01/call-next")
    await site.post("station", "/api/stations/S01/start-service", {"code": walk_in["ticket"]})
    await site.post("station", "/api/stations/S01/record-dose", {"visit_id": walk_in["visit_id"]})
    site.clock.advance(minutes=30)
    return walk_in


async def _released(site: Site, n: int) -> dict[str, object]:
    """Someone vaccinated at S01, observed for 30 minutes and scanned at the exit."""
    walk_in = await _observed(site, n)
    scan = await site.post("observer", "/api/exit/scan", {"code": walk_in["ticket"]})
    assert (scan["may_leave"], scan["print"]) == (True, "queued")
    await asyncio.gather(*site.app[PRINT_TASKS])
    return walk_in


async def test_a_failed_certificate_waits_in_the_list_until_reprinted(
    aiohttp_client: AiohttpClient,
    settings: Settings,
    clock: FrozenClock,
    tmp_path: Path,
    printer: PrinterEmulator,
) -> None:
    site = await _exit_site(aiohttp_client, settings, clock, tmp_path / "x.sqlite", printer.url())
    await site.open("S01")
    printer.offline = True
    person = await _released(site, 1)
    listed = await site.get("observer", "/api/exit/reprints")
    assert listed["printer_configured"] is True
    (entry,) = listed["certificates"]
    assert (entry["ticket"], entry["reason"]) == (person["ticket"], "offline")
    assert "*" in entry["certificate"]["id_number"]  # masked on the list too
    dash = await site.get("marshal", "/api/dashboard")
    assert [r["ticket"] for r in dash["alerts"]["reprints"]] == [person["ticket"]]
    assert b"Vaccination record" not in printer.received
    missing = await site.post("observer", "/api/exit/9999/reprint-certificate", expect=404)
    assert missing["error"]["reason"] == "no_certificate"

    still = await site.post(
        "observer", f"/api/exit/{person['visit_id']}/reprint-certificate", expect=503
    )
    assert still["error"]["reason"] == "certificate_print_failed"
    assert still["error"]["details"]["printer_reason"] == "offline"
    assert set(still["error"]["messages"]) == {"zh-CN", "zh-TW", "en"}
    assert len((await site.get("observer", "/api/exit/reprints"))["certificates"]) == 1

    printer.offline = False
    done = await site.post("marshal", f"/api/exit/{person['visit_id']}/reprint-certificate")
    assert (done["printed"], done["already_printed"]) == (True, False)
    assert (await site.get("observer", "/api/exit/reprints"))["certificates"] == []
    dash = await site.get("marshal", "/api/dashboard")
    assert dash["alerts"]["reprints"] == []
    slip = bytes(printer.received)
    assert "Vaccination record".encode("gb18030") in slip
    assert mask_name("王芳1").encode("gb18030") in slip  # the Chinese name, GB18030-encoded
    assert b"LOT-2611" in slip
    again = await site.post("observer", f"/api/exit/{person['visit_id']}/reprint-certificate")
    assert again["already_printed"] is True
    assert bytes(printer.received) == slip  # a retry makes no second slip


async def test_a_printer_switched_off_loses_nothing_across_a_restart(
    aiohttp_client: AiohttpClient,
    settings: Settings,
    clock: FrozenClock,
    tmp_path: Path,
) -> None:
    async with PrinterEmulator() as switched_off:
        url = switched_off.url()  # closed when the block ends: connections are refused
    db = tmp_path / "y.sqlite"
    site = await _exit_site(aiohttp_client, settings, clock, db, url)
    await site.open("S01")
    first = await _released(site, 2)
    second = await _released(site, 3)
    await site.client.close()  # the server stops

    async with PrinterEmulator() as printer:
        back = await _exit_site(aiohttp_client, settings, clock, db, printer.url())
        listed = (await back.get("observer", "/api/exit/reprints"))["certificates"]
        assert [(c["ticket"], c["reason"]) for c in listed] == [
            (first["ticket"], "offline"),
            (second["ticket"], "offline"),
        ]
        for person in (first, second):
            await back.post("observer", f"/api/exit/{person['visit_id']}/reprint-certificate")
        assert (await back.get("observer", "/api/exit/reprints"))["certificates"] == []
        assert bytes(printer.received).count("Vaccination record".encode("gb18030")) == 2


async def test_reprint_needs_a_dose_and_a_printer(site: Site) -> None:
    no_printer = await site.post("observer", "/api/exit/1/reprint-certificate", expect=409)
    assert no_printer["error"]["reason"] == "exit_printer_not_configured"
    listed = await site.get("observer", "/api/exit/reprints")
    assert (listed["printer_configured"], listed["certificates"]) == (False, [])
    assert isinstance(listed["seq"], int)  # where the exit page follows the feed from


async def test_one_slip_per_person_however_often_the_exit_is_scanned(
    aiohttp_client: AiohttpClient,
    settings: Settings,
    clock: FrozenClock,
    tmp_path: Path,
    printer: PrinterEmulator,
) -> None:
    site = await _exit_site(aiohttp_client, settings, clock, tmp_path / "o.sqlite", printer.url())
    await site.open("S01")
    person = await _released(site, 1)
    slip = "Vaccination record".encode("gb18030")
    assert printer.received.count(slip) == 1
    scan = {"code": person["ticket"]}
    again = await site.post("observer", "/api/exit/scan", scan)  # scanned twice at the exit
    retried = await site.post("observer", "/api/exit/scan", scan, key="exit-1")
    replay = await site.post("observer", "/api/exit/scan", scan, key="exit-1")  # a lost answer
    for answer in (again, retried, replay):
        assert answer["may_leave"] is True and answer["certificate"] is not None
        assert "print" not in answer
    # Released by the observer first: the exit still prints their one slip.
    other = await _observed(site, 2)
    await site.post("observer", f"/api/observation/{other['visit_id']}/release")
    first = await site.post("observer", "/api/exit/scan", {"code": other["ticket"]})
    assert first["print"] == "queued"
    await asyncio.gather(*site.app[PRINT_TASKS])
    assert printer.received.count(slip) == 2
    assert (await site.get("observer", "/api/exit/reprints"))["certificates"] == []
