"""Verifying the person at a station: the ticket or ID number against the call, real app."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from vaxflow.queue.server.appkeys import STORE
from vaxflow.queue.server.verify import is_id_number
from vaxflow.queue.store import tables as t

from .conftest import Site, booking_codes


def test_id_numbers_are_told_from_tickets() -> None:
    assert is_id_number("11010519491231002X") and is_id_number("h12345678")
    assert not is_id_number("A023") and not is_id_number("VXT1.demo.2026-11-21.A023")


async def _events(site: Site, kind: str) -> list[dict[str, Any]]:
    store = site.app[STORE]
    rows = await store.read(
        lambda conn: conn.execute(
            select(t.events.c.visit_id, t.events.c.payload).where(t.events.c.kind == kind)
        ).all()
    )
    return [{"visit_id": r.visit_id, "payload": r.payload} for r in rows]


async def test_the_called_persons_id_card_matches_and_starts_the_service(site: Site) -> None:
    await site.open("S01")
    codes = booking_codes(site.settings, site.clock, product="CORONAVAC", elderly=False)
    first = await site.check_in(codes[0])
    other = await site.check_in(codes[1])
    called = (await site.post("station", "/api/stations/S01/call-next"))["called"]
    assert called["ticket"] == first["ticket"]

    wrong = await site.post("station", "/api/stations/S01/verify", {"code": other["ticket"]})
    assert (wrong["match"], wrong["scanned"]) == (False, "ticket")
    assert wrong["found"]["ticket"] == other["ticket"] and "*" in wrong["found"]["id_number"]
    assert wrong["visit"]["state"] == "called"  # nothing changed but the audit
    stranger = await site.post(
        "station", "/api/stations/S01/verify", {"code": "11010519491231002X"}
    )
    assert (stranger["match"], stranger["scanned"], stranger["found"]) == (False, "id_card", None)

    card = site.card(codes[0])
    body = {"code": card["id_number"], "by": "id_reader"}
    right = await site.post("station", "/api/stations/S01/verify", body)
    assert (right["match"], right["scanned"]) == (True, "id_card")
    person = right["visit"]
    assert person["state"] == "in_service"
    assert person["id_number"] == card["id_number"]  # in full, on the verifying console only
    assert person["age"] >= 18 and person["dose_number"] >= 1
    items = person["screening_items"]
    assert [i["id"] for i in items] == [q.id for q in site.settings.questions]
    first_q = site.settings.questions[0]
    assert items[0]["text"]["zh-CN"] == first_q.text["zh-CN"] and items[0]["answer"] is False
    assert items[0]["text"]["en"] == first_q.text["en"]

    mismatches = await _events(site, "identity_mismatch")
    verified = await _events(site, "identity_verified")
    assert len(mismatches) == 2 and len(verified) == 1
    assert card["id_number"] not in str(mismatches + verified)  # never in the log
    dosed = await site.post(
        "station", "/api/stations/S01/record-dose", {"visit_id": person["visit_id"]}
    )
    assert dosed["state"] == "observing"


async def test_the_ticket_verifies_too_and_flags_show_doctor_review(site: Site) -> None:
    await site.open("S01")
    code = booking_codes(site.settings, site.clock, product="CORONAVAC", elderly=True)[0]
    ticket = await site.check_in(code)
    await site.post("station", "/api/stations/S01/call-next")
    answer = await site.post("station", "/api/stations/S01/verify", {"code": ticket["qr"]})
    assert answer["match"] is True and answer["visit"]["state"] == "in_service"
    codes = {f["code"] for f in answer["visit"]["flags"]}
    assert codes & {"doctor_review", "priority"}  # 60+: the review or the priority lane
    assert all(set(f["text"]) == {"zh-CN", "zh-TW", "en"} for f in answer["visit"]["flags"])
    again = await site.post("station", "/api/stations/S01/verify", {"code": ticket["ticket"]})
    assert again["match"] is True and again["visit"]["state"] == "in_service"  # scanning twice


async def test_nobody_called_is_a_reason_not_an_error(site: Site) -> None:
    await site.open("S01")
    refused = await site.post("station", "/api/stations/S01/verify", {"code": "A001"}, expect=409)
    assert refused["error"]["reason"] == "nobody_called"
    assert set(refused["error"]["messages"]) == {"zh-CN", "zh-TW", "en"}
