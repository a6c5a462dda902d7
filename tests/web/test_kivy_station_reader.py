"""`vaxflow station --id-reader URL` under Xvfb against a real `vaxflow server`: the closed
station offers today's lots, the simulated reader's card verifies the called person; a reader
that is not there is said in words and the console still works."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from tests.queue.people import resident_id
from tests.web.site_server import DEMO_CONFIG, Server, _vaxflow, running_server
from vaxflow.config import load_settings
from vaxflow.hardware.sim_idcard import DEMO_CARDS

pytestmark = pytest.mark.slow

SCREENSHOTS = Path("/tmp/vaxflow-station-reader")
XVFB_RUN = shutil.which("xvfb-run")

if XVFB_RUN is None:
    pytest.skip("xvfb is not installed (./dev installs it)", allow_module_level=True)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with running_server(tmp_path_factory.mktemp("station-reader")) as running:
        yield running


def _walk_in(server: Server, name: str, id_number: str) -> Any:
    settings = load_settings(DEMO_CONFIG)
    body = {
        "walk_in": {"name": name, "id_number": id_number},
        "answers": {q.id: False for q in settings.questions},
        "consent_version": settings.consent.version,
    }
    return server.call("kiosk", "POST", "/api/checkins", body)


def _station(server: Server, station: str, reader: str, shot: Path) -> str:
    assert XVFB_RUN is not None
    done = subprocess.run(
        [
            *(XVFB_RUN, "-a", "-s", "-screen 0 1280x800x24", *_vaxflow(), "station"),
            *("--config", str(DEMO_CONFIG), "--server", server.url, "--station", station),
            *("--token", "demo-station-token", "--vaccinator", "Nurse Li", "--size", "1280x800"),
            *("--id-reader", reader, "--screenshot", str(shot)),
        ],
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr.decode(errors="replace")[-3000:]
    return done.stdout.decode(errors="replace")


def _looks_drawn(path: Path) -> None:
    from PIL import Image

    with Image.open(path) as image:
        assert image.size == (1280, 800)
        assert len(image.convert("RGB").getcolors(maxcolors=1 << 20) or []) > 20


def test_the_reader_verifies_the_called_person_and_lots_are_offered(server: Server) -> None:
    SCREENSHOTS.mkdir(exist_ok=True)
    # Another station has dosed someone with LOT-K1 today: S01 offers it when it opens.
    server.call(
        "station",
        "POST",
        "/api/stations/S03/open",
        {"product": "CORONAVAC", "lot": "LOT-K1", "vaccinator": "Nurse Wu"},
    )
    _walk_in(server, "王芳", resident_id(701, date(1990, 3, 7)))
    called = server.call("station", "POST", "/api/stations/S03/call-next", {})["called"]
    server.call("station", "POST", "/api/stations/S03/verify", {"code": called["ticket"]})
    server.call(
        "station", "POST", "/api/stations/S03/record-dose", {"visit_id": called["visit_id"]}
    )
    zhang = DEMO_CARDS["zhang"]
    ticket = _walk_in(server, zhang.name, zhang.id_number)
    shot = SCREENSHOTS / "station-reader.png"
    out = _station(server, "S01", "sim://?card=zhang", shot)
    assert f"screenshot {shot}" in out, out
    _looks_drawn(shot)
    _looks_drawn(shot.with_name("station-reader-open.png"))
    stations = server.call("station", "GET", "/api/stations")
    s01 = next(s for s in stations if s["station_id"] == "S01")
    assert s01["lot"] == "LOT-K1"  # the lot in use, chosen from the offer
    visit = server.call("station", "GET", f"/api/tickets/{ticket['ticket']}")
    assert visit["state"] == "in_service" and visit["station_id"] == "S01"


def test_an_absent_reader_is_said_in_words(server: Server, tmp_path: Path) -> None:
    SCREENSHOTS.mkdir(exist_ok=True)
    walk = _walk_in(server, "李娜", resident_id(702, date(1990, 3, 7)))
    assert "ticket" in walk, walk
    shot = SCREENSHOTS / "station-no-reader.png"
    absent = tmp_path / "ttyNOPE"
    out = _station(server, "S02", f"serial://{absent}", shot)
    assert f"screenshot {shot}" in out, out
    _looks_drawn(shot)
    devices = server.call("marshal", "GET", "/api/devices")
    entry = next(d for d in devices if d["device_id"] == "station-S02-idcard")
    assert entry["state"] == "offline"
