"""The marshal sees the people carried over at the schedule's day turn (issue 18).

A real `vaxflow server` on a rehearsal clock (20x, from 03:58 site time) so the 04:00 turn
comes a few seconds in; headless Chromium at 1280x800; screenshots in
/tmp/vaxflow-marshal-carry.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.queue.people import walk_in_body
from tests.web.browser import CHROMIUM, chromium
from tests.web.site_server import DEMO_CONFIG, Server, running_server
from vaxflow.config import load_settings

pytest.importorskip("playwright.sync_api")

pytestmark = pytest.mark.slow

SCREENSHOTS = Path("/tmp/vaxflow-marshal-carry")
REHEARSAL = ("--speed", "20", "--start", "2026-11-21T03:58:00+08:00")

if CHROMIUM is None:
    pytest.skip("chromium is not installed (./dev installs it)", allow_module_level=True)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with running_server(tmp_path_factory.mktemp("marshal-carry"), extra=REHEARSAL) as running:
        yield running


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    with chromium(tmp_path_factory.mktemp("chromium-profile"), 1280, 800) as context:
        yield context


def wait_for_day(server: Server, day: str, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while server.call("marshal", "GET", "/api/stats")["site_day"] != day:
        assert time.monotonic() < deadline, f"the site day never became {day}"
        time.sleep(0.2)


def test_the_dashboard_shows_who_is_carried_over(server: Server, browser: Any) -> None:
    settings = load_settings(DEMO_CONFIG)
    before = [
        server.call("kiosk", "POST", "/api/checkins", walk_in_body(settings, i)) for i in (1, 2)
    ]
    assert {t["site_day"] for t in before} == {"2026-11-20"}, "the turn came before the test"
    wait_for_day(server, "2026-11-21")
    after = server.call("kiosk", "POST", "/api/checkins", walk_in_body(settings, 3))
    assert (after["site_day"], after["ticket"]) == ("2026-11-21", "W001")
    stats = server.call("marshal", "GET", "/api/stats")
    assert (stats["carried_over"], stats["waiting"]) == (2, 3)

    SCREENSHOTS.mkdir(exist_ok=True)
    for lang, words in (("zh-CN", "2 人来自前一接种日"), ("en", "2 people of the day before")):
        page = browser.new_page()
        page.add_init_script(
            "sessionStorage.setItem('vaxflow.token.marshal', 'demo-marshal-token');"
        )
        errors: list[str] = []
        page.on("pageerror", lambda err, errors=errors: errors.append(str(err)))
        page.goto(f"{server.url}/marshal?lang={lang}")
        banner = page.wait_for_selector("#carried-over", timeout=10_000)
        assert banner is not None and words in banner.inner_text()
        assert page.inner_text("[data-lane-waiting='W']") == "3"
        page.screenshot(path=str(SCREENSHOTS / f"marshal-carried-over-{lang}.png"))
        assert errors == []
        page.close()

    server.call(
        "station",
        "POST",
        "/api/stations/S01/open",
        {"product": "CORONAVAC", "lot": "LOT-2611", "vaccinator": "Nurse Li"},
    )
    called = server.call("station", "POST", "/api/stations/S01/call-next", {})["called"]
    assert called["visit_id"] == before[0]["visit_id"]  # the 20th's W001 before the 21st's
