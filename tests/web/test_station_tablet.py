"""The station console on a 1280×800 tablet (and 800×1280 upright), in real headless Chromium
against a real `vaxflow server`: a station opens without the optional vaccinator name; after
Match the serving panel with *Record dose* is on screen without scrolling; a console that
does not know whom its station holds says whose ticket to scan."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.web.browser import CHROMIUM, chromium
from tests.web.site_server import DEMO_CONFIG, Server, running_server

pytest.importorskip("playwright.sync_api")

pytestmark = pytest.mark.slow

if CHROMIUM is None:
    pytest.skip("chromium is not installed (./dev installs it)", allow_module_level=True)

SCREENS = Path("/tmp/vaxflow-station-tablet")

#: The element's box lies wholly inside the viewport (no scrolling needed to reach it).
IN_VIEW = """
(selector) => {
  const r = document.querySelector(selector).getBoundingClientRect();
  return r.top >= 0 && r.left >= 0 && r.bottom <= innerHeight && r.right <= innerWidth;
}
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with running_server(tmp_path_factory.mktemp("tablet")) as running:
        yield running


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    with chromium(tmp_path_factory.mktemp("chromium-profile"), 1280, 800) as context:
        yield context


def _walk_in(server: Server, n: int) -> dict[str, Any]:
    from tests.queue.people import walk_in_body
    from vaxflow.config import load_settings

    body = walk_in_body(load_settings(DEMO_CONFIG), 700 + n)
    return server.call("kiosk", "POST", "/api/checkins", body)  # type: ignore[no-any-return]


@pytest.mark.parametrize(("station", "width", "height"), [("S03", 1280, 800), ("S04", 800, 1280)])
def test_record_dose_is_above_the_fold_after_match(
    server: Server, browser: Any, station: str, width: int, height: int
) -> None:
    page = browser.new_page()
    page.set_viewport_size({"width": width, "height": height})
    errors: list[str] = []
    page.on("pageerror", lambda err: errors.append(str(err)))
    page.goto(f"{server.url}/station/{station}?lang=zh-CN")
    page.fill("input[name=token]", "demo-station-token")  # no vaccinator name: it is optional
    page.click("button[type=submit]")
    skip = page.wait_for_selector("#staff-skip, input[name=lot]")
    if skip.get_attribute("id") == "staff-skip":
        skip.click()
    page.fill("input[name=lot]", "LOT-77")
    page.click("#open-station")
    # No name and nobody signed in: the server's words (not "invalid_body") and the sign-in.
    assert "invalid" not in page.wait_for_selector("#message.bad").inner_text()
    page.fill("#staff-signin input[name=staff_id]", "N0001")
    page.fill("#staff-signin input[name=pin]", "1234")
    page.click("#staff-submit")
    page.wait_for_selector("#staff-name")
    page.click("#open-station")
    page.wait_for_selector("#station-state[data-state=open]", timeout=5_000)
    ticket = _walk_in(server, width)["ticket"]
    page.click("#call-next")
    assert page.wait_for_selector("#called .bigticket").inner_text() == ticket
    page.fill("#scan", ticket)
    page.click("#verify")
    page.wait_for_selector("#serving")
    assert page.evaluate(IN_VIEW, "#record-dose"), "Record dose needs scrolling"
    assert page.evaluate(IN_VIEW, "#serving .bigticket")
    if width == 1280:
        SCREENS.mkdir(exist_ok=True)
        page.screenshot(path=str(SCREENS / "station-tablet-match.png"))

    # Another console of the same station (a reload lost what it knew): whose ticket to scan.
    other = browser.new_page()
    other.set_viewport_size({"width": width, "height": height})
    other.add_init_script("sessionStorage.setItem('vaxflow.token.station', 'demo-station-token')")
    other.goto(f"{server.url}/station/{station}")
    held = other.wait_for_selector("#held").inner_text()
    assert ticket in held and "*" in held, held
    other.close()

    page.click("#record-dose")
    page.wait_for_selector("#message:has-text('留观至')")
    assert errors == []
    page.close()
