"""Identity through the real server: ID numbers as issued, age from the document, names as
written, and passport holders whose birth date staff confirm at the desk."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, select
from stdnum.cn import ric

from vaxflow.clock import FrozenClock
from vaxflow.config import Settings
from vaxflow.queue.core import engine
from vaxflow.queue.server.app import create_app
from vaxflow.queue.server.appkeys import STORE
from vaxflow.queue.store import tables as t

from .conftest import AiohttpClient, Site, booking_codes
from .people import resident_id, walk_in_body

VAXFLOW = str(Path(sys.executable).with_name("vaxflow"))
HEADER = "code,name,id_type,id_number,product,dose_number,visit_date\n"


def _number(region: str, born: date, serial: int = 7) -> str:
    body = f"{region}{born:%Y%m%d}{serial:03d}"
    return body + ric.calc_check_digit(body + "0")


# Region codes newer than the birth year (python-stdnum's table): refused before as
# bad_id_number. Yongchuan (Chongqing) from 2006, Bao'an (Shenzhen) from 1992, Liangqing
# (Nanning) from 2004, Miyun (Beijing) from 2015.
ISSUED = [
    ("R1", "张小明", _number("500118", date(1970, 5, 4), 11)),
    ("R2", "李华", _number("440306", date(1985, 12, 1), 22)),
    ("R3", "黄丽", _number("450108", date(1960, 2, 29), 33)),
    ("R4", "王强", _number("110118", date(1990, 7, 7), 44)),
]
NAMES = [  # (booked as, on the card)
    ("N1", "阿依古丽·买买提", "阿依古丽・买买提"),
    ("N2", "张 小红", "张小红"),
    ("N3", "买买提　艾力", "买买提·艾力"),
    ("N4", "LI WEI", "Li  Wei"),
]


def test_the_old_rule_refused_these_numbers() -> None:
    """The class of numbers under test: python-stdnum's full validation refuses them all."""
    assert not any(ric.is_valid(number) for _, _, number in ISSUED)


@pytest.fixture
def imported_db(tmp_path: Path, settings: Settings, clock: FrozenClock) -> Path:
    """A site database whose day list came through `vaxflow bookings import`."""
    day = engine.site_day(clock.now(), settings.site.timezone)
    lines = [
        f"{code},{name},cn_resident,{number},CORONAVAC,1,{day}" for code, name, number in ISSUED
    ]
    lines += [
        f"{code},{name},cn_resident,{resident_id(60 + i)},CORONAVAC,1,{day}"
        for i, (code, name, _) in enumerate(NAMES)
    ]
    csv = tmp_path / "day.csv"
    csv.write_text(HEADER + "\n".join(lines) + "\n", encoding="utf-8")
    db = tmp_path / "site.sqlite"
    done = subprocess.run(
        [VAXFLOW, "bookings", "import", str(csv), "--db", str(db)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert f"{len(lines)} booking(s) imported" in done.stdout
    return db


@pytest.fixture
async def imported(
    imported_db: Path, aiohttp_client: AiohttpClient, settings: Settings, clock: FrozenClock
) -> Site:
    """The real server on that database, as a site runs it after the morning's import."""
    client = await aiohttp_client(create_app(settings, db=str(imported_db), clock=clock))
    return Site(client, clock, settings)


def _body(site: Site, code: str, name: str, number: str) -> dict[str, Any]:
    return {
        "booking_code": code,
        "id_card": {"id_type": "cn_resident", "id_number": number, "name": name},
        "answers": site.answers(),
        "consent_version": site.settings.consent.version,
    }


@pytest.mark.slow  # a real `vaxflow bookings import` process each
async def test_numbers_with_a_region_code_newer_than_the_birth_year_import_and_check_in(
    imported: Site,
) -> None:
    tickets = []
    for code, name, number in ISSUED:
        pre = await imported.post(
            "kiosk",
            "/api/checkins/precheck",
            {"booking_code": code, "id_card": _body(imported, code, name, number)["id_card"]},
        )
        assert pre["eligible"] is True
        tickets.append(
            (await imported.post("kiosk", "/api/checkins", _body(imported, code, name, number)))[
                "ticket"
            ]
        )
    assert len(set(tickets)) == len(ISSUED)


@pytest.mark.slow
async def test_names_with_other_middle_dots_and_spaces_match(imported: Site) -> None:
    for i, (code, _, on_card) in enumerate(NAMES):
        body = _body(imported, code, on_card, resident_id(60 + i))
        assert (await imported.post("kiosk", "/api/checkins", body))["ticket"]


@pytest.mark.slow
async def test_a_different_name_is_still_refused(imported: Site) -> None:
    body = _body(imported, "N1", "阿依古丽·买提", resident_id(60))
    refused = await imported.post("kiosk", "/api/checkins", body, expect=409)
    assert refused["error"]["reason"] == "name_mismatch"


def _walk_in(site: Site, n: int, **person: Any) -> dict[str, Any]:
    body = walk_in_body(site.settings, n)
    body["walk_in"] = {**body["walk_in"], **person}  # type: ignore[dict-item]
    return body


def _pre(body: dict[str, Any]) -> dict[str, Any]:
    """The precheck's part of a check-in body: no answers or consent yet."""
    return {k: v for k, v in body.items() if k not in ("answers", "consent_version")}


def _years_ago(site: Site, years: int) -> date:
    today = engine.site_day(site.clock.now(), site.settings.site.timezone)
    return today.replace(year=today.year - years)


@pytest.mark.parametrize(("on_id", "claimed"), [(16, 31), (31, 16), (40, 41), (70, 50)])
async def test_a_walk_in_birth_date_that_disagrees_with_the_id_is_refused(
    site: Site, on_id: int, claimed: int
) -> None:
    born, said = _years_ago(site, on_id), _years_ago(site, claimed)
    body = _walk_in(site, 20, id_number=resident_id(20, born), birth_date=said.isoformat())
    for path, sent in (("/api/checkins/precheck", _pre(body)), ("/api/checkins", body)):
        refused = await site.post("kiosk", path, sent, expect=409)
        assert refused["error"]["reason"] == "birth_date_mismatch"
        assert refused["error"]["details"] == {
            "given": said.isoformat(),
            "on_document": born.isoformat(),
        }
        assert refused["error"]["messages"]["zh-CN"].startswith("所填出生日期")
        assert born.isoformat() in refused["error"]["hints"]["en"]


async def test_a_walk_in_birth_date_that_agrees_is_fine_and_age_comes_from_the_id(
    site: Site,
) -> None:
    young = _years_ago(site, 2)  # under every age band of the demo
    body = _walk_in(site, 21, id_number=resident_id(21, young), birth_date=young.isoformat())
    refused = await site.post("kiosk", "/api/checkins", body, expect=409)
    assert refused["error"]["reason"] == "too_young"
    adult = _years_ago(site, 30)
    body = _walk_in(site, 22, id_number=resident_id(22, adult), birth_date=adult.isoformat())
    assert (await site.post("kiosk", "/api/checkins", body))["ticket"] == "W001"


async def test_a_card_read_birth_date_that_disagrees_with_the_booking_id_is_refused(
    site: Site,
) -> None:
    code = booking_codes(site.settings, site.clock, product="CORONAVAC", elderly=False)[0]
    body = site.check_in_body(code)
    body["id_card"]["birth_date"] = "1950-01-01"
    refused = await site.post("kiosk", "/api/checkins", body, expect=409)
    assert refused["error"]["reason"] == "birth_date_mismatch"


def _passport(site: Site, n: int, birth: date | None = None) -> dict[str, Any]:
    person: dict[str, Any] = {"id_type": "passport", "id_number": f"E{n:08d}", "name": "SMITH JOHN"}
    if birth is not None:
        person["birth_date"] = birth.isoformat()
    return _walk_in(site, n, **person)


async def test_a_passport_without_a_birth_date_goes_to_review_until_staff_confirm_it(
    site: Site,
) -> None:
    pre = await site.post("kiosk", "/api/checkins/precheck", _pre(_passport(site, 30)))
    assert [r["code"] for r in pre["review"]] == ["birth_date_unconfirmed"]
    ticket = await site.post("kiosk", "/api/checkins", _passport(site, 30))
    assert (ticket["ticket"], ticket["age"]) == ("E001", None)  # the demo's review lane: E
    visit = await _visit(site, ticket["visit_id"])
    assert json.loads(visit["review_reasons"]) == ["birth_date_unconfirmed"]

    path = f"/api/visits/{ticket['visit_id']}/birth-date"
    refused = await site.post(
        "marshal", path, {"birth_date": _years_ago(site, 2).isoformat()}, expect=409
    )
    assert refused["error"]["reason"] == "too_young"
    assert (await _visit(site, ticket["visit_id"]))["birth_date"] is None  # unchanged

    born = _years_ago(site, 30)
    confirmed = await site.post("marshal", path, {"birth_date": born.isoformat()})
    assert confirmed["age"] == 30 and "review_reasons" not in confirmed  # masked for the marshal
    assert json.loads((await _visit(site, ticket["visit_id"]))["review_reasons"] or "[]") == []
    events = await _events(site, ticket["visit_id"], "birth_date_confirmed")
    assert [(e["actor"].split(":")[0], json.loads(e["payload"])["age"]) for e in events] == [
        ("marshal", 30)
    ]


async def test_a_passport_holder_with_a_birth_date_is_age_checked(site: Site) -> None:
    refused = await site.post(
        "kiosk", "/api/checkins", _passport(site, 31, _years_ago(site, 2)), expect=409
    )
    assert refused["error"]["reason"] == "too_young"
    ticket = await site.post("kiosk", "/api/checkins", _passport(site, 32, _years_ago(site, 30)))
    assert (ticket["ticket"], ticket["age"]) == ("W001", 30)


async def test_a_resident_id_birth_date_cannot_be_overridden_at_the_desk(site: Site) -> None:
    ticket = await site.post("kiosk", "/api/checkins", walk_in_body(site.settings, 33))
    path = f"/api/visits/{ticket['visit_id']}/birth-date"
    refused = await site.post("marshal", path, {"birth_date": "1960-01-01"}, expect=409)
    assert refused["error"]["reason"] == "birth_date_mismatch"
    future = await site.post("marshal", path, {"birth_date": "2999-01-01"}, expect=409)
    assert future["error"]["reason"] == "birth_date_mismatch"
    passport = await site.post("kiosk", "/api/checkins", _passport(site, 34))
    path = f"/api/visits/{passport['visit_id']}/birth-date"
    bad = await site.post("marshal", path, {"birth_date": "2999-01-01"}, expect=422)
    assert bad["error"]["reason"] == "bad_birth_date"
    await site.post("kiosk", f"/api/visits/{passport['visit_id']}/cancel", {})
    late = await site.post("marshal", path, {"birth_date": "1990-01-01"}, expect=409)
    assert late["error"]["reason"] == "birth_date_not_changeable"


async def _visit(site: Site, visit_id: int) -> dict[str, Any]:
    def read(conn: Connection) -> dict[str, Any]:
        row = conn.execute(select(t.visits).where(t.visits.c.id == visit_id)).one()
        return dict(row._mapping)

    return await site.app[STORE].read(read)


async def _events(site: Site, visit_id: int, kind: str) -> list[dict[str, Any]]:
    def read(conn: Connection) -> list[dict[str, Any]]:
        rows = conn.execute(
            select(t.events).where(t.events.c.visit_id == visit_id, t.events.c.kind == kind)
        )
        return [dict(r._mapping) for r in rows]

    return await site.app[STORE].read(read)


@pytest.mark.slow
async def test_the_station_sees_a_region_code_note_and_nothing_for_a_current_code(
    imported: Site,
) -> None:
    code, name, number = ISSUED[0]  # 500118 (Yongchuan), born 1970: code from 2006
    first = await imported.post("kiosk", "/api/checkins", _body(imported, code, name, number))
    other = await imported.post(
        "kiosk", "/api/checkins", _body(imported, "N2", "张小红", resident_id(61))
    )
    await imported.open("S01")
    served = []
    for ticket in (first, other):
        await imported.post("station", "/api/stations/S01/call-next")
        served.append(
            await imported.post(
                "station", "/api/stations/S01/start-service", {"code": ticket["qr"]}
            )
        )
        await imported.post(
            "station", "/api/stations/S01/record-dose", {"visit_id": ticket["visit_id"]}
        )
    note = served[0]["id_note"]
    assert (note["code"], note["region"], note["year"]) == (
        "region_code_not_in_use",
        "500118",
        1970,
    )
    assert "500118" in note["hints"]["zh-CN"] and "1970" in note["hints"]["en"]
    assert served[1]["id_note"] is None
