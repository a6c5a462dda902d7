"""SIGKILL of a real `vaxflow server` while its outbox is being sent: after a restart on the
same database every dose is at the FHIR server and the MLLP listener exactly once."""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from tests.queue.conftest import AiohttpClient, Site, booking_codes
from tests.uplink.peers import FhirServer, MllpListener, dose, fhir_copies
from vaxflow.clock import FrozenClock
from vaxflow.config import load_settings
from vaxflow.queue.core import engine
from vaxflow.queue.demo.demo_data import seed_bookings
from vaxflow.queue.server.app import create_app
from vaxflow.queue.server.appkeys import STORE
from vaxflow.queue.store import outbox
from vaxflow.queue.store.db import read_snapshot

pytestmark = pytest.mark.slow

DOSES = 40
SITE = "kill-site"
ROOT = Path(__file__).resolve().parents[2]


def _vaxflow() -> list[str]:
    script = Path(sys.executable).with_name("vaxflow")
    return [str(script)] if script.exists() else [sys.executable, "-m", "vaxflow"]


def site_file(folder: Path, fhir: FhirServer, mllp: MllpListener) -> Path:
    text = (ROOT / "vaxflow" / "config" / "demo.toml").read_text(encoding="utf-8")
    text = re.sub(r'(?m)^id = "demo-stadium"', f'id = "{SITE}"', text, count=1)
    assert f'id = "{SITE}"' in text
    # a real site's machines have their own tokens (the server refuses shared ones): the demo's
    # token strings, so the test's helpers still speak for the kiosk and station S01
    text, shared = re.subn(
        r'(?m)^(kiosk|station|observer|board) = \["demo-\w+-token"\]\n', "", text
    )
    assert shared == 4
    text += "".join(
        f'\n[device_tokens.{kind}-1]\ntoken = "demo-{kind}-token"\nkind = "{kind}"\n{more}'
        for kind, more in [
            ("kiosk", ""),
            ("station", 'station = "S01"\n'),
            ("observer", ""),
            ("board", ""),
        ]
    )
    text += (
        "\n[uplink]\nretry_base_seconds = 0.2\nretry_max_seconds = 1.0\n"
        f'[uplink.fhir]\nurl = "{fhir.base}"\nhistory = false\n'
        f'[uplink.hl7]\nhost = "127.0.0.1"\nport = {mllp.port}\n'
    )
    path = folder / "site.toml"
    path.write_text(text, encoding="utf-8")
    return path


def start_server(config: Path, db: Path, folder: Path, name: str) -> subprocess.Popen[bytes]:
    with (folder / f"{name}.out").open("wb") as out, (folder / f"{name}.err").open("wb") as err:
        return subprocess.Popen(
            # a site that is not the demo serves HTTPS unless told otherwise: this test is about
            # delivery, on loopback
            [
                *_vaxflow(),
                "server",
                "--config",
                str(config),
                "--port",
                "0",
                "--db",
                str(db),
                "--insecure",
            ],
            stdout=out,
            stderr=err,
        )


def pending(db: Path) -> int:
    with read_snapshot(str(db)) as conn:
        return sum(c["pending"] for c in outbox.summary(conn, SITE).values())


async def test_sigkill_mid_send_then_restart_delivers_each_dose_once(
    aiohttp_client: AiohttpClient,
    clock: FrozenClock,
    tmp_path: Path,
    fhir_server: FhirServer,
    mllp: MllpListener,
) -> None:
    config = site_file(tmp_path, fhir_server, mllp)
    settings = load_settings(config)
    db = tmp_path / "site.sqlite"
    # a morning's doses recorded while nothing was sent (workers off): a full outbox
    app = create_app(settings, db=str(db), clock=clock, uplink=False)
    client = await aiohttp_client(app)
    day = engine.site_day(clock.now(), settings.site.timezone)
    await app[STORE].write(lambda tx: seed_bookings(tx, settings, day, 200), actor="test")
    site = Site(client, clock, settings)
    await site.open("S01")
    codes = booking_codes(settings, clock, product="CORONAVAC", elderly=False)
    codes += booking_codes(settings, clock, product="CORONAVAC", elderly=True)
    for code in codes[:DOSES]:
        await dose(site, code)
    await client.close()
    keys = {f"{SITE}/{n}" for n in range(1, DOSES + 1)}

    first = start_server(config, db, tmp_path, "first")
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            arrived = sum((await asyncio.to_thread(fhir_copies, fhir_server, keys)).values())
            if arrived >= 5:
                break
            await asyncio.sleep(0.02)
        first.kill()  # SIGKILL: no shutdown, rows mid-send
        first.wait(10)
    finally:
        if first.poll() is None:
            first.kill()
    left = pending(db)
    assert left > 0, "the whole outbox went before the kill; the test saw no mid-send"

    second = start_server(config, db, tmp_path, "second")
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if not pending(db):
                break
            await asyncio.sleep(0.1)
        assert pending(db) == 0, (tmp_path / "second.err").read_text()[-2000:]
    finally:
        second.kill()
        second.wait(10)

    assert await asyncio.to_thread(fhir_copies, fhir_server, keys) == Counter(
        dict.fromkeys(keys, 1)
    )
    assert set(mllp.stored) == keys
    assert mllp.copies() == Counter(dict.fromkeys(keys, 1))  # resends carried the same MSH-10
    status = await asyncio.to_thread(
        subprocess.run,
        [*_vaxflow(), "uplink", "status", "--json", "--config", str(config), "--db", str(db)],
        capture_output=True,
        text=True,
        check=True,
    )
    shown: dict[str, Any] = json.loads(status.stdout)
    assert shown["targets"]["fhir"]["sent"] == shown["targets"]["hl7"]["sent"] == DOSES
    assert shown["targets"]["fhir"]["pending"] == 0 and not shown["needs_fixing"]
    reconciled = await asyncio.to_thread(
        subprocess.run,
        [
            *_vaxflow(),
            *("uplink", "reconcile", "--json", "--date", "2026-11-21"),
            *("--config", str(config), "--db", str(db)),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    counts = json.loads(reconciled.stdout)["targets"]
    assert (
        counts["fhir"]
        == counts["hl7"]
        == {
            "doses": DOSES,
            "acknowledged": DOSES,
            "waiting": 0,
            "needs_fixing": 0,
            "never_queued": 0,
            "struck": 0,
            "struck_acknowledged": 0,
        }
    )
