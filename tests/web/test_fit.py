"""The boards fit any screen, in real headless Chromium against a real `vaxflow server`: at
1920×1080, 3840×2160, a 1280×800 tablet and a 1080p TV at 3× zoom (640×360 CSS pixels) no
row is cut and nothing leaves the viewport; text at 4K is about twice its 1080p size; the
countdown says it is a countdown; the legend and the clock stay on screen."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.web.browser import CHROMIUM, chromium
from tests.web.site_server import DEMO_CONFIG, Server, running_server

pytest.importorskip("playwright.sync_api")

pytestmark = pytest.mark.slow

if CHROMIUM is None:
    pytest.skip("chromium is not installed (./dev installs it)", allow_module_level=True)

#: (name, CSS width, CSS height): a 3× zoom on a 1080p TV lays out as 640×360 CSS pixels.
SIZES = [("1080p", 1920, 1080), ("4k", 3840, 2160), ("tablet", 1280, 800), ("zoom3", 640, 360)]
#: Stations that serve the walk-ins' product, in two zones.
STATIONS = ["S01", "S03", "S09", "S10"]
#: Doses given before the boards are looked at: more than a 1080p page of tiles.
DOSES = 32

#: Every visible element of the board, with its box, and the whole-row check: a tile or call
#: row lies wholly inside its clipping container.
MEASURE = """
() => {
  const W = innerWidth, H = innerHeight, out = [];
  const inside = (r) =>
    r.left >= -0.5 && r.top >= -0.5 && r.right <= W + 0.5 && r.bottom <= H + 0.5;
  for (const node of document.querySelectorAll("#app *")) {
    const r = node.getBoundingClientRect();
    if (r.width === 0 || r.height === 0) continue;
    if (!inside(r)) out.push(`outside: ${node.tagName}.${node.className} ${JSON.stringify(r)}`);
  }
  for (const row of document.querySelectorAll(".tile, .call")) {
    const box = row.parentElement.getBoundingClientRect();
    const r = row.getBoundingClientRect();
    if (r.bottom > box.bottom + 0.5 || r.right > box.right + 0.5)
      out.push(`cut: ${row.className} ${row.dataset.ticket}`);
  }
  return out;
}
"""


def _open_stations(server: Server) -> None:
    for station in STATIONS:
        server.call(
            "station",
            "POST",
            f"/api/stations/{station}/open",
            {"product": "CORONAVAC", "lot": "LOT-1", "vaccinator": "Nurse Li"},
        )


def _serve(server: Server, first: int, count: int, *, dose: bool = True) -> None:
    """`count` walk-ins checked in, called at the four stations in turn and dosed (or only
    called)."""
    from tests.queue.people import walk_in_body
    from vaxflow.config import load_settings

    settings = load_settings(DEMO_CONFIG)
    for n in range(first, first + count):
        server.call("kiosk", "POST", "/api/checkins", walk_in_body(settings, 500 + n))
        base = f"/api/stations/{STATIONS[n % len(STATIONS)]}"
        visit = server.call("station", "POST", f"{base}/call-next", {})["called"]
        if not dose:
            continue
        server.call("station", "POST", f"{base}/start-service", {"code": visit["ticket"]})
        server.call("station", "POST", f"{base}/record-dose", {"visit_id": visit["visit_id"]})


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with running_server(tmp_path_factory.mktemp("fit")) as running:
        _open_stations(running)
        _serve(running, 0, DOSES)
        yield running


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    with chromium(tmp_path_factory.mktemp("chromium-profile"), 1920, 1080) as context:
        context.add_init_script("localStorage.setItem('vaxflow.token.board', 'demo-board-token');")
        yield context


def _look(browser: Any, url: str, width: int, height: int, ready: str) -> Any:
    page = browser.new_page()
    page.set_viewport_size({"width": width, "height": height})
    page.goto(url)
    page.wait_for_selector("#feed.live", timeout=10_000)
    page.wait_for_selector(ready, timeout=5_000)
    page.wait_for_timeout(300)  # the next redraw after the feed went live
    return page


def _font_px(page: Any, selector: str) -> float:
    script = f"parseFloat(getComputedStyle(document.querySelector('{selector}')).fontSize)"
    return float(page.evaluate(script))


def test_observation_board_fits_whole_tiles_at_every_size(server: Server, browser: Any) -> None:
    sizes: dict[str, float] = {}
    for name, width, height in SIZES:
        page = _look(browser, server.url + "/board/observation?lang=zh-CN", width, height, ".tile")
        assert page.evaluate(MEASURE) == [], name
        tiles = page.locator(".tile").count()
        assert 1 <= tiles < DOSES, (name, tiles)  # a page of whole tiles, the rest paged
        assert page.is_visible("#legend") and page.is_visible("#clock"), name
        assert "剩余" in page.inner_text(".tile .time"), name
        sizes[name] = _font_px(page, ".tile .time b")
        page.close()
    assert sizes["4k"] >= 1.8 * sizes["1080p"], sizes


def test_call_board_fits_whole_rows_at_every_size(server: Server, browser: Any) -> None:
    page = _look(browser, server.url + "/board/calls?lang=en", 1920, 1080, "#top")
    _serve(server, DOSES, 20)  # live: up to 8 calls a zone, more than fit at 3× zoom
    _serve(server, DOSES + 20, len(STATIONS), dose=False)  # and people being called now
    page.wait_for_selector(".call >> nth=9", timeout=5_000)
    sizes: dict[str, float] = {}
    for name, width, height in SIZES:
        page.set_viewport_size({"width": width, "height": height})
        page.wait_for_timeout(1_200)  # the board redraws every second
        assert page.evaluate(MEASURE) == [], name
        assert page.is_visible("#clock"), name
        assert page.locator(".call").count() >= 2, name
        assert page.inner_text("#top").startswith(page.inner_text("#latest-ticket")), name
        sizes[name] = _font_px(page, "#latest-ticket")
    assert sizes["4k"] >= 1.8 * sizes["1080p"], sizes
    page.close()


def test_countdown_is_labelled_in_each_language(server: Server, browser: Any) -> None:
    for lang, word in [("zh-TW", "剩餘"), ("en", "left")]:
        page = _look(browser, f"{server.url}/board/observation?lang={lang}", 1920, 1080, ".tile")
        assert word in page.inner_text(".tile .time"), lang
        assert page.evaluate("document.documentElement.lang") == lang
        page.close()


def test_call_board_names_stations_and_zones_in_the_page_language(
    server: Server, browser: Any
) -> None:
    """The demo site file names stations and zones per language: zh-TW is Traditional only."""
    page = _look(browser, server.url + "/board/calls?lang=zh-TW", 1920, 1080, "#latest-ticket")
    top = page.inner_text("#top")
    assert "號接種台" in top and "館" in top and "请" not in top, top
    headings = page.locator(".zone h2").all_inner_texts()
    assert "A 館" in headings, headings
    board = page.inner_text("#app")
    for simplified in "号观离开馆请余":
        assert simplified not in board, simplified
    page.close()
