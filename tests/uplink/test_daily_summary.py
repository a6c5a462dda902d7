"""The daily summary for the 10:00 deadline (issue 15): a day's doses by product × dose number
× lot as CSV (formula-safe, 0600) and JSON, reconciled with what each registry acknowledged;
a struck-out dose is not counted, but its strike-out must be acknowledged too."""

from __future__ import annotations

import csv
import json
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.queue.conftest import AiohttpClient, Site, booking_codes
from tests.uplink.peers import dose
from tests.uplink.test_uplink_peers import uplink_to
from vaxflow.cli import main
from vaxflow.clock import FrozenClock
from vaxflow.config import Settings
from vaxflow.queue.core import engine
from vaxflow.queue.core.outbox import Outcome, Verdict
from vaxflow.queue.demo.demo_data import seed_bookings
from vaxflow.queue.server.app import create_app
from vaxflow.queue.server.appkeys import STORE
from vaxflow.queue.store import outbox

FORMULA_LOT = "=B7+1"  # a lot typed like a spreadsheet formula must stay text


async def _dose_at(site: Site, station: str, code: str) -> Any:
    ticket = await site.check_in(code)
    await site.post("station", f"/api/stations/{station}/call-next")
    await site.post("station", f"/api/stations/{station}/start-service", {"code": ticket["qr"]})
    body = {"visit_id": ticket["visit_id"]}
    return await site.post("station", f"/api/stations/{station}/record-dose", body)


def _read(stem: Path) -> tuple[dict[str, Any], list[list[str]]]:
    """The summary's JSON and CSV files, as written."""
    summary = json.loads(Path(f"{stem}.json").read_text(encoding="utf-8"))
    with open(f"{stem}.csv", encoding="utf-8", newline="") as handle:
        return summary, list(csv.reader(handle))


async def test_the_summary_counts_groups_and_reconciles_with_the_registries(
    aiohttp_client: AiohttpClient,
    settings: Settings,
    clock: FrozenClock,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    db = tmp_path / "site.sqlite"
    wired = uplink_to(settings, 9, 9, history=False)  # rows are written, workers stopped
    app = create_app(wired, db=str(db), clock=clock, uplink=False)
    site = Site(await aiohttp_client(app), clock, wired)
    day = engine.site_day(clock.now(), settings.site.timezone)
    await app[STORE].write(lambda tx: seed_bookings(tx, wired, day, 200), actor="test")
    await site.open("S01")
    await site.post(
        "station",
        "/api/stations/S05/open",
        {"product": "BBIBP", "lot": FORMULA_LOT, "vaccinator": "Nurse Wang"},
    )
    coronavac = booking_codes(settings, clock, product="CORONAVAC", elderly=False)[:3]
    given = [await dose(site, code) for code in coronavac]
    bbibp = booking_codes(settings, clock, product="BBIBP", elderly=False)[0]
    await _dose_at(site, "S05", bbibp)
    await site.post(
        "marshal", f"/api/visits/{given[2]['visit_id']}/strike-dose", {"reason": "wrong product"}
    )

    # the FHIR registry acknowledged everything; the HL7 one refused dose 1, has the rest pending
    store, site_id = app[STORE], settings.site.id
    rows = await store.read(lambda c: outbox.rows(c, site_id))

    def settle(c: Any) -> None:
        for row in rows:
            if row.target == "fhir":
                verdict = Verdict(Outcome.DONE)
            elif row.record_key == f"{site_id}/1":
                verdict = Verdict(Outcome.NEEDS_FIXING, "AE: lot unknown")
            else:
                continue
            outbox.settle(c, row.id, verdict, clock.now(), clock.now() + timedelta(minutes=1))

    await store.write(lambda tx: settle(tx.conn), actor="test")

    out = tmp_path / "summary"
    args = ["uplink", "summary", "--date", day.isoformat(), "--out", str(out), "--db", str(db)]
    assert main(args) == 3  # not everything acknowledged yet
    assert "3 doses" in capsys.readouterr().out

    stem = out / f"uplink-summary-{site_id}-{day.isoformat()}"
    summary, table = _read(stem)
    assert summary["doses"] == 3 and summary["struck"] == 1 and not summary["complete"]
    assert sum(g["doses"] for g in summary["groups"]) == 3
    by_product: dict[str, int] = {}
    for group in summary["groups"]:
        by_product[group["product"]] = by_product.get(group["product"], 0) + group["doses"]
        assert group["registries"]["fhir"]["acknowledged"] == group["doses"]
    assert by_product == {"CORONAVAC": 2, "BBIBP": 1}
    assert {g["lot"] for g in summary["groups"]} == {"LOT-2611", FORMULA_LOT}
    assert summary["reconciliation"] == {
        "fhir": {
            "doses": 3,
            "acknowledged": 3,
            "waiting": 0,
            "needs_fixing": 0,
            "never_queued": 0,
            "struck": 1,
            "struck_acknowledged": 1,
        },
        "hl7": {
            "doses": 3,
            "acknowledged": 0,
            "waiting": 2,
            "needs_fixing": 1,
            "never_queued": 0,
            "struck": 1,
            "struck_acknowledged": 0,
        },
    }

    assert table[0][:7] == [
        "date",
        "site_id",
        "product",
        "product_name",
        "dose_number",
        "lot",
        "doses",
    ]
    assert "hl7_needs_fixing" in table[0]
    lots = {row[5] for row in table[1:]}
    assert "'" + FORMULA_LOT in lots and FORMULA_LOT not in lots
    assert sum(int(row[6]) for row in table[1:]) == 3
    for written in (Path(f"{stem}.csv"), Path(f"{stem}.json")):
        assert stat.S_IMODE(written.stat().st_mode) == 0o600

    # by default, the previous site day (by the wall clock: the command runs at the site)
    yesterday = engine.site_day(datetime.now(UTC), settings.site.timezone) - timedelta(days=1)
    assert main(["uplink", "summary", "--out", str(out), "--db", str(db)]) in (0, 3)
    assert (out / f"uplink-summary-{site_id}-{yesterday.isoformat()}.json").exists()
    capsys.readouterr()

    # the reconcile command reads the same counts
    assert main(["uplink", "reconcile", "--json", "--date", day.isoformat(), "--db", str(db)]) == 0
    assert json.loads(capsys.readouterr().out)["targets"] == summary["reconciliation"]
