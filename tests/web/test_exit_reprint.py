"""The exit page and the marshal dashboard list certificates the exit printer failed to print.

A real `vaxflow server` whose exit printer is a TCP printer emulator (run on its own thread)
that is offline, then back; the pages in headless Chromium. Observation is 0 minutes in this
site file so the person may leave at once.
"""

from __future__ import annotations

import asyncio
import os
import re
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.hardware.printer_emulator import PrinterEmulator
from tests.web.browser import chromium
from tests.web.site_server import DEMO_CONFIG, Server, running_server
from tests.web.test_pages import _dose, _open, _page
from vaxflow.queue.core.privacy import mask_name

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]

#: Where the pages' screenshots go for people to look at (default: the test's tmp folder).
SHOT_DIR = os.environ.get("VAXFLOW_SHOT_DIR")


class ThreadedPrinter:
    """A PrinterEmulator serving on its own event loop thread; its flags are set from tests."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.stop = asyncio.Event()
        self.emulator: PrinterEmulator | None = None
        self.thread = threading.Thread(target=self.loop.run_until_complete, args=(self._run(),))

    async def _run(self) -> None:
        async with PrinterEmulator() as emulator:
            self.emulator = emulator
            self.stop = asyncio.Event()
            self.ready.set()
            await self.stop.wait()

    def __enter__(self) -> PrinterEmulator:
        self.thread.start()
        assert self.ready.wait(10)
        assert self.emulator is not None
        return self.emulator

    def __exit__(self, *_exc: object) -> None:
        self.loop.call_soon_threadsafe(self.stop.set)
        self.thread.join(10)
        self.loop.close()


@pytest.fixture(scope="module")
def printer() -> Iterator[PrinterEmulator]:
    with ThreadedPrinter() as emulator:
        yield emulator


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, printer: PrinterEmulator) -> Iterator[Server]:
    where = tmp_path_factory.mktemp("exit")
    text = DEMO_CONFIG.read_text(encoding="utf-8")
    text = re.sub(r"observation_minutes = \d+", "observation_minutes = 0", text)
    text = text.replace("[observation]\n", f'[observation]\nexit_printer = "{printer.url()}"\n')
    config = where / "site.toml"
    config.write_text(text, encoding="utf-8")
    with running_server(where, config) as running:
        yield running


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    with chromium(tmp_path_factory.mktemp("chromium-profile"), 1280, 900) as context:
        yield context


def test_a_failed_certificate_is_listed_and_reprinted_from_the_exit_page(
    server: Server, browser: Any, printer: PrinterEmulator, tmp_path: Path
) -> None:
    shots = Path(SHOT_DIR) if SHOT_DIR else tmp_path
    _open(server, "S01")
    printer.offline = True
    dosed = _dose(server, "S01")
    ticket = dosed["ticket"]
    exit_page = _page(browser, server.url + "/exit", role="observer", persistent=False)
    exit_page.wait_for_selector("#feed.live", timeout=10_000)
    exit_page.fill("#code", ticket)
    exit_page.press("#code", "Enter")
    verdict = exit_page.wait_for_selector("#verdict")
    assert verdict.get_attribute("data-verdict") == "leave"
    row = exit_page.wait_for_selector(f'.reprint[data-ticket="{ticket}"]', timeout=5_000)
    assert "离线" in row.inner_text()  # the page's language (zh-CN)
    exit_page.wait_for_selector("#print-chip.offline")  # no longer "printing"
    marshal = _page(browser, server.url + "/marshal", role="marshal", persistent=False)
    marshal.wait_for_selector(f'.reprint[data-ticket="{ticket}"]', timeout=10_000)
    exit_page.screenshot(path=str(shots / "exit-reprint.png"), full_page=True)
    marshal.locator(f'.reprint[data-ticket="{ticket}"]').screenshot(
        path=str(shots / "marshal-reprint.png")
    )

    exit_page.click(f'.reprint[data-ticket="{ticket}"] button')  # still offline
    exit_page.wait_for_selector("#reprint-note.bad", timeout=15_000)
    assert exit_page.locator(f'.reprint[data-ticket="{ticket}"]').count() == 1

    printer.offline = False
    exit_page.click(f'.reprint[data-ticket="{ticket}"] button')
    exit_page.wait_for_selector("#reprint-note.ok", timeout=15_000)
    exit_page.wait_for_selector("#no-reprints")
    slip = bytes(printer.received)
    assert "Vaccination record".encode("gb18030") in slip
    name = server.call("observer", "GET", f"/api/tickets/{ticket}")["name"]
    assert name == mask_name(name) or "*" in name
    assert name.encode("gb18030") in slip  # the masked Chinese name, as the printer reads it
    marshal.wait_for_selector(f'.reprint[data-ticket="{ticket}"]', state="detached", timeout=15_000)
    exit_page.close()
    marshal.close()
