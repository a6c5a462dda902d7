"""Check-in through the real API: a booked walk from QR to ticket, and every refusal."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from aiohttp.test_utils import TestServer

from vaxflow.clock import FrozenClock
from vaxflow.config import Settings
from vaxflow.queue.bookings import signed_qr
from vaxflow.queue.bookings.sim_service import create_service
from vaxflow.queue.core import engine
from vaxflow.queue.core.booking import Booking
from vaxflow.queue.demo.demo_data import make_people, seed_bookings
from vaxflow.queue.server.app import create_app
from vaxflow.queue.server.appkeys import STORE

from .conftest import AiohttpClient, Site, auth, booking_codes
from .people import resident_id, walk_in_body

PRIVATE, PUBLIC = signed_qr.new_key()


def _young(site: Site, product: str = "CORONAVAC") -> str:
    return booking_codes(site.settings, site.clock, product=product, elderly=False)[0]


async def test_booked_check_in_precheck_questions_then_ticket(site: Site) -> None:
    code = _young(site)
    body = site.check_in_body(code)
    pre = await site.post(
        "kiosk", "/api/checkins/precheck", {"booking_qr": code, "id_card": body["id_card"]}
    )
    assert pre["eligible"] is True
    assert [q["id"] for q in pre["questions"]] == [q.id for q in site.settings.questions]
    assert pre["questions"][0]["text"]["zh-CN"].startswith("您今天是否发热")
    assert pre["consent"]["version"] == site.settings.consent.version
    assert "*" in pre["person"]["id_number"] and "*" in pre["person"]["name"]
    ticket = await site.post(
        "kiosk", "/api/checkins", {**body, "booking_code": None, "booking_qr": code}
    )
    assert ticket["ticket"] == "A001"


@pytest.mark.parametrize(
    "qr",
    [
        "https://booking.example/b?code={code}",
        "https://booking.example/bookings/{code}",
        "  {code}\r\n",
    ],
)
async def test_booking_codes_inside_urls(site: Site, qr: str) -> None:
    code = _young(site)
    body = {**site.check_in_body(code), "booking_code": None, "booking_qr": qr.format(code=code)}
    assert (await site.post("kiosk", "/api/checkins", body))["ticket"] == "A001"


async def test_id_card_of_someone_else_is_refused(site: Site) -> None:
    code, other = booking_codes(site.settings, site.clock, product="CORONAVAC", elderly=False)[:2]
    body = {**site.check_in_body(code), "id_card": site.card(other)}
    refused = await site.post("kiosk", "/api/checkins", body, expect=409)
    assert refused["error"]["reason"] == "id_mismatch"
    assert refused["error"]["messages"]["zh-TW"] == "此證件與預約資訊不符。請使用預約時登記的證件。"
    no_card = {**site.check_in_body(code), "id_card": None}
    refused = await site.post("kiosk", "/api/checkins", no_card, expect=409)
    assert refused["error"]["reason"] == "id_card_required"


async def test_screening_defers_or_refers(site: Site) -> None:
    code, second = booking_codes(site.settings, site.clock, product="CORONAVAC", elderly=False)[:2]
    fever = site.check_in_body(code, answers=site.answers(fever=True))
    refused = await site.post("kiosk", "/api/checkins", fever, expect=409)
    assert refused["error"]["reason"] == "deferred_by_screening"
    assert refused["error"]["details"]["question"] == "fever"
    allergy = site.check_in_body(second, answers=site.answers(severe_allergy=True))
    ticket = await site.post("kiosk", "/api/checkins", allergy)
    assert ticket["lane"] == "E"  # the doctor-review (priority) lane
    assert "screening" not in ticket  # health answers are for the verifying station only
    assert "screening" not in await site.get("station", f"/api/tickets/{ticket['ticket']}")
    await site.open("S01")
    called = await site.post("station", "/api/stations/S01/call-next")
    assert called["called"]["ticket"] == ticket["ticket"]
    for_station = await site.get("station", f"/api/tickets/{ticket['ticket']}")
    assert for_station["screening"]["severe_allergy"] is True
    assert for_station["review_reasons"] == ["screening_review"]
    assert for_station["consent_version"] == site.settings.consent.version
    missing = site.check_in_body(code, answers={"fever": False})
    refused = await site.post("kiosk", "/api/checkins", missing, expect=422)
    assert refused["error"]["reason"] == "answers_missing"
    assert "pregnant" in refused["error"]["details"]["missing"]


async def test_consent_must_be_the_current_version(site: Site) -> None:
    body = site.check_in_body(_young(site), consent_version="2020-01")
    refused = await site.post("kiosk", "/api/checkins", body, expect=409)
    assert refused["error"]["reason"] == "consent_required"
    assert refused["error"]["messages"]["en"].startswith("Please read and agree")


async def test_walk_in_then_the_same_person_again(site: Site) -> None:
    body = walk_in_body(site.settings, 5)
    ticket = await site.post("kiosk", "/api/checkins", body)
    assert (ticket["ticket"], ticket["walk_in"]) == ("W001", True)
    again = await site.post("kiosk", "/api/checkins", body, expect=409)
    assert again["error"]["reason"] == "already_checked_in"
    assert again["error"]["details"]["ticket"] == "W001"


async def test_a_child_walking_in_is_refused(site: Site) -> None:
    child = walk_in_body(site.settings, 6)
    child["walk_in"]["id_number"] = resident_id(6, site.clock.now().date().replace(year=2024))  # type: ignore[index]
    refused = await site.post("kiosk", "/api/checkins", child, expect=409)
    assert refused["error"]["reason"] == "too_young"
    assert refused["error"]["messages"]["zh-CN"] == "本接种点仅为 3 周岁及以上人员接种。"


async def test_bad_id_number_is_refused(site: Site) -> None:
    body = walk_in_body(site.settings, 7)
    body["walk_in"]["id_number"] = "110101199003070071"  # type: ignore[index]
    refused = await site.post("kiosk", "/api/checkins", body, expect=422)
    assert refused["error"]["reason"] == "bad_id_number"


# --- signed QR bookings --------------------------------------------------------------------


@pytest.fixture
async def qr_site(
    aiohttp_client: AiohttpClient, settings: Settings, clock: FrozenClock, tmp_path: Path
) -> Site:
    keyed = settings.model_copy(
        update={"booking": settings.booking.model_copy(update={"public_keys": {"k1": PUBLIC}})}
    )
    app = create_app(keyed, db=str(tmp_path / "qr.sqlite"), clock=clock)
    return Site(await aiohttp_client(app), clock, keyed)


def _signed_person(site: Site, n: int = 0, **window: Any) -> Booking:
    day = engine.site_day(site.clock.now(), site.settings.site.timezone)
    zone = ZoneInfo(site.settings.site.timezone)
    person = [
        p
        for p in make_people(site.settings, day, 50, seed=3)
        if p.dose_number == 1 and p.birth_date and engine.age_on(p.birth_date, day) < 60
    ][n]
    start = window.get("start", time(0, 0))
    end = window.get("end", time(23, 59))
    return Booking(
        **{
            **person.__dict__,
            "code": f"QR{n}",
            "window_start": datetime.combine(day, start, zone),
            "window_end": datetime.combine(day, end, zone),
        }
    )


def _qr_body(site: Site, person: Booking, qr: str) -> dict[str, Any]:
    return {
        "booking_qr": qr,
        "id_card": {"id_number": person.id_number, "name": person.person_name},
        "answers": site.answers(),
        "consent_version": site.settings.consent.version,
    }


async def test_signed_qr_booking_checks_in_once(qr_site: Site) -> None:
    person = _signed_person(qr_site)
    qr = signed_qr.sign(person, PRIVATE, "k1", qr_site.settings.site.timezone)
    ticket = await qr_site.post("kiosk", "/api/checkins", _qr_body(qr_site, person, qr))
    assert ticket["ticket"] == "A001"
    again = await qr_site.post("kiosk", "/api/checkins", _qr_body(qr_site, person, qr), expect=409)
    assert again["error"]["reason"] == "already_checked_in"


async def test_forged_qr_is_refused(qr_site: Site) -> None:
    person = _signed_person(qr_site)
    forged_key, _ = signed_qr.new_key()
    qr = signed_qr.sign(person, forged_key, "k1", qr_site.settings.site.timezone)
    refused = await qr_site.post(
        "kiosk", "/api/checkins", _qr_body(qr_site, person, qr), expect=409
    )
    assert refused["error"]["reason"] == "qr_tampered"
    assert refused["error"]["messages"]["zh-CN"] == "此预约二维码无效。请到服务台处理。"


async def test_signed_booking_outside_its_window(qr_site: Site) -> None:
    # the frozen clock says 16:00 in Shanghai; this booking was for 09:00-10:00
    person = _signed_person(qr_site, 1, start=time(9, 0), end=time(10, 0))
    qr = signed_qr.sign(person, PRIVATE, "k1", qr_site.settings.site.timezone)
    refused = await qr_site.post(
        "kiosk", "/api/checkins", _qr_body(qr_site, person, qr), expect=409
    )
    assert refused["error"]["reason"] == "too_late"
    assert refused["error"]["details"]["edge"] == "11:00"


# --- the booking service -------------------------------------------------------------------


async def test_codes_not_on_the_list_are_asked_of_the_booking_service(
    aiohttp_client: AiohttpClient, settings: Settings, clock: FrozenClock, tmp_path: Path
) -> None:
    day = engine.site_day(clock.now(), settings.site.timezone)
    remote = [
        Booking(**{**p.__dict__, "code": f"SVC{i}", "source": "service"})
        for i, p in enumerate(make_people(settings, day, 5, seed=99))
    ]
    service = TestServer(create_service(remote))
    await service.start_server()
    try:
        configured = settings.model_copy(
            update={
                "booking": settings.booking.model_copy(
                    update={"service_url": str(service.make_url("/"))}
                )
            }
        )
        app = create_app(configured, db=str(tmp_path / "svc.sqlite"), clock=clock)
        client = await aiohttp_client(app)
        await app[STORE].write(lambda tx: seed_bookings(tx, configured, day, 20), actor="t")
        site = Site(client, clock, configured)
        person = remote[0]
        body = {
            "booking_qr": "SVC0",
            "id_card": {"id_number": person.id_number, "name": person.person_name},
            "answers": site.answers(),
            "consent_version": configured.consent.version,
        }
        ticket = await site.post("kiosk", "/api/checkins", body)
        assert ticket["ticket"][0] in "AE"
        unknown = await site.post(
            "kiosk", "/api/checkins", {**body, "booking_qr": "NOPE"}, expect=404
        )
        assert unknown["error"]["reason"] == "unknown_booking"
        listed = site.check_in_body("DEMO0001")
        assert (await site.post("kiosk", "/api/checkins", listed))["visit_id"]
    finally:
        await service.close()
    # the service is gone: a code only it knew gets a clear 503, not a hang
    down = await client.post(
        "/api/checkins", json={**body, "booking_qr": "SVC1"}, headers=auth("kiosk")
    )
    assert down.status == 503
    assert (await down.json())["error"]["reason"] == "booking_service_unavailable"


async def test_dose_two_uses_this_sites_own_records(site: Site) -> None:
    """A person vaccinated here 28 days ago comes back as a walk-in for dose 2."""
    first = walk_in_body(site.settings, 11)
    ticket = await site.post("kiosk", "/api/checkins", first)
    await site.open("S01")
    await site.post("station", "/api/stations/S01/call-next")
    await site.post("station", "/api/stations/S01/start-service", {"code": ticket["ticket"]})
    await site.post("station", "/api/stations/S01/record-dose", {"visit_id": ticket["visit_id"]})
    site.clock.advance(minutes=31)
    await site.post("observer", "/api/exit-scan", {"code": ticket["ticket"]})
    second = walk_in_body(site.settings, 11)
    second["walk_in"]["dose_number"] = 2  # type: ignore[index]
    site.clock.advance(timedelta(days=20).total_seconds())
    early = await site.post("kiosk", "/api/checkins", second, expect=409)
    assert early["error"]["reason"] == "interval_too_short"
    site.clock.advance(timedelta(days=1).total_seconds())
    assert (await site.post("kiosk", "/api/checkins", second))["dose_number"] == 2


# --- scans in any form: full-width (a Chinese input method), IME punctuation, invisibles -----


def _wide(text: str) -> str:
    """What a Chinese input method in full-width mode types for ASCII."""
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in text)


@pytest.mark.parametrize(
    ("field", "form"),
    [
        ("booking_qr", "{wide}"),
        ("booking_code", "{wide}"),
        ("booking_qr", "\u200b{code}\u3000"),
        ("booking_code", "\ufeff{code} "),
        ("booking_qr", _wide("https://book.example/c?code=") + "{wide}"),
    ],
)
async def test_full_width_and_ime_booking_codes_check_in(site: Site, field: str, form: str) -> None:
    code = _young(site)
    scanned = form.format(code=code, wide=_wide(code))
    body = {**site.check_in_body(code), "booking_code": None, "booking_qr": None, field: scanned}
    pre = await site.post(
        "kiosk", "/api/checkins/precheck", {field: scanned, "id_card": body["id_card"]}
    )
    assert pre["eligible"] is True
    assert (await site.post("kiosk", "/api/checkins", body))["ticket"] == "A001"


@pytest.mark.parametrize("form", ["wide", "ideographic_full_stops"])
async def test_full_width_signed_qr_checks_in(qr_site: Site, form: str) -> None:
    person = _signed_person(qr_site)
    qr = signed_qr.sign(person, PRIVATE, "k1", qr_site.settings.site.timezone)
    scanned = _wide(qr) if form == "wide" else qr.replace(".", "。")
    assert scanned.startswith("ＶＸＢ１．") or "。" in scanned
    ticket = await qr_site.post("kiosk", "/api/checkins", _qr_body(qr_site, person, scanned))
    assert ticket["ticket"] == "A001"
