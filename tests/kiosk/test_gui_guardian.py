"""A child and a guardian at the real kiosk (Xvfb, simulated reader) against a real server
whose age rules admit children; the station then sees the guardian, masked."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .test_gui import Server, display, kiosk  # noqa: F401  (fixtures)

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]

DEMO = Path(__file__).resolve().parents[2] / "vaxflow" / "config" / "demo.toml"


class KidsServer(Server):
    """The demo server on a copy of the demo site whose `[age] min_age_years` is 3."""

    config: Path | None = None

    def start(self) -> None:
        assert self.config is not None
        command = [sys.executable, "-m", "vaxflow", "demo", "--port", str(self.port)]
        command += ["--no-traffic", "--speed", "1", "--headless", "--db", str(self.db)]
        command += ["--config", str(self.config)]
        self.process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
        assert self.process.stdout is not None
        for line in self.process.stdout:
            if self.url in line:
                return
        raise AssertionError("the demo server did not start")

    def post(self, path: str, body: dict[str, Any], token: str) -> Any:
        request = urllib.request.Request(
            self.url + path,
            data=json.dumps(body).encode(),
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=5) as answer:
            return json.load(answer)


@pytest.fixture
def kids_server(tmp_path: Path) -> Iterator[KidsServer]:
    config = tmp_path / "kids.toml"
    text = DEMO.read_text(encoding="utf-8")
    config.write_text(re.sub(r"(?m)^min_age_years = 18$", "min_age_years = 3", text), "utf-8")
    site = KidsServer(tmp_path / "kids.sqlite")
    site.config = config
    site.start()
    yield site
    site.stop()


def test_a_child_with_a_guardian_gets_a_ticket_and_the_station_sees_the_guardian(
    kiosk: Any,  # noqa: F811
    kids_server: KidsServer,
) -> None:
    app = kiosk("guardian", kids_server.url)
    result = app.result()
    assert result.get("problem") is None, result
    assert result["ticket"].startswith("W") and result["print"] == "printed"
    for screen in ("guardian_card", "guardian_relation", "question", "consent", "ticket"):
        assert screen in result["screens"]
    assert (app.out / "guardian_relation.png").stat().st_size > 10_000

    station = "demo-station-token"
    kids_server.post(
        "/api/stations/S01/open",
        {"product": "CORONAVAC", "lot": "LOT-2611", "vaccinator": "Nurse Li"},
        station,
    )
    kids_server.post("/api/stations/S01/call-next", {}, station)
    verified = kids_server.post("/api/stations/S01/verify", {"code": result["ticket"]}, station)
    person = verified["visit"]
    assert verified["match"] and person["id_number"] == result["child"]
    assert person["guardian"]["relation"] == "parent"
    guardian_number = result["guardian"]
    assert person["guardian"]["id_number"] == (
        guardian_number[:4] + "*" * 10 + guardian_number[-4:]
    )
    assert "minor" in {f["code"] for f in person["flags"]}
