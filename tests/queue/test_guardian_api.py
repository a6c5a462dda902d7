"""Minors and guardians through the real app: kiosk check-in, the desk path, station verify.

The site's `[age] min_age_years` is 3 here (the site notices for 3-11s), so these tests do
not depend on the dated age bands of the schedule policy.
"""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import pytest
from sqlalchemy import select

from vaxflow.clock import FrozenClock
from vaxflow.config import Settings
from vaxflow.kiosk.flow import Card
from vaxflow.queue.core import engine
from vaxflow.queue.core.booking import Booking
from vaxflow.queue.server.app import create_app
from vaxflow.queue.server.appkeys import STORE
from vaxflow.queue.store import tables as t
from vaxflow.queue.store.bookings import import_bookings

from .conftest import AiohttpClient, Site, auth
from .people import resident_id


@pytest.fixture
async def kids_site(
    aiohttp_client: AiohttpClient, settings: Settings, clock: FrozenClock, db_url: str
) -> Site:
    rules = settings.age.model_copy(update={"min_age_years": 3})
    young = settings.model_copy(update={"age": rules})
    return Site(await aiohttp_client(create_app(young, db=db_url, clock=clock)), clock, young)


def _today(site: Site) -> date:
    return engine.site_day(site.clock.now(), site.settings.site.timezone)


def _years_ago(site: Site, years: int) -> date:
    today = _today(site)
    return today.replace(year=today.year - years, day=min(today.day, 28))


def _child(site: Site, n: int = 1, years: int = 10) -> dict[str, Any]:
    return {"name": f"李小明{n}", "id_number": resident_id(100 + n, _years_ago(site, years))}


def _guardian(site: Site, n: int = 1, **extra: Any) -> dict[str, Any]:
    """The guardian as the kiosk's flow sends it: the card as read, relation, consent."""
    card = Card(resident_id(200 + n, date(1986, 4, 2)), f"李大明{n}", date(1986, 4, 2), "female")
    return {
        **card.body(),
        "relation": "parent",
        "consent_version": site.settings.consent.version,
        **extra,
    }


def _body(site: Site, child: dict[str, Any], guardian: dict[str, Any] | None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "walk_in": child,
        "answers": site.answers(),
        "consent_version": site.settings.consent.version,
    }
    if guardian is not None:
        body["guardian"] = guardian
    return body


async def _rows(site: Site, table: Any) -> list[Any]:
    store = site.app[STORE]
    return await store.read(lambda conn: list(conn.execute(select(table)).all()))


async def test_a_child_needs_a_guardian_and_gets_a_ticket_with_one(kids_site: Site) -> None:
    site = kids_site
    child, guardian = _child(site), _guardian(site)
    pre = await site.post("kiosk", "/api/checkins/precheck", {"walk_in": child})
    assert (pre["minor"], pre["guardian_required"], pre["guardian"]) == (True, True, None)
    assert pre["questions"]  # asked after the guardian, but the kiosk knows them already

    refused = await site.post("kiosk", "/api/checkins", _body(site, child, None), expect=409)
    assert refused["error"]["reason"] == "guardian_required"
    assert "18" in refused["error"]["messages"]["zh-CN"]
    assert refused["error"]["hints"]["en"]

    pre = await site.post(
        "kiosk", "/api/checkins/precheck", {"walk_in": child, "guardian": guardian}
    )
    assert pre["guardian"] == {"name": "李**1", "relation": "parent"}
    assert pre["review"] == []

    ticket = await site.post("kiosk", "/api/checkins", _body(site, child, guardian))
    assert ticket["ticket"] == "W001" and ticket["age"] == 10
    assert guardian["id_number"] not in json.dumps(ticket)  # the ticket answer holds no guardian

    (row,) = await _rows(site, t.visit_identity)
    assert row.visit_id == ticket["visit_id"] and row.id_source == "id_card"
    assert (row.guardian_id_number, row.guardian_name) == (guardian["id_number"], "李大明1")
    assert (row.guardian_relation, row.guardian_consent_version) == (
        "parent",
        site.settings.consent.version,
    )
    assert row.guardian_birth_date == date(1986, 4, 2) and row.entered_by is None

    events = await _rows(site, t.events)
    consented = [e for e in events if e.kind == "guardian_consented"]
    assert len(consented) == 1 and consented[0].visit_id == ticket["visit_id"]
    payload = json.loads(consented[0].payload)
    assert payload["relation"] == "parent" and "*" in payload["guardian_id_number"]
    everything = " ".join(e.payload for e in events)
    assert guardian["id_number"] not in everything and child["id_number"] not in everything


@pytest.mark.parametrize(
    ("change", "reason", "status"),
    [
        ("same_card", "guardian_same_person", 409),
        ("minor_guardian", "guardian_is_minor", 409),
        ("no_relation", "guardian_relation_required", 409),
        ("unknown_relation", "invalid_body", 422),
        ("old_consent", "guardian_consent_required", 409),
        ("passport_at_kiosk", "guardian_age_unknown", 409),
        ("other_birth_date", "guardian_birth_date_mismatch", 409),
    ],
)
async def test_guardian_refusals_through_the_api(
    kids_site: Site, change: str, reason: str, status: int
) -> None:
    site = kids_site
    child = _child(site)
    guardian = {
        "same_card": _guardian(site, id_number=child["id_number"]),
        "minor_guardian": _guardian(
            site,
            id_number=resident_id(300, _years_ago(site, 17)),
            birth_date=_years_ago(site, 17).isoformat(),
        ),
        "other_birth_date": _guardian(site, birth_date="1986-04-03"),
        "no_relation": _guardian(site, relation=None),
        "unknown_relation": _guardian(site, relation="neighbour"),
        "old_consent": _guardian(site, consent_version="2020-01"),
        "passport_at_kiosk": _guardian(
            site, id_type="passport", id_number="E12345678", birth_date="1980-01-01"
        ),
    }[change]
    refused = await site.post("kiosk", "/api/checkins", _body(site, child, guardian), expect=status)
    assert refused["error"]["reason"] == reason
    assert await _rows(site, t.visits) == []  # nothing issued, nothing half-stored
    assert await _rows(site, t.visit_identity) == []


async def test_an_adult_with_a_guardian_stores_none(kids_site: Site) -> None:
    site = kids_site
    adult = _child(site, 2, years=30)
    pre = await site.post("kiosk", "/api/checkins/precheck", {"walk_in": adult})
    assert (pre["minor"], pre["guardian_required"]) == (False, False)
    await site.post("kiosk", "/api/checkins", _body(site, adult, _guardian(site)))
    assert await _rows(site, t.visit_identity) == []


async def test_the_station_sees_the_guardian_masked_and_the_minor_flag(kids_site: Site) -> None:
    site = kids_site
    child, guardian = _child(site), _guardian(site, relation="grandparent")
    ticket = await site.post("kiosk", "/api/checkins", _body(site, child, guardian))
    # a grandparent: the doctor checks that the parents agreed (walk-ins keep their lane until
    # the lanes part of issue 13 lands; the review reason and the flag are there already)
    await site.open("S01")
    await site.post("station", "/api/stations/S01/call-next")
    answer = await site.post("station", "/api/stations/S01/verify", {"code": child["id_number"]})
    person = answer["visit"]
    assert answer["match"] and person["id_number"] == child["id_number"]
    shown = person["guardian"]
    assert shown["name"] == "李大明1" and shown["relation"] == "grandparent"
    assert shown["relation_text"]["zh-CN"] == "祖父母/外祖父母"
    assert shown["id_number"] == guardian["id_number"][:4] + "*" * 10 + guardian["id_number"][-4:]
    assert {f["code"] for f in person["flags"]} >= {"minor", "doctor_review", "walk_in"}
    assert "guardian_not_parent" in person["review_reasons"]
    assert guardian["id_number"] not in json.dumps(answer)
    for role in ("station", "marshal"):  # the other views hold no guardian at all
        view = await site.get(role, f"/api/tickets/{ticket['ticket']}")
        assert guardian["id_number"] not in json.dumps(view) and "guardian" not in view


# --- the desk: household-register numbers typed by signed-in staff ------------------------


async def _session(site: Site, role: str = "station", staff_id: str = "N0001") -> dict[str, str]:
    response = await site.client.post(
        "/api/staff/sign-in", json={"staff_id": staff_id, "pin": "1234"}, headers=auth(role)
    )
    data = await response.json()
    assert response.status == 200, data
    return {**auth(role), "X-Staff-Session": data["session"]}


async def _desk(site: Site, body: dict[str, Any], headers: dict[str, str], expect: int) -> Any:
    response = await site.client.post("/api/desk/checkins", json=body, headers=headers)
    data = await response.json()
    assert response.status == expect, data
    return data


async def test_the_desk_needs_a_signed_in_person(kids_site: Site) -> None:
    site = kids_site
    body = _body(site, _child(site), _guardian(site))
    assert (await _desk(site, body, auth("kiosk"), 403))["error"]["reason"] == "forbidden"
    no_person = await _desk(site, body, auth("station"), 401)
    assert no_person["error"]["reason"] == "staff_sign_in_required"
    assert await _rows(site, t.visits) == []


async def test_a_child_without_a_card_is_checked_in_at_the_desk_and_audited(
    kids_site: Site,
) -> None:
    site = kids_site
    child, guardian = _child(site), _guardian(site)
    headers = await _session(site)
    pre = await site.client.post(
        "/api/desk/checkins/precheck", json={"walk_in": child}, headers=headers
    )
    assert (await pre.json())["guardian_required"] is True
    ticket = await _desk(site, _body(site, child, guardian), headers, 200)
    assert ticket["id_source"] == "household_register" and ticket["walk_in"] is True

    (row,) = await _rows(site, t.visit_identity)
    assert (row.id_source, row.entered_by) == ("household_register", "staff:N0001")
    assert row.guardian_id_number == guardian["id_number"]
    events = [e for e in await _rows(site, t.events) if e.visit_id == ticket["visit_id"]]
    kinds = {e.kind: e for e in events}
    assert {"checked_in", "id_entered_at_desk", "guardian_consented"} <= set(kinds)
    assert {kinds[k].actor for k in kinds} == {"staff:N0001"}
    assert json.loads(kinds["id_entered_at_desk"].payload) == {"id_source": "household_register"}

    await site.open("S01")
    await site.post("station", "/api/stations/S01/call-next")
    answer = await site.post("station", "/api/stations/S01/verify", {"code": ticket["ticket"]})
    assert {f["code"] for f in answer["visit"]["flags"]} >= {"minor", "household_register"}
    assert answer["visit"]["id_source"] == "household_register"


async def test_a_booked_child_at_the_desk_and_a_passport_guardian(kids_site: Site) -> None:
    site = kids_site
    child = _child(site, 3, years=7)
    booking = Booking(
        code="KID0001",
        person_name=child["name"],
        id_type="cn_resident",
        id_number=child["id_number"],
        site_id=site.settings.site.id,
        visit_date=_today(site),
        product="CORONAVAC",
        dose_number=1,
    )
    await site.app[STORE].write(lambda tx: import_bookings(tx, [booking]), actor="test")
    headers = await _session(site, "marshal", "M0001")
    passport = _guardian(site, id_type="passport", id_number="E98765432", birth_date=None)
    body = {
        "booking_code": "KID0001",
        "id_card": {"id_type": "cn_resident", **child},  # typed from the household register
        "guardian": passport,
        "answers": site.answers(),
        "consent_version": site.settings.consent.version,
    }
    unknown = await _desk(site, body, headers, 409)
    assert unknown["error"]["reason"] == "guardian_age_unknown"  # staff must type what they saw
    body["guardian"] = {**passport, "birth_date": "1979-08-08"}
    ticket = await _desk(site, body, headers, 200)
    assert ticket["walk_in"] is False and ticket["lane"] == "A"
    (row,) = await _rows(site, t.visit_identity)
    assert (row.guardian_id_type, row.guardian_birth_date) == ("passport", date(1979, 8, 8))
    assert row.entered_by == "staff:M0001"

    wrong_type = {**body, "booking_code": None, "id_card": None}
    wrong_type["walk_in"] = {"id_type": "passport", "id_number": "E1111111", "name": "X"}
    refused = await _desk(site, wrong_type, headers, 422)
    assert refused["error"]["reason"] == "household_register_resident_only"


async def test_the_kiosk_cannot_claim_a_household_register_source(kids_site: Site) -> None:
    site = kids_site
    body = {**_body(site, _child(site), _guardian(site)), "id_source": "household_register"}
    refused = await site.post("kiosk", "/api/checkins", body, expect=422)
    assert refused["error"]["reason"] == "invalid_body"
