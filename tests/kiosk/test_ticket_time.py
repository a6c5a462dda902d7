"""The printed ticket's time is the site's, whatever zone the kiosk computer is set to.

A `vaxflow server` process for a site in Asia/Shanghai, and a kiosk process (the shell as
`vaxflow kiosk` builds it) whose own zone is UTC: the time on the ticket is Shanghai's.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from tests.faults.kit import site_server
from vaxflow.config import load_settings
from vaxflow.hardware.escpos_render import parse_escpos
from vaxflow.hardware.layout import TextLine

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow


def printed_time(job: bytes) -> datetime:
    lines = [b.text for b in parse_escpos(job) if isinstance(b, TextLine)]
    found = [m for line in lines if (m := re.search(r"(\d{4}-\d\d-\d\d \d\d:\d\d)", line))]
    assert len(found) == 1, lines
    return datetime.strptime(found[0].group(1), "%Y-%m-%d %H:%M")


def test_ticket_time_is_site_time_on_a_kiosk_set_to_utc(tmp_path: Path) -> None:
    with site_server(tmp_path) as site:
        zone = ZoneInfo(load_settings(site.config).site.timezone)
        assert zone.utcoffset(datetime(2026, 1, 1)) != timedelta(0)  # else nothing is shown
        env = {**os.environ, "TZ": "UTC", "PYTHONPATH": str(ROOT)}
        printer = tmp_path / "printer"
        before = datetime.now(zone).replace(tzinfo=None, second=0, microsecond=0)
        done = subprocess.run(
            [sys.executable, "-m", "tests.kiosk.ticket_time_kiosk", str(site.config), site.url,
             str(printer)],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        after = datetime.now(zone).replace(tzinfo=None)
    assert done.returncode == 0, done.stderr[-2000:]
    number = json.loads(done.stdout.strip().splitlines()[-1])["ticket"]
    [job] = [p.read_bytes() for p in sorted(printer.glob("job-*.bin"))]
    assert number.encode() in job
    assert before <= printed_time(job) <= after, (before, printed_time(job), after)
