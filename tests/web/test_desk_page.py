"""The desk page in headless Chromium against a real `vaxflow server` that admits children:
a child's household-register number and a passport-holding guardian, typed by signed-in staff."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from tests.queue.people import resident_id
from tests.web.browser import CHROMIUM, chromium
from tests.web.site_server import DEMO_CONFIG, Server

playwright_api = pytest.importorskip("playwright.sync_api")

pytestmark = pytest.mark.slow

if CHROMIUM is None:
    pytest.skip("chromium is not installed (./dev installs it)", allow_module_level=True)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    folder = tmp_path_factory.mktemp("desk-web")
    config = folder / "kids.toml"
    text = DEMO_CONFIG.read_text(encoding="utf-8")
    config.write_text(re.sub(r"(?m)^min_age_years = 18$", "min_age_years = 3", text), "utf-8")
    running = Server(folder / "site.sqlite", folder / "server.log", config)
    running.start()
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    with chromium(tmp_path_factory.mktemp("chromium-profile"), 1280, 1000) as context:
        yield context


def _rows(server: Server, sql: str) -> list[tuple[Any, ...]]:
    with sqlite3.connect(f"file:{server.db}?mode=ro", uri=True) as conn:
        return list(conn.execute(sql))


def test_staff_check_in_a_child_from_the_household_register(
    server: Server, browser: Any, tmp_path: Path
) -> None:
    page = browser.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda err: errors.append(str(err)))
    page.goto(server.url + "/desk")
    page.fill("input[name=token]", "demo-kiosk-token")
    page.click("button[type=submit]")
    assert "令牌无效" in page.wait_for_selector(".error:not(:empty)").inner_text()
    page.fill("input[name=token]", "demo-station-token")
    page.click("button[type=submit]")
    page.wait_for_selector("#staff-signin input[name=staff_id]")  # always a person here
    page.fill("input[name=staff_id]", "N0001")
    page.fill("input[name=pin]", "1234")
    page.click("#staff-submit")
    page.wait_for_selector("#desk-form")

    today = date.today()
    child = resident_id(901, date(today.year - 8, 6, 1))
    page.fill("input[name=child_id]", child)
    page.fill("input[name=child_name]", "王小宝")
    page.select_option("select[name=guardian_id_type]", "passport")
    page.fill("input[name=guardian_id]", "E55555555")
    page.fill("input[name=guardian_name]", "WANG DA")
    page.click("#check")
    page.wait_for_selector("#refusal[data-reason=guardian_age_unknown]")
    page.fill("input[name=guardian_birth_date]", "1984-02-29")
    page.select_option("select[name=relation]", "parent")
    page.click("#check")
    page.wait_for_selector("#questions #minor")
    page.click("#issue")  # the consent box is not ticked: nothing is sent
    assert page.query_selector("#ticket") is None
    page.check("#consent")
    page.click("#issue")
    number = page.wait_for_selector("#ticket .bigticket").inner_text()
    assert number.startswith("W")
    page.screenshot(path=str(tmp_path / "desk.png"))

    rows = _rows(
        server,
        "SELECT v.ticket, v.id_number, i.id_source, i.entered_by, i.guardian_id_type, "
        "i.guardian_birth_date, i.guardian_relation FROM visit_identity i "
        "JOIN visits v ON v.id = i.visit_id",
    )
    assert rows == [
        (number, child, "household_register", "staff:N0001", "passport", "1984-02-29", "parent")
    ]
    actors = _rows(server, "SELECT DISTINCT actor FROM events WHERE kind = 'id_entered_at_desk'")
    assert actors == [("staff:N0001",)]
    assert errors == []
    page.close()
