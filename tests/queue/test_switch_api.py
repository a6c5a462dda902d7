"""Through the real app: completing a series with another manufacturer only as a doctor's
recorded, audited decision at the station (never at the kiosk); no dose before a passport
holder's birth date is confirmed; a birth date confirmed at the desk that makes a minor needs
a guardian."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import pytest
from sqlalchemy import Connection, select

from vaxflow.clock import FrozenClock
from vaxflow.config import Settings
from vaxflow.queue.core import engine
from vaxflow.queue.server.app import create_app
from vaxflow.queue.server.appkeys import STORE
from vaxflow.queue.store import tables as t

from .conftest import AiohttpClient, Site, auth
from .people import walk_in_body
from .test_schedule_api import _body, _booked, _pre

STATION = "S01"  # gives CORONAVAC and BBIBP


async def _session(site: Site, role: str = "station", staff_id: str = "N0001") -> dict[str, str]:
    response = await site.client.post(
        "/api/staff/sign-in", json={"staff_id": staff_id, "pin": "1234"}, headers=auth(role)
    )
    data = await response.json()
    assert response.status == 200, data
    return {**auth(role), "X-Staff-Session": data["session"]}


async def _post(
    site: Site, path: str, body: dict[str, Any], headers: dict[str, str], expect: int = 200
) -> Any:
    response = await site.client.post(path, json=body, headers=headers)
    data = await response.json()
    assert response.status == expect, data
    return data


async def _events(site: Site, kind: str) -> list[Any]:
    def read(conn: Connection) -> list[Any]:
        return list(conn.execute(select(t.events).where(t.events.c.kind == kind)).all())

    return await site.app[STORE].read(read)


async def _rows(site: Site, table: Any) -> list[Any]:
    return await site.app[STORE].read(lambda conn: list(conn.execute(select(table)).all()))


async def _at_station(site: Site, ticket: dict[str, Any], product: str) -> dict[str, Any]:
    """Open the station with `product`, call the person and verify their ticket."""
    await site.open(STATION, product)
    called = await site.post("station", f"/api/stations/{STATION}/call-next")
    assert called["called"]["visit_id"] == ticket["visit_id"]
    answer = await site.post("station", f"/api/stations/{STATION}/verify", {"code": ticket["qr"]})
    assert answer["match"]
    person: dict[str, Any] = answer["visit"]
    return person


def _dose(site: Site, ticket: dict[str, Any], expect: int = 200) -> Any:
    return site.post(
        "station",
        f"/api/stations/{STATION}/record-dose",
        {"visit_id": ticket["visit_id"]},
        expect=expect,
    )


def _decide(approve: bool, reason: str = "CoronaVac out of stock at this site") -> dict[str, Any]:
    return {"kind": "manufacturer_switch", "approve": approve, "reason": reason}


# --- the kiosk: a switch goes to a doctor, what the policy forbids stays refused -------------


@pytest.mark.parametrize("claimed", [2, 3])
async def test_the_kiosk_sends_a_switch_to_a_doctor_naming_both_manufacturers(
    site: Site, claimed: int
) -> None:
    """One Sinovac dose 28 days ago, booked for Sinopharm: a doctor-review ticket, never a dose."""
    booking = await _booked(site, 40 + claimed, "BBIBP", claimed, [(28, "CORONAVAC")])
    pre = await site.post("kiosk", "/api/checkins/precheck", _pre(site, booking))
    switch = next(r for r in pre["review"] if r["code"] == "manufacturer_switch_needs_doctor")
    assert (switch["previous"], switch["booked"]) == ("Sinovac", "Sinopharm Beijing")
    assert pre["dose_number"] == 2
    ticket = await site.post("kiosk", "/api/checkins", _body(site, booking))
    assert ticket["lane"] == "E"  # the demo's review lane (priority)
    waiting = await site.get("station", f"/api/tickets/{ticket['ticket']}")
    assert "review_reasons" not in waiting  # no station serves the person yet: masked
    # a kiosk can record no decision, and no dose is given without one
    await site.post(
        "kiosk", f"/api/visits/{ticket['visit_id']}/decisions", _decide(True), expect=403
    )
    person = await _at_station(site, ticket, "BBIBP")
    assert "manufacturer_switch_needs_doctor" in person["review_reasons"]
    (needed,) = person["doctor_decisions"]["needed"]
    assert (needed["kind"], needed["previous"], needed["booked"]) == (
        "manufacturer_switch",
        "Sinovac",
        "Sinopharm Beijing",
    )
    refused = await _dose(site, ticket, expect=409)
    assert refused["error"]["reason"] == "doctor_decision_required"
    assert refused["error"]["details"]["previous"] == "Sinovac"
    assert "Sinovac" in refused["error"]["hints"]["en"]
    assert await _rows(site, t.doses) == []


@pytest.mark.parametrize(
    ("claimed", "earlier", "reason"),
    [
        (1, [(28, "CORONAVAC")], "manufacturer_mismatch"),  # dose 1 of a new series
        (2, [(20, "CORONAVAC")], "manufacturer_mismatch"),  # and too soon: no doctor may
        (1, [(90, "AD5-NCOV")], "series_complete"),  # a finished one-dose series
    ],
)
async def test_what_the_policy_forbids_stays_refused_at_the_kiosk(
    site: Site, claimed: int, earlier: list[tuple[int, str]], reason: str
) -> None:
    booking = await _booked(site, 50 + len(earlier) + claimed * 3, "BBIBP", claimed, earlier)
    for path, body in [
        ("/api/checkins/precheck", _pre(site, booking)),
        ("/api/checkins", _body(site, booking)),
    ]:
        refused = await site.post("kiosk", path, body, expect=409)
        assert refused["error"]["reason"] == reason
    assert await _rows(site, t.visits) == []


# --- the station: a signed-in doctor decides, audited ----------------------------------------


async def test_an_approved_switch_lets_the_dose_be_recorded_and_is_audited(site: Site) -> None:
    booking = await _booked(site, 61, "BBIBP", 2, [(28, "CORONAVAC")])
    ticket = await site.post("kiosk", "/api/checkins", _body(site, booking))
    await _at_station(site, ticket, "BBIBP")
    path = f"/api/visits/{ticket['visit_id']}/decisions"
    # a device token alone is not a person: the decision needs a signed-in staff member
    unsigned = await site.post("station", path, _decide(True), expect=401)
    assert unsigned["error"]["reason"] == "staff_sign_in_required"
    await _dose(site, ticket, expect=409)

    doctor = await _session(site)
    answer = await _post(site, path, _decide(True), doctor)
    decision = answer["decision"]
    assert (decision["approve"], decision["decided_by"], decision["dose_number"]) == (
        True,
        "staff:N0001",
        2,
    )
    again = await _post(site, path, _decide(False), doctor, expect=409)
    assert again["error"]["reason"] == "decision_already_recorded"

    dosed = await _dose(site, ticket)
    assert (dosed["state"], dosed["dose_number"]) == ("observing", 2)
    (dose,) = await _rows(site, t.doses)
    assert (dose.manufacturer, dose.dose_number) == ("Sinopharm Beijing", 2)

    (event,) = await _events(site, "doctor_decision")
    assert (event.actor, event.visit_id) == ("staff:N0001", ticket["visit_id"])
    payload = json.loads(event.payload)
    assert payload == {
        "ticket": ticket["ticket"],
        "kind": "manufacturer_switch",
        "approve": True,
        "staff_id": "N0001",
        "previous": "Sinovac",
        "booked": "Sinopharm Beijing",
        "dose_number": 2,
    }
    assert booking.id_number not in event.payload and "out of stock" not in event.payload
    (row,) = await _rows(site, t.doctor_decisions)
    assert (row.reason, row.decided_by) == ("CoronaVac out of stock at this site", "staff:N0001")


async def test_a_declined_switch_ends_the_visit_for_today(site: Site) -> None:
    booking = await _booked(site, 62, "BBIBP", 2, [(28, "CORONAVAC")])
    ticket = await site.post("kiosk", "/api/checkins", _body(site, booking))
    await _at_station(site, ticket, "BBIBP")
    doctor = await _session(site, "marshal", "M0001")  # a marshal's console may decide too
    path = f"/api/visits/{ticket['visit_id']}/decisions"
    answer = await _post(site, path, _decide(False, "wait for CoronaVac next week"), doctor)
    assert answer["visit"]["state"] == "deferred"
    assert answer["visit"]["reason"].startswith("manufacturer_switch_declined")
    stations = await site.get("station", "/api/stations")
    assert next(s for s in stations if s["station_id"] == STATION)["visit_id"] is None
    refused = await _dose(site, ticket, expect=409)
    assert refused["error"]["reason"] == "not_in_service"
    (event,) = await _events(site, "doctor_decision")
    assert json.loads(event.payload)["approve"] is False and event.actor == "staff:M0001"
    assert await _rows(site, t.doses) == []


async def test_a_decision_is_refused_where_none_is_needed(site: Site) -> None:
    ticket = await site.post("kiosk", "/api/checkins", walk_in_body(site.settings, 63))
    doctor = await _session(site)
    path = f"/api/visits/{ticket['visit_id']}/decisions"
    refused = await _post(site, path, _decide(True), doctor, expect=409)
    assert refused["error"]["reason"] == "decision_not_needed"
    bad = await _post(site, path, {**_decide(True), "reason": ""}, doctor, expect=422)
    assert bad["error"]["reason"] == "invalid_body"


# --- birth dates: confirmed at the desk before the dose; a minor needs a guardian -------------


def _passport(site: Site, n: int) -> dict[str, Any]:
    return {
        "walk_in": {"id_type": "passport", "id_number": f"E{n:08d}", "name": "SMITH JOHN"},
        "answers": site.answers(),
        "consent_version": site.settings.consent.version,
    }


def _years_ago(site: Site, years: int) -> date:
    today = engine.site_day(site.clock.now(), site.settings.site.timezone)
    return today.replace(year=today.year - years, day=min(today.day, 28))


async def test_an_unconfirmed_birth_date_blocks_the_dose_until_confirmed(site: Site) -> None:
    ticket = await site.post("kiosk", "/api/checkins", _passport(site, 70))
    await _at_station(site, ticket, "CORONAVAC")
    refused = await _dose(site, ticket, expect=409)
    assert refused["error"]["reason"] == "birth_date_unconfirmed"
    assert refused["error"]["hints"]["en"]
    assert await _rows(site, t.doses) == []
    path = f"/api/visits/{ticket['visit_id']}/birth-date"
    await site.post("marshal", path, {"birth_date": _years_ago(site, 30).isoformat()})
    dosed = await _dose(site, ticket)
    assert dosed["state"] == "observing"


@pytest.fixture
async def kids_site(
    aiohttp_client: AiohttpClient, settings: Settings, clock: FrozenClock, db_url: str
) -> Site:
    rules = settings.age.model_copy(update={"min_age_years": 3})
    young = settings.model_copy(update={"age": rules})
    return Site(await aiohttp_client(create_app(young, db=db_url, clock=clock)), clock, young)


async def test_a_birth_date_confirmed_at_the_desk_that_makes_a_minor_needs_a_guardian(
    kids_site: Site,
) -> None:
    site = kids_site
    ticket = await site.post("kiosk", "/api/checkins", _passport(site, 71))
    path = f"/api/visits/{ticket['visit_id']}/birth-date"
    refused = await site.post(
        "marshal", path, {"birth_date": _years_ago(site, 10).isoformat()}, expect=409
    )
    error = refused["error"]
    assert error["reason"] == "guardian_required"
    assert error["details"]["check_in_again"] is True and error["hints"]["zh-CN"]
    (visit,) = await _rows(site, t.visits)
    assert visit.birth_date is None  # nothing changed: the dose stays blocked
    assert json.loads(visit.review_reasons) == ["birth_date_unconfirmed"]
    assert await _events(site, "birth_date_confirmed") == []
    adult = await site.post("marshal", path, {"birth_date": _years_ago(site, 18).isoformat()})
    assert adult["age"] == 18


async def test_the_station_console_asks_for_the_doctor_and_then_doses(site: Site) -> None:
    """The Kivy console's view-model: the decision is shown, asked of a signed-in person."""
    from vaxflow.queue.client.site import SiteClient
    from vaxflow.queue.client.station_console import StationConsole

    booking = await _booked(site, 64, "BBIBP", 2, [(28, "CORONAVAC")])
    ticket = await site.post("kiosk", "/api/checkins", _body(site, booking))
    base = str(site.client.make_url("")).rstrip("/")
    async with SiteClient(base, "demo-station-token") as client:
        console = StationConsole(client, STATION, "Nurse Li")
        view = console.view
        await console.open("BBIBP", "LOT-B1")
        await console.call_next()
        await console.verify(ticket["qr"])
        needed = view.decision_needed
        assert needed is not None
        assert (needed["previous"], needed["booked"]) == ("Sinovac", "Sinopharm Beijing")
        await console.record_dose()
        assert view.message is not None and "doctor_decision_required" in view.message[1]
        await console.decide(True, "CoronaVac out of stock")
        assert view.message is not None and "staff_sign_in_required" in view.message[1]
        session = await _session(site)
        client.set_staff_session(session["X-Staff-Session"])
        await console.decide(True, " ")
        assert view.message == ("warn", "请填写医生意见")
        await console.decide(True, "CoronaVac out of stock")
        assert view.decision_needed is None and view.message is not None
        assert view.message[0] == "ok"
        await console.record_dose()
        assert view.person is None and view.message is not None and view.message[0] == "ok"
    (dose,) = await _rows(site, t.doses)
    assert (dose.manufacturer, dose.dose_number, dose.vaccinator) == (
        "Sinopharm Beijing",
        2,
        "王芳 Wang Fang (N0001)",
    )


async def test_a_switch_declined_before_the_call_leaves_the_queue(site: Site) -> None:
    """A doctor in the review area may decide before a station calls the person."""
    booking = await _booked(site, 65, "BBIBP", 2, [(28, "CORONAVAC")])
    ticket = await site.post("kiosk", "/api/checkins", _body(site, booking))
    doctor = await _session(site)
    path = f"/api/visits/{ticket['visit_id']}/decisions"
    answer = await _post(site, path, _decide(False, "wait for CoronaVac"), doctor)
    assert answer["visit"]["state"] == "deferred"
    await site.open(STATION, "BBIBP")
    called = await site.post("station", f"/api/stations/{STATION}/call-next")
    assert called["called"] is None
