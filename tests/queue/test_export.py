"""Registry exports of a real site day: FHIR R4 resources validated one by one, and plain CSV.

The resources are validated with fhir.resources' R4B models (FHIR 4.3, whose Patient and
Immunization are those of R4 4.0.1 with no structural change).
"""

from __future__ import annotations

import csv
import json
import logging
import re
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from fhir.resources.R4B.immunization import Immunization
from fhir.resources.R4B.patient import Patient

from vaxflow.cli import main
from vaxflow.queue.core import engine
from vaxflow.queue.records.fhir import patient_id
from vaxflow.queue.server.appkeys import STORE

from .conftest import Site, booking_codes

ID_NUMBER = re.compile(r"\d{17}[\dXx]")


async def _two_doses(site: Site) -> list[dict[str, Any]]:
    """Two people vaccinated at S01; the second has a mild rash flagged."""
    codes = booking_codes(site.settings, site.clock, product="CORONAVAC", elderly=False)[:2]
    await site.open("S01")
    dosed = []
    for code in codes:
        ticket = await site.check_in(code)
        await site.post("station", "/api/stations/S01/call-next")
        await site.post("station", "/api/stations/S01/start-service", {"code": ticket["qr"]})
        site.clock.advance(minutes=2)
        dosed.append(
            await site.post(
                "station", "/api/stations/S01/record-dose", {"visit_id": ticket["visit_id"]}
            )
        )
    site.clock.advance(minutes=5)
    await site.post(
        "observer",
        f"/api/observation/{dosed[1]['visit_id']}/flag",
        {"kind": "rash", "severity": "mild"},
    )
    return [{**d, "code": code} for d, code in zip(dosed, codes, strict=True)]


async def test_fhir_export_is_valid_r4_resource_by_resource(
    site: Site, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    dosed = await _two_doses(site)
    day = engine.site_day(site.clock.now(), site.settings.site.timezone).isoformat()
    out = tmp_path / "doses.ndjson"
    db = site.app[STORE].url
    with caplog.at_level(logging.DEBUG):
        assert main(["export", "fhir", "--date", day, "--db", db, "--out", str(out)]) == 0
    lines = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    patients = [Patient.model_validate(r) for r in lines if r["resourceType"] == "Patient"]
    shots = [Immunization.model_validate(r) for r in lines if r["resourceType"] == "Immunization"]
    assert len(lines) == len(patients) + len(shots) == 4

    people = [site.person(d["code"]) for d in dosed]
    position = {(r["resourceType"], r["id"]): i for i, r in enumerate(lines)}
    by_id = {p.id: p for p in patients}
    for shot, person, visit in zip(shots, people, dosed, strict=True):
        assert shot.status == "completed"
        assert shot.vaccineCode.coding[0].code == "CORONAVAC"
        assert shot.manufacturer.display == "Sinovac"
        assert shot.lotNumber == "LOT-2611"
        assert shot.protocolApplied[0].doseNumberPositiveInt == person.dose_number
        assert shot.protocolApplied[0].seriesDosesPositiveInt == 2
        assert shot.performer[0].actor.display == "Nurse Li"
        assert shot.location.display == f"{site.settings.site.name} / Station 1"
        assert shot.occurrenceDateTime.isoformat() == visit["dosed_at"]
        # the Patient it refers to comes first and carries the full ID number
        pid = shot.patient.reference.removeprefix("Patient/")
        assert pid == patient_id("cn_resident", person.id_number)
        assert by_id[pid].identifier[0].value == person.id_number
        assert by_id[pid].gender == person.sex
        assert by_id[pid].birthDate == person.birth_date
        assert position[("Patient", pid)] < position[("Immunization", shot.id)]
    assert shots[0].reaction is None
    assert [r.detail.display for r in shots[1].reaction or []] == ["rash (mild)"]
    # full ID numbers go to the registry file, never into the log
    assert not ID_NUMBER.search(caplog.text)
    assert not any(ID_NUMBER.search(p.id or "") for p in patients)


async def test_csv_export_has_one_row_per_dose(site: Site, tmp_path: Path) -> None:
    dosed = await _two_doses(site)
    day = engine.site_day(site.clock.now(), site.settings.site.timezone).isoformat()
    out = tmp_path / "doses.csv"
    db = site.app[STORE].url
    assert main(["export", "csv", "--date", day, "--db", db, "--out", str(out)]) == 0
    with out.open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [r["ticket"] for r in rows] == [d["ticket"] for d in dosed]
    assert [r["id_number"] for r in rows] == [site.person(d["code"]).id_number for d in dosed]
    assert [r["reactions"] for r in rows] == ["", "rash (mild)"]
    assert {(r["product"], r["lot"], r["station_id"]) for r in rows} == {
        ("CORONAVAC", "LOT-2611", "S01")
    }


def test_export_of_a_missing_database_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = str(tmp_path / "nothing.sqlite")
    assert main(["export", "fhir", "--date", "2026-11-21", "--db", missing]) == 1
    assert "there is no database" in capsys.readouterr().err
    assert main(["export", "csv", "--date", "21.11.2026", "--db", missing]) == 1
    assert "is not a date" in capsys.readouterr().err


def test_export_of_what_is_not_a_site_database_says_why(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Another program's SQLite file, and a server that does not answer (its password hidden)."""
    other = tmp_path / "other.sqlite"
    with sqlite3.connect(other) as conn:
        conn.execute("CREATE TABLE notes (body TEXT)")
    assert main(["export", "csv", "--date", "2026-11-21", "--db", str(other)]) == 1
    assert "is not a vaxflow site database" in capsys.readouterr().err
    url = "postgresql+psycopg://staff:hunter2@127.0.0.1:1/site"
    assert main(["export", "csv", "--date", "2026-11-21", "--db", url]) == 1
    err = capsys.readouterr().err
    assert "cannot open postgresql+psycopg://staff:***@127.0.0.1:1/site" in err
    assert "hunter2" not in err
