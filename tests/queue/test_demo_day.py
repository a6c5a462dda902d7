"""The demo's day list holds every class the schedule policy is for, and each gets its outcome.

Second doses, boosters, children with a guardian, another manufacturer's earlier dose (refused
with its reason) and card-only booked people: through the booking CSV and the real API, as the
demo's simulated kiosks and the soak send them (`vaxflow.queue.demo.demo_day`).
"""

from __future__ import annotations

from collections import Counter
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from vaxflow.clock import FrozenClock
from vaxflow.config import Settings
from vaxflow.queue.bookings.csv_import import check_csv, to_csv
from vaxflow.queue.core import engine, schedule
from vaxflow.queue.demo.demo_day import DemoPerson, kiosk_body, make_day
from vaxflow.queue.server.app import create_app
from vaxflow.queue.server.appkeys import STORE
from vaxflow.queue.store.bookings import import_bookings

from .conftest import AiohttpClient, Site, auth


def _today(clock: FrozenClock, settings: Settings) -> date:
    return engine.site_day(clock.now(), settings.site.timezone)


def test_the_day_holds_every_class_in_realistic_shares(settings: Settings) -> None:
    day = date(2026, 11, 21)
    people = make_day(settings, day, 2000)
    kinds = Counter(p.kind for p in people)
    assert 0.10 < kinds["booster"] / 2000 < 0.15
    assert 0.05 < kinds["child"] / 2000 < 0.10
    assert 0.005 < kinds["other_maker"] / 2000 < 0.015
    assert 0.08 < sum(p.card_only for p in people) / 2000 < 0.12
    second = [p for p in people if p.kind == "adult" and p.booking.dose_number == 2]
    assert len(second) > 300  # second doses with the first in the history
    assert all(len(p.booking.prior_doses) == 1 for p in second)
    assert {p.booking.product for p in people if p.kind == "booster"} >= {"CORONAVAC", "AD5-NCOV"}
    relations = Counter(p.guardian["relation"] for p in people if p.guardian)
    assert relations["parent"] > relations["grandparent"] > 0
    assert make_day(settings, day, 300) == people[:300]  # deterministic


def test_the_policy_gives_each_class_what_the_day_list_expects(settings: Settings) -> None:
    """The real schedule policy on every person: no surprise refusal, review or dose."""
    day = date(2026, 11, 21)
    for person in make_day(settings, day, 2000):
        booking = person.booking
        product = settings.product(booking.product)
        assert product is not None
        plan = schedule.plan_dose(
            settings,
            product,
            booking.prior_doses,
            day=day,
            birth_date=booking.birth_date,
            claimed=booking.dose_number,
        )
        refusals = [r.code for r in plan.decision.refusals]
        review = {r.code for r in plan.decision.review} - {"review_age"}
        if person.kind == "other_maker":
            assert refusals == ["manufacturer_mismatch"], (person, refusals)
            continue
        assert (refusals, review) == ([], set()), (person, refusals, review)
        assert plan.dose_number == booking.dose_number == len(booking.prior_doses) + 1
        assert (plan.kind is schedule.DoseKind.BOOSTER) == (person.kind == "booster")
        assert booking.birth_date is not None
        assert (engine.age_on(booking.birth_date, day) < 18) == (person.kind == "child")


def test_the_day_list_passes_the_booking_csv_importer(settings: Settings) -> None:
    day = date(2026, 11, 21)
    people = make_day(settings, day, 500)
    checked = check_csv(to_csv([p.booking for p in people], "Asia/Shanghai").encode(), settings)
    assert checked.problems == []
    assert [
        (b.dose_number, [(d.given_on, d.product) for d in b.prior_doses]) for b in checked.bookings
    ] == [
        (p.booking.dose_number, [(d.given_on, d.product) for d in p.booking.prior_doses])
        for p in people
    ]


@pytest.fixture
async def day_site(
    aiohttp_client: AiohttpClient, settings: Settings, clock: FrozenClock, tmp_path: Path
) -> tuple[Site, list[DemoPerson]]:
    """A server with 150 people of the demo's day list imported through the CSV checker."""
    app = create_app(settings, db=str(tmp_path / "day.sqlite"), clock=clock)
    client = await aiohttp_client(app)
    day = _today(clock, settings)
    people = make_day(settings, day, 150, seed=3)
    text = to_csv([p.booking for p in people], settings.site.timezone)
    checked = check_csv(text.encode(), settings, day)
    assert checked.problems == []
    await app[STORE].write(lambda tx: import_bookings(tx, checked.bookings), actor="test")
    return Site(client, clock, settings), people


async def test_each_class_checks_in_as_the_kiosk_sends_it(
    day_site: tuple[Site, list[DemoPerson]],
) -> None:
    site, people = day_site
    day = _today(site.clock, site.settings)
    screening: dict[str, Any] = {
        "answers": site.answers(),
        "consent_version": site.settings.consent.version,
    }
    seen: Counter[str] = Counter()
    for n, person in enumerate(people):
        booking = person.booking
        body = {**kiosk_body(person, {"booking_qr": booking.code}), **screening}
        headers = {**auth("kiosk"), "X-Device-Id": f"kiosk-{n:03d}"}  # one person each
        response = await site.client.post("/api/checkins", json=body, headers=headers)
        answer = await response.json()
        if person.refused:
            assert response.status == 409, answer
            assert answer["error"]["reason"] == person.refused
            details = answer["error"]["details"]
            assert details["date"] == booking.prior_doses[0].given_on.isoformat()
            seen["refused"] += 1
            continue
        assert response.status == 200, (person, answer)
        assert booking.birth_date is not None
        elderly = engine.age_on(booking.birth_date, day) >= 60
        assert answer["lane"] == ("E" if elderly or person.review else "A"), (person, answer)
        assert answer["dose_number"] == len(booking.prior_doses) + 1
        assert (answer["dose_kind"] == "booster") == (person.kind == "booster")
        seen[person.kind] += 1  # card-only people too: in a booked lane (above), not W
        seen["card_only"] += person.card_only
    assert all(seen[k] for k in ("adult", "booster", "child", "refused", "card_only")), seen
    stats = await site.get("marshal", "/api/stats")
    assert stats["tickets_issued"] == len(people) - seen["refused"]
