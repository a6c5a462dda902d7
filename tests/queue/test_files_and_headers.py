"""Files only the service reads, CSV cells that never run, headers, tokens kept out of logs
(issue 17)."""

from __future__ import annotations

import csv
import io
import logging
import stat
from pathlib import Path

import aiohttp
import pytest
from hypothesis import given
from hypothesis import strategies as st

from vaxflow.cli import main
from vaxflow.clock import FrozenClock
from vaxflow.config import Settings
from vaxflow.csv_cells import FORMULA_STARTS, safe_cell, safe_row
from vaxflow.private_files import open_private
from vaxflow.queue.core import engine
from vaxflow.queue.server.app import SECURITY_HEADERS, create_app
from vaxflow.queue.server.appkeys import STORE
from vaxflow.queue.server.log_redaction import REDACTED, RedactTokens
from vaxflow.queue.store.backup import backup

from .conftest import AiohttpClient, Site, auth, booking_codes


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
async def file_site(
    aiohttp_client: AiohttpClient, settings: Settings, clock: FrozenClock, tmp_path: Path
) -> Site:
    app = create_app(settings, db=str(tmp_path / "var" / "site.sqlite"), clock=clock)
    return Site(await aiohttp_client(app), clock, settings)


async def _dosed_by(site: Site, vaccinator: str) -> None:
    code = booking_codes(site.settings, site.clock, product="CORONAVAC", elderly=False)[0]
    ticket = await site.check_in(code)
    await site.post(
        "station",
        "/api/stations/S01/open",
        {"product": "CORONAVAC", "lot": "LOT-2611", "vaccinator": vaccinator},
    )
    await site.post("station", "/api/stations/S01/call-next")
    await site.post("station", "/api/stations/S01/start-service", {"code": ticket["qr"]})
    await site.post("station", "/api/stations/S01/record-dose", {"visit_id": ticket["visit_id"]})


async def test_database_backup_export_and_report_are_private(
    file_site: Site, tmp_path: Path
) -> None:
    site = file_site
    from vaxflow.queue.demo.demo_data import seed_bookings

    day = engine.site_day(site.clock.now(), site.settings.site.timezone)
    await site.app[STORE].write(lambda tx: seed_bookings(tx, site.settings, day, 50), actor="test")
    formula = '=HYPERLINK("http://evil.example","click")'
    await _dosed_by(site, formula)
    folder = tmp_path / "var"
    for name in ("site.sqlite", "site.sqlite-wal", "site.sqlite-shm"):
        assert _mode(folder / name) == 0o600, name
    copy = backup(folder / "site.sqlite", tmp_path / "backups" / "b.sqlite")
    assert _mode(copy.path) == 0o600
    out = tmp_path / "doses.csv"
    db = site.app[STORE].url
    assert main(["export", "csv", "--date", day.isoformat(), "--db", db, "--out", str(out)]) == 0
    assert _mode(out) == 0o600
    with out.open(encoding="utf-8", newline="") as f:
        (row,) = list(csv.DictReader(f))
    assert row["vaccinator"] == "'" + formula  # shown as text, never run
    assert (
        row["person_name"]
        == site.person(
            booking_codes(site.settings, site.clock, product="CORONAVAC", elderly=False)[0]
        ).person_name
    )  # ordinary names untouched
    report = ["report", "daily", "--date", day.isoformat(), "--db", db, "--out"]
    assert main([*report, str(tmp_path / "r")]) in (
        0,
        1,
    )
    for written in (tmp_path / "r").iterdir():
        assert _mode(written) == 0o600, written


def test_private_files_are_0600_even_when_they_existed(tmp_path: Path) -> None:
    with open_private(tmp_path / "x.csv", "w") as out:
        out.write("a")
    assert _mode(tmp_path / "x.csv") == 0o600
    loose = tmp_path / "loose.txt"
    loose.write_text("old", encoding="utf-8")
    loose.chmod(0o644)
    with open_private(loose, "w") as out:
        out.write("new")
    assert _mode(loose) == 0o600  # an existing file is tightened too


@pytest.mark.parametrize(
    ("cell", "written"),
    [
        ("=1+1", "'=1+1"),
        ("+cmd|' /C calc'!A0", "'+cmd|' /C calc'!A0"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\t=1", "'\t=1"),
        ("\r=1", "'\r=1"),
        ("王芳 Wang Fang", "王芳 Wang Fang"),
        ("O'Brien", "O'Brien"),
        ("2026-12-05", "2026-12-05"),
        (-3, -3),
        (None, None),
    ],
)
def test_formula_cells_are_escaped_and_the_rest_untouched(cell: object, written: object) -> None:
    assert safe_cell(cell) == written


@given(st.lists(st.text(max_size=20), max_size=6))
def test_no_escaped_cell_starts_like_a_formula_after_a_csv_round_trip(cells: list[str]) -> None:
    out = io.StringIO()
    csv.writer(out).writerow(safe_row(cells))
    (back,) = list(csv.reader(io.StringIO(out.getvalue(), newline="")))
    for original, cell in zip(cells, back, strict=False):
        assert not cell.startswith(FORMULA_STARTS)
        assert cell in (original, "'" + original) or "\r" in original or "\n" in original


async def test_every_answer_carries_the_security_headers(site: Site) -> None:
    for path in ("/", "/api/health", "/web/common.js", "/station/S01", "/api/nowhere"):
        response = await site.client.get(path)
        await response.read()
        for name, value in SECURITY_HEADERS.items():
            assert response.headers.get(name) == value, (path, name)
    assert "frame-ancestors 'none'" in SECURITY_HEADERS["Content-Security-Policy"]


async def test_a_token_in_the_subprotocol_works_on_the_feed_only_and_is_never_logged(
    site: Site, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    http = await site.client.get(
        "/api/stats", headers={"Sec-WebSocket-Protocol": "bearer.demo-marshal-token"}
    )
    assert http.status == 401  # not on plain HTTP routes
    ws = await site.client.ws_connect("/ws/events", protocols=("bearer.demo-marshal-token",))
    await ws.close()
    logging.getLogger("aiohttp.websocket").warning(
        "Client protocols %r", ["bearer.demo-marshal-token"]
    )
    assert "demo-marshal-token" not in caplog.text
    assert REDACTED in caplog.text


def test_the_redaction_filter_blanks_every_kind_of_token() -> None:
    redact = RedactTokens()
    redact.tokens = {"site-secret-token-123"}
    text = redact.redact(
        "Authorization: Bearer abc.def-123 protocols ['bearer.xyz'] X-Staff-Session: s3cr3t "
        "and site-secret-token-123"
    )
    for secret in ("abc.def-123", "xyz", "s3cr3t", "site-secret-token-123"):
        assert secret not in text


async def test_origins_come_from_the_site_file_not_the_host_header(site: Site) -> None:
    forged = {**auth("marshal"), "Origin": "http://evil.example", "Host": "evil.example"}
    with pytest.raises(aiohttp.WSServerHandshakeError) as err:
        await site.client.ws_connect("/ws/events", headers=forged)
    assert err.value.status == 403
    own = f"http://127.0.0.1:{site.client.port}"
    ws = await site.client.ws_connect("/ws/events", headers={**auth("marshal"), "Origin": own})
    await ws.close()
