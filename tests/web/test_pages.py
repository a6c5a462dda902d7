"""The web pages in real headless Chromium against a real `vaxflow server` process (loopback).

Debian's chromium is driven by the playwright package (no `playwright install`: the browser
is /usr/bin/chromium from scripts/debian-packages.txt). Sync API, so no event loop is shared
with pytest-asyncio.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tests.web.browser import CHROMIUM, chromium
from tests.web.site_server import DEMO_CONFIG, Server, _vaxflow, running_server

playwright_api = pytest.importorskip("playwright.sync_api")

pytestmark = pytest.mark.slow

#: Replaces the page's Date with one that runs SKEW milliseconds ahead of the real clock.
SKEWED_DATE = """
(() => {
  const Real = Date;
  const skew = SKEW;
  function Skewed(...a) {
    if (!new.target) return new Real(Real.now() + skew).toString();
    return a.length ? new Real(...a) : new Real(Real.now() + skew);
  }
  Skewed.now = () => Real.now() + skew;
  Skewed.parse = Real.parse;
  Skewed.UTC = Real.UTC;
  Skewed.prototype = Real.prototype;
  globalThis.Date = Skewed;
})();
"""
#: How far the browser's own clock is set wrong in the observation-board test.
CLOCK_SKEW_MINUTES = 7

if CHROMIUM is None:
    pytest.skip("chromium is not installed (./dev installs it)", allow_module_level=True)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with running_server(tmp_path_factory.mktemp("web")) as running:
        yield running


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    with chromium(tmp_path_factory.mktemp("chromium-profile"), 1600, 900) as context:
        yield context


_people = iter(range(1, 10_000))


def _walk_in(server: Server) -> dict[str, Any]:
    """A walk-in checked in through the API, with a fresh valid ID number."""
    from tests.queue.people import walk_in_body
    from vaxflow.config import load_settings

    settings = load_settings(DEMO_CONFIG)
    return server.call("kiosk", "POST", "/api/checkins", walk_in_body(settings, next(_people)))  # type: ignore[no-any-return]


def _dose(server: Server, station: str) -> dict[str, Any]:
    """Check someone in, then call, scan and vaccinate the next person at `station`."""
    _walk_in(server)
    called = server.call("station", "POST", f"/api/stations/{station}/call-next", {})["called"]
    server.call(
        "station", "POST", f"/api/stations/{station}/start-service", {"code": called["ticket"]}
    )
    return server.call(  # type: ignore[no-any-return]
        "station", "POST", f"/api/stations/{station}/record-dose", {"visit_id": called["visit_id"]}
    )


def _open(server: Server, station: str) -> None:
    server.call(
        "station",
        "POST",
        f"/api/stations/{station}/open",
        {"product": "CORONAVAC", "lot": "LOT-1", "vaccinator": "Nurse Li"},
    )


def _page(browser: Any, url: str, *, role: str, persistent: bool, skew_ms: int = 0) -> Any:
    page = browser.new_page()
    storage = "localStorage" if persistent else "sessionStorage"
    page.add_init_script(
        f"{storage}.setItem('vaxflow.token.{role}', 'demo-{role}-token');"
        "sessionStorage.setItem('vaxflow.vaccinator', 'Nurse Li');"
    )
    if skew_ms:  # the display's own clock is wrong by skew_ms
        page.add_init_script(SKEWED_DATE.replace("SKEW", str(skew_ms)))
    errors: list[str] = []
    page.on("pageerror", lambda err: errors.append(str(err)))
    page.goto(url)
    _ERRORS[page] = errors
    return page


_ERRORS: dict[Any, list[str]] = {}


def _wait_live(page: Any) -> None:
    page.wait_for_selector("#feed.live", timeout=10_000)


def _server_now_ms(server: Server) -> float:
    return float(server.call("board", "GET", "/api/time")["epoch_ms"])


def test_observation_board_counts_down_from_server_time_live_and_across_a_restart(
    server: Server, browser: Any
) -> None:
    _open(server, "S01")
    skew = CLOCK_SKEW_MINUTES * 60_000
    page = _page(
        browser, server.url + "/board/observation", role="board", persistent=True, skew_ms=skew
    )
    _wait_live(page)
    assert page.evaluate("Date.now()") - time.time() * 1000 > skew - 5_000  # the clock is wrong

    dosed = _dose(server, "S01")
    tile = page.wait_for_selector(f'.tile[data-ticket="{dosed["ticket"]}"]', timeout=2_000)
    ends_ms = datetime.fromisoformat(dosed["ends_at"]).timestamp() * 1000
    expected = (ends_ms - _server_now_ms(server)) / 1000
    shown = int(tile.get_attribute("data-remaining"))
    assert abs(shown - expected) <= 2, (shown, expected)  # not off by the 7 minutes
    assert tile.get_attribute("data-state") == "observing"
    # The clock in the corner is site time (Asia/Shanghai), not the browser's own zone.
    zone = ZoneInfo(server.call("board", "GET", "/api/time")["timezone"])
    at = _server_now_ms(server) / 1000
    site_minutes = {datetime.fromtimestamp(at + d, zone).strftime("%H:%M") for d in (-60, 0, 60)}
    assert page.inner_text("#clock") in site_minutes, page.inner_text("#clock")

    server.call(
        "observer",
        "POST",
        f"/api/observation/{dosed['visit_id']}/flag",
        {"kind": "rash", "severity": "mild"},
    )
    page.wait_for_selector(
        f'.tile[data-ticket="{dosed["ticket"]}"][data-state="flagged"]', timeout=2_000
    )

    server.stop()
    page.wait_for_selector("#feed.offline", timeout=10_000)
    server.start()
    after = _dose(server, "S01")
    page.wait_for_selector(f'.tile[data-ticket="{after["ticket"]}"]', timeout=15_000)
    assert page.locator(f'.tile[data-ticket="{dosed["ticket"]}"]').count() == 1
    server.call("observer", "POST", f"/api/observation/{dosed['visit_id']}/left-early", {})
    page.wait_for_selector(
        f'.tile[data-ticket="{dosed["ticket"]}"]', state="detached", timeout=2_000
    )
    assert _ERRORS.pop(page) == []
    page.close()


def test_call_board_shows_a_new_call_within_a_second(server: Server, browser: Any) -> None:
    _open(server, "S02")
    page = _page(browser, server.url + "/board/calls", role="board", persistent=True)
    _wait_live(page)
    ticket = _walk_in(server)
    started = time.monotonic()
    called = server.call("station", "POST", "/api/stations/S02/call-next", {})["called"]
    assert called["ticket"] == ticket["ticket"]
    page.wait_for_selector(f'.call[data-ticket="{ticket["ticket"]}"]', timeout=1_000)
    assert time.monotonic() - started < 1.0
    assert page.inner_text("#latest-ticket") == ticket["ticket"]
    server.call("station", "POST", "/api/stations/S02/recall", {})
    page.wait_for_selector(f'.call.repeat[data-ticket="{ticket["ticket"]}"]', timeout=1_000)
    assert _ERRORS.pop(page) == []
    server.call("station", "POST", "/api/stations/S02/skip", {})
    page.close()


def test_marshal_dashboard_numbers_match_the_stats(server: Server, browser: Any) -> None:
    page = _page(browser, server.url + "/marshal", role="marshal", persistent=False)
    page.wait_for_selector('[data-stat="waiting"]', timeout=10_000)
    _walk_in(server)
    time.sleep(1.5)  # the dashboard reloads within a second of an event
    page.wait_for_timeout(500)
    stats = server.call("marshal", "GET", "/api/stats")
    shown = {
        key: int(page.inner_text(f'[data-stat="{key}"]'))
        for key in [
            "waiting",
            "called",
            "in_service",
            "observing",
            "released",
            "checked_in",
            "stations_open",
        ]
    }
    assert shown == {key: stats[key] for key in shown}
    for lane in stats["lanes"]:
        assert int(page.inner_text(f'[data-lane-waiting="{lane["prefix"]}"]')) == lane["waiting"]
    assert _ERRORS.pop(page) == []
    page.close()


def test_marshal_sees_a_database_that_cannot_save_at_the_top(server: Server, browser: Any) -> None:
    """The outage itself is made real in tests/faults/test_disk_full.py (a full tmpfs); here
    the server's answer is given that outage, to see what the marshal is shown of it."""
    page = browser.new_page()
    page.add_init_script("sessionStorage.setItem('vaxflow.token.marshal', 'demo-marshal-token');")
    outage = {"since": "2026-11-21T03:50:00+00:00", "disk_full": True, "refused": 158}

    def with_outage(route: Any) -> None:
        answer = route.fetch()
        data = answer.json()
        data["alerts"]["storage"] = outage
        route.fulfill(response=answer, body=json.dumps(data))

    page.route("**/api/dashboard", with_outage)
    page.goto(server.url + "/marshal")
    banner = page.wait_for_selector("#storage-alert", timeout=10_000)
    assert banner is not None
    text = banner.inner_text()
    assert "磁盘已满" in text and "158" in text and "disk" not in text  # the page's language only
    page.unroute("**/api/dashboard")
    _walk_in(server)  # the next reload has no outage: the banner goes
    page.wait_for_selector("#storage-alert", state="detached", timeout=10_000)
    page.close()


def test_marshal_sees_a_clock_step_and_the_wal(server: Server, browser: Any) -> None:
    """Issue 18: a wall-clock step (made real in tests/faults/test_clock_steps.py) is shown
    as a banner and an alert; the header shows the WAL against its ceiling."""
    page = browser.new_page()
    page.add_init_script("sessionStorage.setItem('vaxflow.token.marshal', 'demo-marshal-token');")
    step = {
        "steady": True,
        "wall_minus_served": 2400.0,
        "steps": [{"at": "2026-11-21T03:50:00+00:00", "seconds": 2400.0}],
    }

    def with_step(route: Any) -> None:
        answer = route.fetch()
        data = answer.json()
        data["alerts"]["clock"] = step
        route.fulfill(response=answer, body=json.dumps(data))

    page.route("**/api/dashboard", with_step)
    page.goto(server.url + "/marshal")
    banner = page.wait_for_selector("#clock-alert", timeout=10_000)
    assert banner is not None
    text = banner.inner_text()
    assert "时钟" in text and "+2400 s" in text and "stepped" not in text  # one language
    wal = page.wait_for_selector("#wal", timeout=10_000)
    assert wal is not None and "日志" in wal.inner_text() and "MiB" in wal.inner_text()
    page.close()


def test_station_console_calls_verifies_and_doses(server: Server, browser: Any) -> None:
    page = browser.new_page()
    page.goto(server.url + "/station/S03?lang=en")
    page.fill("input[name=token]", "demo-board-token")
    page.fill("input[name=vaccinator]", "Nurse Wang")
    page.click("button[type=submit]")
    page.wait_for_selector(".signin .error:not(:empty)")  # a board token may not dose
    page.fill("input[name=token]", "demo-station-token")
    page.click("button[type=submit]")
    page.fill("input[name=lot]", "LOT-77")
    page.click("#open-station")
    page.wait_for_selector("#station-state[data-state=open]")
    _walk_in(server)
    page.click("#call-next")
    ticket = page.wait_for_selector("#called .bigticket").inner_text()  # the longest waiting
    page.fill("#scan", ticket)
    page.click("#verify")
    page.wait_for_selector("#person")
    masked = page.inner_text("#id-number")
    assert "*" in masked
    page.click("#reveal")
    assert "*" not in page.inner_text("#id-number").split()[0]
    page.click("#record-dose")
    page.wait_for_selector("#message:has-text('observation until')")
    assert server.call("observer", "GET", f"/api/tickets/{ticket}")["state"] == "observing"
    token_in_url = page.evaluate("location.href")
    assert "token" not in token_in_url
    page.close()


def test_exit_point_says_minutes_left(server: Server, browser: Any) -> None:
    _open(server, "S04")
    dosed = _dose(server, "S04")
    page = _page(browser, server.url + "/exit", role="observer", persistent=False)
    page.fill("#code", dosed["ticket"])
    page.press("#code", "Enter")
    verdict = page.wait_for_selector("#verdict")
    assert verdict.get_attribute("data-verdict") == "wait"
    assert verdict.get_attribute("data-minutes") == "30"
    page.close()


def test_kivy_observation_board_under_xvfb(server: Server, tmp_path: Path) -> None:
    """`vaxflow board observation` on a virtual display: live data, one screenshot."""
    xvfb_run = shutil.which("xvfb-run")
    if xvfb_run is None:
        pytest.skip("xvfb is not installed (./dev installs it)")
    from PIL import Image

    _open(server, "S10")
    _dose(server, "S10")  # someone to show
    shot = tmp_path / "board.png"
    done = subprocess.run(
        [
            xvfb_run,
            "-a",
            "-s",
            "-screen 0 1280x720x24",
            *_vaxflow(),
            "board",
            "observation",
            "--server",
            server.url,
            "--token",
            "demo-board-token",
            "--size",
            "1280x720",
            "--screenshot",
            str(shot),
            "--after",
            "4",
        ],
        capture_output=True,
        timeout=90,
        check=False,
    )
    assert done.returncode == 0, done.stderr.decode(errors="replace")[-2000:]
    with Image.open(shot) as image:
        assert image.size == (1280, 720)
        colours = image.convert("RGB").getcolors(maxcolors=1 << 20) or []
    assert len(colours) > 50  # tiles and text were drawn, not an empty window
    assert b"screenshot" in done.stdout
