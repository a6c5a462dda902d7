"""The web station page in real headless Chromium against a real `vaxflow server`: today's lots
offered when opening, a scanned/typed ticket or ID number verified against the call (big green
Match with the summary, big red MISMATCH with whose scan it was)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.queue.people import walk_in_body
from tests.web.browser import chromium
from tests.web.site_server import DEMO_CONFIG, Server, running_server
from vaxflow.config import load_settings

pytestmark = pytest.mark.slow

SCREENSHOTS = Path("/tmp/vaxflow-station-verify")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with running_server(tmp_path_factory.mktemp("station-verify")) as running:
        yield running


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    with chromium(tmp_path_factory.mktemp("chromium-profile"), 1400, 1000) as context:
        yield context


def _walk_in(server: Server, n: int) -> dict[str, Any]:
    body = walk_in_body(load_settings(DEMO_CONFIG), n)
    answer: dict[str, Any] = server.call("kiosk", "POST", "/api/checkins", body)
    return {**answer, "id_number": body["walk_in"]["id_number"]}  # type: ignore[index]


def test_station_page_offers_lots_and_verifies_with_match_and_mismatch(
    server: Server, browser: Any
) -> None:
    SCREENSHOTS.mkdir(exist_ok=True)
    # S02 is open with LOT-W1 and has given one dose today; S01 opens on the page.
    server.call(
        "station",
        "POST",
        "/api/stations/S02/open",
        {"product": "CORONAVAC", "lot": "LOT-W1", "vaccinator": "Nurse Wu"},
    )
    _walk_in(server, 801)
    called = server.call("station", "POST", "/api/stations/S02/call-next", {})["called"]
    server.call("station", "POST", "/api/stations/S02/verify", {"code": called["ticket"]})
    server.call(
        "station", "POST", "/api/stations/S02/record-dose", {"visit_id": called["visit_id"]}
    )

    page = browser.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda err: errors.append(str(err)))
    page.add_init_script(
        "sessionStorage.setItem('vaxflow.token.station', 'demo-station-token');"
        "sessionStorage.setItem('vaxflow.vaccinator', 'Nurse Li');"
    )
    page.goto(server.url + "/station/S01?lang=en")
    choice = page.wait_for_selector("#lots .lot-choice")
    assert choice.inner_text() == "LOT-W1 · 1 doses · S02"
    page.screenshot(path=str(SCREENSHOTS / "station-lots.png"))
    page.select_option("select[name=product]", "BBIBP")
    page.wait_for_selector("#lots:has-text('No lot of this product in use today')")
    page.select_option("select[name=product]", "CORONAVAC")
    page.click("#lots .lot-choice")  # one tap
    assert page.input_value("input[name=lot]") == "LOT-W1"
    page.click("#open-station")
    page.wait_for_selector("#station-state[data-state=open]")
    stations = server.call("station", "GET", "/api/stations")
    assert next(s for s in stations if s["station_id"] == "S01")["lot"] == "LOT-W1"

    first, second = _walk_in(server, 802), _walk_in(server, 803)
    page.click("#call-next")
    assert page.wait_for_selector("#called .bigticket").inner_text() == first["ticket"]
    page.fill("#scan", second["ticket"])  # the wrong person came up
    page.click("#verify")
    verdict = page.wait_for_selector("#verdict.bad")
    text = verdict.inner_text()
    assert "MISMATCH" in text and second["ticket"] in text and first["ticket"] in text
    assert "*" in text and second["id_number"] not in text  # whose scan: masked
    assert page.query_selector("#person") is None
    page.screenshot(path=str(SCREENSHOTS / "station-mismatch.png"))
    assert server.call("station", "GET", f"/api/tickets/{first['ticket']}")["state"] == "called"

    page.fill("#scan", first["id_number"])  # the called person's ID number, typed
    page.click("#verify")
    page.wait_for_selector("#verdict.ok:has-text('Match')")
    assert "ID card" in page.inner_text("#verdict")
    assert "*" in page.inner_text("#id-number")
    page.click("#reveal")
    assert page.inner_text("#id-number").split()[0] == first["id_number"]  # this console only
    answers = page.inner_text("#answers")
    question = load_settings(DEMO_CONFIG).questions[0]
    assert question.text["en"] in answers and question.text["zh-CN"] not in answers
    assert "— no" in answers
    assert "Walk-in" in page.inner_text("#flags")  # the page's language (en)
    assert page.inner_text("#history") == "—"  # a first dose: no earlier doses, said so
    page.screenshot(path=str(SCREENSHOTS / "station-match.png"), full_page=True)
    assert server.call("station", "GET", f"/api/tickets/{first['ticket']}")["state"] == (
        "in_service"
    )
    page.click("#record-dose")
    page.wait_for_selector("#message:has-text('observation until')")
    assert page.query_selector("#verdict") is None
    assert errors == []
    page.close()
