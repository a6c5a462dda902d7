"""Eligibility rules as tables, at their boundaries."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from vaxflow.config import Settings
from vaxflow.queue.core.booking import Booking, PriorDose
from vaxflow.queue.core.eligibility import (
    Decision,
    assess,
    check_age,
    check_booking_time,
    check_dose_schedule,
    check_screening,
    check_walk_in_capacity,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")
DAY = date(2026, 11, 21)


def at(hour: int, minute: int = 0, day: date = DAY) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=SHANGHAI)


def codes(decision: Decision) -> tuple[list[str], list[str]]:
    return [r.code for r in decision.refusals], [r.code for r in decision.review]


def booking(**changes: object) -> Booking:
    base = Booking(
        code="B1",
        person_name="张小明",
        id_type="cn_resident",
        id_number="110101199003070008",
        site_id="demo-stadium",
        visit_date=DAY,
        product="CORONAVAC",
        dose_number=1,
        window_start=at(9),
        window_end=at(10),
    )
    return Booking(**{**base.__dict__, **changes})


@pytest.mark.parametrize(
    ("birth", "refusals", "review"),
    [
        (date(2008, 11, 21), [], []),  # 18th birthday on the visit day
        (date(2008, 11, 22), ["too_young"], []),  # one day short of 18
        (date(2008, 2, 29), [], []),  # leap-day birthday: 18 on 28 Feb 2026
        (date(1966, 11, 21), [], ["review_age"]),  # 60 today
        (date(1966, 11, 22), [], []),  # 60 tomorrow
    ],
)
def test_age_on_the_visit_day(
    settings: Settings, birth: date, refusals: list[str], review: list[str]
) -> None:
    product = settings.product("AD5-NCOV")  # the demo's bands give it to adults only
    assert product is not None
    assert codes(check_age(settings, product, birth, DAY)) == (refusals, review)


def test_leap_day_birthday_turns_18_on_1_march_in_common_years(settings: Settings) -> None:
    product = settings.product("AD5-NCOV")
    assert product is not None
    born = date(2008, 2, 29)
    assert codes(check_age(settings, product, born, date(2026, 2, 28)))[0] == ["too_young"]
    assert codes(check_age(settings, product, born, date(2026, 3, 1)))[0] == []


def test_product_age_limits(settings: Settings) -> None:
    limited = settings.products[0].model_copy(update={"max_age_years": 59})
    assert codes(check_age(settings, limited, date(1966, 11, 22), DAY))[0] == []
    assert codes(check_age(settings, limited, date(1966, 11, 21), DAY))[0] == ["product_age_limit"]


@pytest.mark.parametrize(
    ("now", "refusal"),
    [
        (at(8, 29), "too_early"),  # window 09:00-10:00, 30 min early tolerance
        (at(8, 30), None),  # the first minute allowed
        (at(11, 0), None),  # the last minute allowed (60 min late tolerance)
        (at(11, 1), "too_late"),
        (at(9, 30, DAY + timedelta(days=1)), "wrong_day"),
        (at(9, 30, DAY - timedelta(days=1)), "wrong_day"),
    ],
)
def test_booking_window_with_tolerance(
    settings: Settings, now: datetime, refusal: str | None
) -> None:
    got = codes(check_booking_time(settings, booking(), now))[0]
    assert got == ([refusal] if refusal else [])


def test_booking_for_another_site(settings: Settings) -> None:
    other = booking(site_id="north-hall")
    assert codes(check_booking_time(settings, other, at(9)))[0] == ["wrong_site"]


def test_site_day_is_local_not_utc(settings: Settings) -> None:
    # 23:30 UTC on the 20th is 07:30 on the 21st in Shanghai: the booking day
    early = datetime(2026, 11, 20, 23, 30, tzinfo=UTC)
    open_all_day = booking(window_start=at(0), window_end=at(23, 59))
    assert codes(check_booking_time(settings, open_all_day, early))[0] == []


def _dose(
    days_ago: int, manufacturer: str = "Sinovac", n: int = 1, product: str = "CORONAVAC"
) -> PriorDose:
    return PriorDose(DAY - timedelta(days=days_ago), product, manufacturer, n)


@pytest.mark.parametrize(
    ("dose_number", "history", "refusals", "review"),
    [
        (1, [], [], []),
        (2, [_dose(21)], [], []),  # exactly the minimum interval
        (2, [_dose(20)], ["interval_too_short"], []),  # one day short
        (2, [_dose(56)], [], []),  # exactly the maximum interval
        (2, [_dose(57)], [], []),  # past it: overdue, a note for the station (overdue = regular)
        (2, [_dose(30, "Sinopharm Beijing", product="BBIBP")], ["manufacturer_mismatch"], []),
        (2, [], [], ["prior_dose_unverified"]),
        (3, [_dose(60), _dose(30, n=2)], ["booster_too_early"], []),  # 6 months after
        (1, [_dose(0)], ["already_vaccinated_today"], []),
        (1, [_dose(40)], [], ["dose_claim_mismatch"]),  # the history decides: dose 2
    ],
)
def test_dose_schedule(
    settings: Settings,
    dose_number: int,
    history: list[PriorDose],
    refusals: list[str],
    review: list[str],
) -> None:
    product = settings.product("CORONAVAC")
    assert product is not None
    assert codes(check_dose_schedule(settings, product, dose_number, history, DAY)) == (
        refusals,
        review,
    )


def test_too_short_interval_says_when_to_come_back(settings: Settings) -> None:
    product = settings.product("CORONAVAC")
    assert product is not None
    decision = check_dose_schedule(settings, product, 2, [_dose(20)], DAY)
    assert decision.refusals[0].params["earliest"] == (DAY + timedelta(days=1)).isoformat()


@pytest.mark.parametrize(
    ("issued", "capacity", "full"),
    [(0, 1, False), (299, 300, False), (300, 300, True), (0, 0, True)],
)
def test_walk_in_capacity(issued: int, capacity: int, full: bool) -> None:
    assert (not check_walk_in_capacity(issued, capacity).ok) is full


@pytest.mark.parametrize(
    ("yes", "refusals", "review"),
    [
        ([], [], []),
        (["fever"], ["deferred_by_screening"], []),
        (["severe_allergy"], [], ["screening_review"]),
        (["severe_allergy", "pregnant"], ["deferred_by_screening"], ["screening_review"]),
    ],
)
def test_screening_effects(
    settings: Settings, yes: list[str], refusals: list[str], review: list[str]
) -> None:
    answers = {q.id: q.id in yes for q in settings.questions}
    assert codes(check_screening(settings, answers)) == (refusals, review)


def test_assess_combines_every_rule(settings: Settings) -> None:
    product = settings.product("CORONAVAC")
    assert product is not None
    decision = assess(
        settings,
        product=product,
        dose_number=2,
        birth_date=date(2024, 1, 1),
        history=[_dose(10)],
        now=at(12),
        booking=booking(dose_number=2),
    )
    assert codes(decision)[0] == ["too_late", "too_young", "interval_too_short"]
