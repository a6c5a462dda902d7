"""The observer console in real headless Chromium against a real `vaxflow server`: nothing is
preset (a bare tap on Flag records nothing), a reaction needs a kind, a severity and a
confirmation in the page's language; a severe reaction looks unlike a mild one on the console
and the board; rows are not re-rendered under the finger; Transferred stands apart."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from tests.web.browser import CHROMIUM, chromium
from tests.web.site_server import DEMO_CONFIG, Server, running_server

pytest.importorskip("playwright.sync_api")

pytestmark = pytest.mark.slow

if CHROMIUM is None:
    pytest.skip("chromium is not installed (./dev installs it)", allow_module_level=True)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with running_server(tmp_path_factory.mktemp("observer")) as running:
        yield running


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    with chromium(tmp_path_factory.mktemp("chromium-profile"), 1280, 800) as context:
        yield context


def _dosed(server: Server, count: int, first: int = 900) -> list[dict[str, Any]]:
    from tests.queue.people import walk_in_body
    from vaxflow.config import load_settings

    settings = load_settings(DEMO_CONFIG)
    server.call(
        "station",
        "POST",
        "/api/stations/S01/open",
        {"product": "CORONAVAC", "lot": "LOT-1", "vaccinator": "Nurse Li"},
    )
    dosed = []
    for n in range(count):
        server.call("kiosk", "POST", "/api/checkins", walk_in_body(settings, first + n))
        visit = server.call("station", "POST", "/api/stations/S01/call-next", {})["called"]
        base = "/api/stations/S01"
        server.call("station", "POST", f"{base}/start-service", {"code": visit["ticket"]})
        dosed.append(
            server.call("station", "POST", f"{base}/record-dose", {"visit_id": visit["visit_id"]})
        )
    return dosed


def _reactions(server: Server) -> list[Any]:
    alerts = server.call("marshal", "GET", "/api/dashboard")["alerts"]["adverse"]
    return [(a["ticket"], a["kind"], a["severity"]) for a in alerts]


def test_flagging_needs_a_chosen_kind_severity_and_confirmation(
    server: Server, browser: Any
) -> None:
    first, second = _dosed(server, 2)
    page = browser.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda err: errors.append(str(err)))
    page.add_init_script("sessionStorage.setItem('vaxflow.token.observer', 'demo-observer-token')")
    page.goto(server.url + "/observer?lang=zh-CN")
    skip = page.wait_for_selector("#staff-skip, #rows tr")
    if skip.get_attribute("id") == "staff-skip":
        skip.click()
    row = f'#rows tr[data-ticket="{first["ticket"]}"]'
    page.wait_for_selector(row)
    flag = page.locator(f"{row} button[name=flag]")
    assert flag.is_disabled()  # nothing preset: a bare tap cannot record a reaction
    flag.click(force=True)
    page.wait_for_timeout(300)
    assert _reactions(server) == []

    # Rows keep their elements across clock ticks: a select being used is not replaced.
    page.evaluate(f"window.kept = document.querySelector('{row} select[name=kind]')")
    page.select_option(f"{row} select[name=kind]", "anaphylaxis")
    page.wait_for_timeout(1_500)  # at least one tick of the clock
    assert page.evaluate(f"window.kept === document.querySelector('{row} select[name=kind]')")
    assert flag.is_disabled()  # a kind alone is not enough
    page.select_option(f"{row} select[name=severity]", "severe")
    assert not flag.is_disabled()
    flag.click()
    confirming = page.wait_for_selector(f"{row} .confirming").inner_text()
    assert "过敏性休克" in confirming and "重度" in confirming, confirming
    assert _reactions(server) == []  # not yet
    page.click(f"{row} button[name=confirm-flag]")
    page.wait_for_selector("#msg .banner.ok:has-text('已报告')")
    assert _reactions(server) == [(first["ticket"], "anaphylaxis", "severe")]
    severe = page.wait_for_selector(f"{row}.flagged.sev-severe")

    page.select_option(f'#rows tr[data-ticket="{second["ticket"]}"] select[name=kind]', "rash")
    page.select_option(f'#rows tr[data-ticket="{second["ticket"]}"] select[name=severity]', "mild")
    page.click(f'#rows tr[data-ticket="{second["ticket"]}"] button[name=flag]')
    page.click(f'#rows tr[data-ticket="{second["ticket"]}"] button[name=confirm-flag]')
    mild = page.wait_for_selector(f'#rows tr[data-ticket="{second["ticket"]}"].flagged.sev-mild')
    colour = "(e) => getComputedStyle(e).backgroundColor"
    assert severe.evaluate(colour) != mild.evaluate(colour)

    # Transferred is apart from Resolved (at the row's other end) and asks first.
    resolved = page.locator(f"{row} button[name=resolved]").bounding_box()
    transferred = page.locator(f"{row} button[name=transferred]").bounding_box()
    assert transferred["x"] - (resolved["x"] + resolved["width"]) > 40
    page.once("dialog", lambda dialog: dialog.dismiss())
    page.click(f"{row} button[name=transferred]")
    page.wait_for_timeout(300)
    assert len(_reactions(server)) == 2  # dismissed: nothing recorded

    # The board shows the severity too, differently.
    board = browser.new_page()
    board.add_init_script("localStorage.setItem('vaxflow.token.board', 'demo-board-token')")
    board.goto(server.url + "/board/observation?lang=zh-CN")
    tile = board.wait_for_selector(f'.tile[data-ticket="{first["ticket"]}"][data-severity=severe]')
    assert "重度" in tile.inner_text()
    board.wait_for_selector(f'.tile[data-ticket="{second["ticket"]}"][data-severity=mild]')
    board.close()
    assert errors == []
    page.close()


def test_marshal_shows_waits_in_minutes_and_reactions_with_time_and_station(
    server: Server, browser: Any
) -> None:
    """After the test above: two reactions open, no device has reported."""
    page = browser.new_page()
    page.add_init_script("sessionStorage.setItem('vaxflow.token.marshal', 'demo-marshal-token')")
    page.goto(server.url + "/marshal?lang=en")
    skip = page.wait_for_selector("#staff-skip, [data-stat=waiting]")
    if skip.get_attribute("id") == "staff-skip":
        skip.click()
    assert "target under 30 min" in page.inner_text("main.marshal")  # the site file's default
    assert page.inner_text("[data-estimate=A]").endswith(" min")
    severe = page.wait_for_selector(".alerts li.sev-severe").inner_text()
    assert re.match(r"\d\d:\d\d ⚠ ", severe) and "station S01" in severe, severe
    assert "*" in severe  # the person, masked
    assert "No device has reported yet" in page.inner_text("main.marshal")
    page.close()


@pytest.mark.parametrize(
    ("lang", "words", "foreign"),
    [
        ("zh-CN", "未找到此号码", "There is"),
        ("zh-TW", "未找到此號碼", "号码"),
        ("en", "", "未找到"),
    ],
)
def test_exit_shows_the_servers_words_in_the_page_language(
    server: Server, browser: Any, lang: str, words: str, foreign: str
) -> None:
    """An unknown ticket: the exit shows the server's message in the page's language only."""
    page = browser.new_page()
    page.add_init_script("sessionStorage.setItem('vaxflow.token.observer', 'demo-observer-token')")
    page.goto(f"{server.url}/exit?lang={lang}")
    skip = page.wait_for_selector("#staff-skip, #code")
    if skip.get_attribute("id") == "staff-skip":
        skip.click()
    page.fill("#code", "Z999")
    page.press("#code", "Enter")
    text = page.wait_for_selector("[data-verdict=error]").inner_text()
    assert words in text and foreign not in text and text.strip(), text
    page.close()


def test_a_flag_is_undone_within_a_minute_by_the_device_that_made_it(
    server: Server, browser: Any
) -> None:
    """Undo shows a countdown in the page's language and takes the reaction back; a flag made
    on another device cannot be undone here, and the refusal is in the page's language."""
    mine, theirs = _dosed(server, 2, first=950)
    page = browser.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda err: errors.append(str(err)))
    page.add_init_script("sessionStorage.setItem('vaxflow.token.observer', 'demo-observer-token')")
    page.goto(server.url + "/observer?lang=zh-TW")
    skip = page.wait_for_selector("#staff-skip, #rows tr")
    if skip.get_attribute("id") == "staff-skip":
        skip.click()
    row = f'#rows tr[data-ticket="{mine["ticket"]}"]'
    page.wait_for_selector(row)
    page.select_option(f"{row} select[name=kind]", "rash")
    page.select_option(f"{row} select[name=severity]", "mild")
    page.click(f"{row} button[name=flag]")
    page.click(f"{row} button[name=confirm-flag]")
    undo = page.wait_for_selector(f"{row} button[name=undo]")
    first = undo.inner_text()
    assert re.fullmatch(r"撤銷（(5\d|60) 秒）", first), first
    page.wait_for_timeout(2_200)  # two ticks of the clock: it counts down in place
    assert page.inner_text(f"{row} button[name=undo]") != first
    assert (mine["ticket"], "rash", "mild") in _reactions(server)
    undo.click()
    page.wait_for_selector("#msg .banner.ok:has-text('已撤銷')")
    page.wait_for_selector(f"{row}:not(.flagged) select[name=kind]")
    assert mine["ticket"] not in [ticket for ticket, _, _ in _reactions(server)]

    # flagged on another device (the test's own call): no Undo here, and if asked, refused
    server.call(
        "observer",
        "POST",
        f"/api/observation/{theirs['visit_id']}/flag",
        {"kind": "dizziness", "severity": "moderate"},
    )
    other = f'#rows tr[data-ticket="{theirs["ticket"]}"]'
    page.wait_for_selector(f"{other}.flagged")
    assert page.locator(f"{other} button[name=undo]").count() == 0
    page.evaluate(f"window.vaxflowObserver.undos.set({theirs['visit_id']}, Date.now() + 30000)")
    page.click(f"{other} button[name=undo]")
    refused = page.wait_for_selector("#msg .banner.bad").inner_text()
    assert "另一台裝置" in refused and "another" not in refused, refused
    assert (theirs["ticket"], "dizziness", "moderate") in _reactions(server)
    assert errors == []
    page.close()
