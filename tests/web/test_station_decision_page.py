"""The web station page in real headless Chromium against a real `vaxflow server`: a person
booked for another manufacturer's second dose cannot be dosed until a signed-in doctor records
the decision on the page; Approve then lets the dose be recorded, Decline ends the visit."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.queue.people import resident_id
from tests.web.browser import chromium
from tests.web.site_server import DEMO_CONFIG, Server, _vaxflow, running_server
from vaxflow.config import load_settings
from vaxflow.queue.core import engine

pytestmark = pytest.mark.slow

SCREENSHOTS = Path("/tmp/vaxflow-station-decision")
BIRTH = date(1988, 5, 17)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with running_server(tmp_path_factory.mktemp("station-decision")) as running:
        yield running


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    with chromium(tmp_path_factory.mktemp("chromium-profile"), 1400, 1400) as context:
        yield context


def _switch_booking(server: Server, tmp: Path, n: int) -> dict[str, Any]:
    """Import (with the real CLI) a booking for Sinopharm dose 2 after a Sinovac dose 28 days
    ago, and check the person in at the kiosk: a doctor-review ticket."""
    settings = load_settings(DEMO_CONFIG)
    day = engine.site_day(datetime.now(UTC), settings.site.timezone)
    earlier = (day - timedelta(days=28)).isoformat()
    number, name, code = resident_id(900 + n, BIRTH), f"赵敏{n}", f"SW{n:04d}"
    csv = tmp / f"switch-{n}.csv"
    csv.write_text(
        "code,name,id_type,id_number,product,dose_number,prior_doses\n"
        f"{code},{name},cn_resident,{number},BBIBP,2,{earlier}:CORONAVAC:Sinovac\n",
        encoding="utf-8",
    )
    subprocess.run(
        [
            *(*_vaxflow(), "bookings", "import", str(csv), "--config", str(DEMO_CONFIG)),
            *("--db", str(server.db), "--site-day", day.isoformat()),
        ],
        check=True,
        capture_output=True,
    )
    body = {
        "booking_code": code,
        "id_card": {"id_number": number, "name": name},
        "answers": {q.id: False for q in settings.questions},
        "consent_version": settings.consent.version,
    }
    ticket: dict[str, Any] = server.call("kiosk", "POST", "/api/checkins", body)
    return ticket


def _open_page(server: Server, browser: Any, station: str) -> tuple[Any, list[str]]:
    page = browser.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda err: errors.append(str(err)))
    page.add_init_script(
        "sessionStorage.setItem('vaxflow.token.station', 'demo-station-token');"
        "sessionStorage.setItem('vaxflow.vaccinator', 'Nurse Li');"
    )
    page.goto(server.url + f"/station/{station}?lang=en")
    page.wait_for_selector("#station-state[data-state=open]")
    return page, errors


def _call_and_verify(page: Any, ticket: dict[str, Any]) -> None:
    page.click("#call-next")
    assert page.wait_for_selector("#called .bigticket").inner_text() == ticket["ticket"]
    page.fill("#scan", ticket["ticket"])
    page.click("#verify")
    page.wait_for_selector("#verdict.ok")


def _sign_in(page: Any) -> None:
    page.wait_for_selector("#staff-signin")
    page.fill("input[name=staff_id]", "N0001")
    page.fill("input[name=pin]", "1234")
    page.click("#staff-submit")
    page.wait_for_selector("#staff-name")


def test_the_doctor_approves_on_the_page_and_the_dose_is_recorded(
    server: Server, browser: Any, tmp_path: Path
) -> None:
    SCREENSHOTS.mkdir(exist_ok=True)
    ticket = _switch_booking(server, tmp_path, 1)
    assert ticket["lane"] == "E"
    server.call(
        "station",
        "POST",
        "/api/stations/S05/open",
        {"product": "BBIBP", "lot": "LOT-B1", "vaccinator": "Nurse Li"},
    )
    page, errors = _open_page(server, browser, "S05")
    _call_and_verify(page, ticket)
    box = page.wait_for_selector("#decision")
    assert "Sinovac" in box.inner_text() and "Sinopharm Beijing" in box.inner_text()
    assert page.is_disabled("#record-dose")
    page.screenshot(path=str(SCREENSHOTS / "decision-needed.png"), full_page=True)

    page.click("#approve-switch")  # no reason yet: asked for one, nothing sent
    page.wait_for_selector("#message:has-text('Enter the doctor')")
    page.fill("#decision-reason", "CoronaVac out of stock")
    page.click("#approve-switch")  # nobody signed in: the server asks for a person
    _sign_in(page)
    page.click("#approve-switch")
    page.wait_for_selector("#decision-recorded:has-text('Approved')")
    assert "staff:N0001" in page.inner_text("#decision-recorded")
    page.click("#record-dose")
    page.wait_for_selector("#message:has-text('observation until')")
    page.screenshot(path=str(SCREENSHOTS / "decision-approved.png"), full_page=True)
    seen = server.call("station", "GET", f"/api/tickets/{ticket['ticket']}")
    assert (seen["state"], seen["dose_number"]) == ("observing", 2)
    assert errors == []
    page.close()


def test_the_doctor_declines_on_the_page_and_the_visit_ends(
    server: Server, browser: Any, tmp_path: Path
) -> None:
    ticket = _switch_booking(server, tmp_path, 2)
    server.call(
        "station",
        "POST",
        "/api/stations/S06/open",
        {"product": "BBIBP", "lot": "LOT-B1", "vaccinator": "Nurse Li"},
    )
    page, errors = _open_page(server, browser, "S06")
    _call_and_verify(page, ticket)
    page.fill("#decision-reason", "wait for CoronaVac")
    page.click("#decline-switch")
    if page.query_selector("#staff-signin") or not page.query_selector("#staff-name"):
        _sign_in(page)
        page.click("#decline-switch")
    page.wait_for_selector("#message:has-text('switch declined')")
    assert page.query_selector("#person") is None
    seen = server.call("station", "GET", f"/api/tickets/{ticket['ticket']}")
    assert seen["state"] == "deferred"
    assert errors == []
    page.close()
