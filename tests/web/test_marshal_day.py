"""The marshal closes the site day and opens the next one from the dashboard (issue 18).

Its own `vaxflow server` (closing the day would refuse the other page tests' check-ins) and
headless Chromium at 1280x800; screenshots in /tmp/vaxflow-marshal-day.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.queue.people import walk_in_body
from tests.web.browser import CHROMIUM, chromium
from tests.web.site_server import DEMO_CONFIG, Server, running_server
from vaxflow.config import load_settings

pytest.importorskip("playwright.sync_api")

pytestmark = pytest.mark.slow

SCREENSHOTS = Path("/tmp/vaxflow-marshal-day")

if CHROMIUM is None:
    pytest.skip("chromium is not installed (./dev installs it)", allow_module_level=True)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with running_server(tmp_path_factory.mktemp("marshal-day")) as running:
        yield running


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    with chromium(tmp_path_factory.mktemp("chromium-profile"), 1280, 800) as context:
        yield context


def test_the_marshal_closes_the_day_and_opens_the_next(server: Server, browser: Any) -> None:
    settings = load_settings(DEMO_CONFIG)
    page = browser.new_page()
    page.add_init_script("sessionStorage.setItem('vaxflow.token.marshal', 'demo-marshal-token');")
    errors: list[str] = []
    page.on("pageerror", lambda err: errors.append(str(err)))
    page.on("dialog", lambda dialog: dialog.accept())
    page.goto(server.url + "/marshal")
    today = server.call("marshal", "GET", "/api/stats")["site_day"]
    chip = page.wait_for_selector(f"#site-day[data-day='{today}'][data-closed=false]")
    assert chip is not None and "04:00 换日" in chip.inner_text()
    ticket = server.call("kiosk", "POST", "/api/checkins", walk_in_body(settings, 1))

    page.click("#close-day")  # the confirmation is accepted
    banner = page.wait_for_selector("#day-closed", timeout=10_000)
    assert banner is not None and "已结束签到" in banner.inner_text()
    assert "closed" not in banner.inner_text()  # the page's language only
    page.wait_for_selector(f"#site-day[data-day='{today}'][data-closed=true]")
    SCREENSHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "marshal-day-closed-zh-CN.png"))
    with pytest.raises(AssertionError, match="site_day_closed"):
        server.call("kiosk", "POST", "/api/checkins", walk_in_body(settings, 2))

    page.click("#open-day")  # someone of the closed day is still waiting: refused, in words
    refused = page.wait_for_selector(".banner.bad", timeout=10_000)
    assert refused is not None and "尚不能开启下一日" in refused.inner_text()
    server.call("marshal", "POST", f"/api/visits/{ticket['visit_id']}/cancel", {})
    page.click("#open-day")
    following = (date.fromisoformat(today) + timedelta(days=1)).isoformat()
    page.wait_for_selector(f"#site-day[data-day='{following}'][data-closed=false]")
    page.wait_for_selector("#close-day")
    assert page.query_selector("#day-closed") is None
    assert server.call("kiosk", "POST", "/api/checkins", walk_in_body(settings, 3))["site_day"] == (
        following
    )

    english = browser.new_page()
    english.add_init_script(
        "sessionStorage.setItem('vaxflow.token.marshal', 'demo-marshal-token');"
    )
    english.on("dialog", lambda dialog: dialog.accept())
    english.goto(server.url + "/marshal?lang=en")
    english.click("#close-day")
    closed = english.wait_for_selector("#day-closed", timeout=10_000)
    assert closed is not None and "turns at 04:00" in english.inner_text("#site-day")
    assert "opens at 04:00" in closed.inner_text()
    english.screenshot(path=str(SCREENSHOTS / "marshal-day-closed-en.png"))
    assert errors == []
    page.close()
    english.close()
