"""Staff sign-in on the web pages, in real headless Chromium against a real `vaxflow server`
whose site file requires it: PIN keypad, wrong PIN, the dose signed by the person, sign-out,
sign-out after inactivity."""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.web.browser import CHROMIUM, chromium
from tests.web.site_server import DEMO_CONFIG, Server

playwright_api = pytest.importorskip("playwright.sync_api")

pytestmark = pytest.mark.slow

SCREENSHOTS = Path("/tmp/vaxflow-staff-screens")

if CHROMIUM is None:
    pytest.skip("chromium is not installed (./dev installs it)", allow_module_level=True)


class StrictServer(Server):
    """`vaxflow server` on the demo site with staff sign-in required."""

    def __init__(self, folder: Path) -> None:
        text = DEMO_CONFIG.read_text(encoding="utf-8")
        assert "[staff_sign_in]\nrequired = false\nidle_minutes = 15" in text
        text = text.replace(
            "[staff_sign_in]\nrequired = false\nidle_minutes = 15",
            "[staff_sign_in]\nrequired = true\nidle_minutes = 2",
        )
        config = folder / "site.toml"
        config.write_text(text, encoding="utf-8")
        super().__init__(folder / "site.sqlite", folder / "server.log", config)

    def post(self, role: str, path: str, body: Any, session: str | None = None) -> Any:
        """POST as a role (and a signed-in person); a refusal is answered, not raised."""
        headers = {"Authorization": f"Bearer demo-{role}-token", "Content-Type": "application/json"}
        if session:
            headers["X-Staff-Session"] = session
        request = urllib.request.Request(
            self.url + path, data=json.dumps(body).encode(), method="POST", headers=headers
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return json.loads(response.read())
        except urllib.error.HTTPError as err:
            with err:
                return {"status": err.code, **json.loads(err.read())}

    def rows(self, sql: str, *args: Any) -> list[tuple[Any, ...]]:
        with sqlite3.connect(f"file:{self.db}?mode=ro", uri=True) as conn:
            return list(conn.execute(sql, args))


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StrictServer]:
    running = StrictServer(tmp_path_factory.mktemp("staff-web"))
    running.start()
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    with chromium(tmp_path_factory.mktemp("chromium-profile"), 1280, 900) as context:
        yield context


def _walk_in(server: StrictServer, n: int) -> dict[str, Any]:
    from tests.queue.people import walk_in_body
    from vaxflow.config import load_settings

    body = walk_in_body(load_settings(server.config), n)
    answer: dict[str, Any] = server.post("kiosk", "/api/checkins", body)
    return answer


def _device_token(page: Any, token: str) -> None:
    page.fill("input[name=token]", token)
    page.click("button[type=submit]")


def test_station_vaccinator_signs_in_with_the_keypad_and_signs_the_dose(
    server: StrictServer, browser: Any
) -> None:
    page = browser.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda err: errors.append(str(err)))
    page.goto(server.url + "/station/S03?lang=en")
    _device_token(page, "demo-station-token")
    page.wait_for_selector("#staff-signin input[name=staff_id]")
    SCREENSHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "station-sign-in.png"))

    page.fill("input[name=staff_id]", "n0001")  # typed in lower case
    page.fill("input[name=pin]", "9999")
    page.click("#staff-submit")
    error = page.wait_for_selector("#staff-error:not(:empty)")
    # the server's one answer for every failure, in the page's language (?lang=en) only
    text = error.inner_text()
    assert text == "Sign-in failed. Check your staff number, PIN or badge and try again.", text
    page.screenshot(path=str(SCREENSHOTS / "station-wrong-pin.png"))
    for digit in "1234":
        page.click(f".keypad .key:text-is('{digit}')")
    assert page.input_value("input[name=pin]") == "1234"
    page.click("#staff-submit")
    assert "王芳 Wang Fang (N0001)" in page.wait_for_selector("#staff-name").inner_text()
    page.wait_for_selector("#staff-signin", state="detached")
    assert page.inner_text("#vaccinator") == "王芳 Wang Fang (N0001)"
    stored = page.evaluate("JSON.parse(sessionStorage.getItem('vaxflow.staff.station'))")
    assert stored["staff"]["id"] == "N0001" and len(stored["session"]) >= 40
    # nothing of the sign-in outlives the tab; only the device's language choice is kept
    assert page.evaluate("Object.keys(localStorage)") == ["vaxflow.lang"]

    page.fill("input[name=lot]", "LOT-55")
    page.click("#open-station")
    page.wait_for_selector("#station-state[data-state=open]")
    assert "ticket" in _walk_in(server, 501)
    page.click("#call-next")
    ticket = page.wait_for_selector("#called .bigticket").inner_text()
    page.fill("#scan", ticket)
    page.click("#verify")
    page.wait_for_selector("#person")
    page.click("#record-dose")
    page.wait_for_selector("#message:has-text('observation until')")

    actors = server.rows(
        "SELECT e.kind, e.actor FROM events e JOIN visits v ON v.id = e.visit_id "
        "WHERE v.ticket = ? AND e.kind IN ('called', 'service_started', 'dosed')",
        ticket,
    )
    assert sorted(actors) == [
        ("called", "staff:N0001"),
        ("dosed", "staff:N0001"),
        ("service_started", "staff:N0001"),
    ]
    assert server.rows("SELECT vaccinator FROM doses") == [("王芳 Wang Fang (N0001)",)]

    page.click("#staff-sign-out")
    page.wait_for_selector("#staff-signin input[name=staff_id]")  # required: asked again
    refused = server.post("station", "/api/stations/S03/pause", {}, stored["session"])
    assert refused["status"] == 401 and refused["error"]["reason"] == "staff_session_expired"
    kinds = [k for (k,) in server.rows("SELECT kind FROM events WHERE kind LIKE 'staff_%'")]
    assert kinds[-3:] == ["staff_sign_in_failed", "staff_signed_in", "staff_signed_out"]
    assert errors == []
    page.close()


def test_observer_is_signed_out_after_inactivity(server: StrictServer, browser: Any) -> None:
    page = browser.new_page()
    page.clock.install()
    page.goto(server.url + "/observer")
    _device_token(page, "demo-observer-token")
    page.fill("input[name=staff_id]", "N0003")
    page.fill("input[name=pin]", "1234")
    page.press("input[name=pin]", "Enter")
    assert "张伟" in page.wait_for_selector("#staff-name").inner_text()
    page.clock.fast_forward("01:30")
    assert page.locator("#staff-name").count() == 1  # still within idle_minutes = 2
    page.clock.fast_forward("01:00")
    page.wait_for_selector("#staff-signin input[name=staff_id]")
    assert page.evaluate("sessionStorage.getItem('vaxflow.staff.observer')") is None
    last = server.rows("SELECT actor, kind FROM events WHERE kind LIKE 'staff_%' ORDER BY seq")[-1]
    assert last == ("staff:N0003", "staff_signed_out")
    page.close()


def test_kivy_station_console_asks_for_the_staff_pin_under_xvfb(
    server: StrictServer, tmp_path: Path
) -> None:
    """`vaxflow station` on a virtual display: a wrong PIN on the keypad is refused with the
    server's words; the right one opens the console, whose actions name the person."""
    xvfb_run = shutil.which("xvfb-run")
    if xvfb_run is None:
        pytest.skip("xvfb is not installed (./dev installs it)")
    from PIL import Image

    assert "ticket" in _walk_in(server, 502)
    sign_in_shot, console_shot = SCREENSHOTS / "kivy-sign-in.png", SCREENSHOTS / "kivy-console.png"
    SCREENSHOTS.mkdir(exist_ok=True)
    script = Path(sys.executable).with_name("vaxflow")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "vaxflow"]
    done = subprocess.run(
        [
            xvfb_run,
            "-a",
            "-s",
            "-screen 0 1280x800x24",
            *command,
            "station",
            "--config",
            str(server.config),
            "--server",
            server.url,
            "--station",
            "S04",
            "--token",
            "demo-station-token",
            "--size",
            "1280x800",
            "--screenshot-sign-in",
            str(sign_in_shot),
            "--screenshot",
            str(console_shot),
        ],
        input=b"N0002\n1234\n",
        capture_output=True,
        timeout=120,
        check=False,
    )
    out = done.stdout.decode(errors="replace")
    assert done.returncode == 0, done.stderr.decode(errors="replace")[-2000:]
    assert "登录失败" in out and "Sign-in failed" not in out, out  # one language per console
    assert "signed in 李娜 Li Na (N0002)" in out
    for shot in (sign_in_shot, console_shot):
        with Image.open(shot) as image:
            assert image.size == (1280, 800)
            assert len(image.convert("RGB").getcolors(maxcolors=1 << 20) or []) > 20
    actors = server.rows(
        "SELECT kind, actor FROM events WHERE kind IN ('station_opened', 'called', "
        "'service_started') AND payload LIKE '%S04%'"
    )
    assert {kind for kind, _ in actors} == {"station_opened", "called", "service_started"}
    assert {actor for _, actor in actors} == {"staff:N0002"}
