"""The schedule policy at its boundaries: intervals, windows, boosters, age bands by date.

Two policies as the notices stated them: 2021 (inactivated 2 doses 21-56 days apart, CanSino
one dose, ZF2001 three doses with dose 3 within 180 days of dose 1; ages opened 18-59, then
60+, then 12-17, then 3-11) and 2022 (a booster 6 months after a completed primary series).
"""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from vaxflow.config import Settings
from vaxflow.queue.core.booking import PriorDose
from vaxflow.queue.core.decision import Decision
from vaxflow.queue.core.eligibility import evaluate
from vaxflow.queue.core.schedule import DoseKind, NotCounted, add_months, match_product, plan_dose

SHANGHAI = ZoneInfo("Asia/Shanghai")
ADULT = date(1990, 3, 7)

PRODUCTS: list[dict[str, Any]] = [
    {
        "code": "CORONAVAC",
        "name": "CoronaVac",
        "manufacturer": "Sinovac",
        "platform": "inactivated",
        "aliases": ["Sinovac CoronaVac", "克尔来福"],
        "doses_in_series": 2,
        "min_interval_days": 21,
        "max_interval_days": 56,
    },
    {
        "code": "BBIBP",
        "name": "BBIBP-CorV",
        "manufacturer": "Sinopharm Beijing",
        "platform": "inactivated",
        "doses_in_series": 2,
        "min_interval_days": 21,
        "max_interval_days": 56,
    },
    {
        "code": "AD5-NCOV",
        "name": "Ad5-nCoV",
        "manufacturer": "CanSino",
        "platform": "adenovirus_vector",
        "doses_in_series": 1,
        "min_interval_days": 0,
    },
    {
        "code": "ZF2001",
        "name": "ZF2001",
        "manufacturer": "Anhui Zhifei Longcom",
        "platform": "recombinant_protein",
        "doses_in_series": 3,
        "min_interval_days": 30,
        "max_interval_days": 180,
        "series_window_days": 180,
    },
]
BANDS_2021: list[dict[str, Any]] = [
    {"min_age_years": 18, "max_age_years": 59, "effective_from": date(2021, 1, 1)},
    {"min_age_years": 60, "effective_from": date(2021, 3, 27)},
    {"min_age_years": 12, "max_age_years": 17, "effective_from": date(2021, 7, 20)},
    {"min_age_years": 3, "max_age_years": 11, "effective_from": date(2021, 10, 25)},
]
BOOSTERS_2022: list[dict[str, Any]] = [
    {
        "effective_from": date(2021, 10, 1),
        "after_platforms": ["inactivated"],
        "months_after_completion": 6,
        "products": ["CORONAVAC", "BBIBP"],
        "relation": "same_platform",
        "min_age_years": 18,
    },
    {
        "effective_from": date(2022, 2, 19),
        "after_platforms": ["inactivated"],
        "months_after_completion": 6,
        "products": ["AD5-NCOV", "ZF2001"],
        "relation": "other_platform",
        "min_age_years": 18,
    },
]


def policy(
    base: Settings,
    *,
    bands: list[dict[str, Any]] | None = None,
    boosters: list[dict[str, Any]] | None = None,
    overdue: str = "regular",
) -> Settings:
    """The demo site with this policy, validated as a site file would be."""
    data = base.model_dump()
    data.update(
        products=PRODUCTS,
        stations=[{**s, "products": ["CORONAVAC", "BBIBP"]} for s in data["stations"]],
        age_bands=bands or [],
        boosters=boosters or [],
        schedule={"overdue": overdue},
    )
    return Settings.model_validate(data)


@pytest.fixture
def p2021(settings: Settings) -> Settings:
    return policy(settings, bands=BANDS_2021)


@pytest.fixture
def p2022(settings: Settings) -> Settings:
    return policy(settings, bands=BANDS_2021, boosters=BOOSTERS_2022)


def dose(on: date, product: str = "CORONAVAC", maker: str = "Sinovac", n: int = 1) -> PriorDose:
    return PriorDose(on, product, maker, n)


def product(settings: Settings, code: str) -> Any:
    found = settings.product(code)
    assert found is not None
    return found


def codes(decision: Decision) -> tuple[list[str], list[str], list[str]]:
    return (
        [r.code for r in decision.refusals],
        [r.code for r in decision.review],
        [r.code for r in decision.notes],
    )


DAY = date(2021, 9, 1)


# --- the findings of issue 13 --------------------------------------------------------------


@pytest.mark.parametrize("days_ago", [20, 30])
def test_another_manufacturers_earlier_dose_is_not_a_dose_1(p2021: Settings, days_ago: int) -> None:
    """One Sinovac dose, then a Sinopharm "dose 1": refused, naming the Sinovac dose."""
    earlier = dose(DAY - timedelta(days=days_ago))
    plan = plan_dose(
        p2021, product(p2021, "BBIBP"), [earlier], day=DAY, birth_date=ADULT, claimed=1
    )
    assert plan.dose_number == 2 and plan.kind is DoseKind.PRIMARY
    refusal = plan.decision.refusals[0]
    assert refusal.code == "manufacturer_mismatch"
    assert refusal.params["previous"] == "Sinovac"
    assert refusal.params["booked"] == "Sinopharm Beijing"
    assert refusal.params["date"] == earlier.given_on.isoformat()
    assert refusal.params["product"] == "CoronaVac"


@pytest.mark.parametrize("booked", ["CORONAVAC", "BBIBP", "AD5-NCOV", "ZF2001"])
def test_a_complete_cansino_series_is_not_followed_by_a_dose_1(
    p2022: Settings, booked: str
) -> None:
    """A finished one-dose series: no product's dose 1; no booster rule covers adenovirus."""
    earlier = dose(date(2021, 5, 1), "AD5-NCOV", "CanSino")
    plan = plan_dose(
        p2022, product(p2022, booked), [earlier], day=date(2022, 6, 1), birth_date=ADULT
    )
    assert plan.kind is DoseKind.BOOSTER
    assert codes(plan.decision)[0] == ["series_complete"]
    assert plan.decision.refusals[0].params["manufacturer"] == "CanSino"
    assert plan.decision.refusals[0].params["date"] == "2021-05-01"


@pytest.mark.parametrize(("claimed", "review"), [(3, ["dose_claim_mismatch"]), (2, []), (None, [])])
def test_a_claimed_dose_number_never_decides(
    p2021: Settings, claimed: int | None, review: list[str]
) -> None:
    plan = plan_dose(
        p2021,
        product(p2021, "ZF2001"),
        [dose(DAY - timedelta(days=40), "ZF2001", "Anhui Zhifei Longcom")],
        day=DAY,
        birth_date=ADULT,
        claimed=claimed,
    )
    assert plan.dose_number == 2
    assert codes(plan.decision) == ([], review, [])
    if review:
        assert plan.decision.review[0].params == {"claimed": 3, "decided": 2}


def test_a_booster_is_what_the_booster_rules_allow(p2021: Settings, p2022: Settings) -> None:
    history = [dose(date(2021, 6, 1)), dose(date(2021, 6, 29), n=2)]
    day = date(2022, 3, 1)
    plan = plan_dose(p2022, product(p2022, "CORONAVAC"), history, day=day, birth_date=ADULT)
    assert (plan.kind, plan.dose_number, plan.decision) == (DoseKind.BOOSTER, 3, Decision())
    assert [d.number for d in plan.history.counted] == [1, 2]
    without = plan_dose(p2021, product(p2021, "CORONAVAC"), history, day=day, birth_date=ADULT)
    assert codes(without.decision)[0] == ["series_complete"]


# --- intervals, at the minimum and a day short --------------------------------------------


@pytest.mark.parametrize(
    ("code", "maker", "gaps", "ok"),
    [
        ("CORONAVAC", "Sinovac", [21], True),
        ("CORONAVAC", "Sinovac", [20], False),
        ("BBIBP", "Sinopharm Beijing", [21], True),
        ("BBIBP", "Sinopharm Beijing", [20], False),
        ("ZF2001", "Anhui Zhifei Longcom", [30], True),  # dose 2
        ("ZF2001", "Anhui Zhifei Longcom", [29], False),
        ("ZF2001", "Anhui Zhifei Longcom", [30, 30], True),  # dose 3
        ("ZF2001", "Anhui Zhifei Longcom", [30, 29], False),
    ],
)
def test_minimum_interval(
    p2021: Settings, code: str, maker: str, gaps: list[int], ok: bool
) -> None:
    """`gaps`: days from each earlier dose to the next, the last one ending today."""
    when = DAY - timedelta(days=sum(gaps))
    history = []
    for n, gap in enumerate(gaps, start=1):
        history.append(dose(when, code, maker, n))
        when += timedelta(days=gap)
    plan = plan_dose(p2021, product(p2021, code), history, day=DAY, birth_date=ADULT)
    assert plan.dose_number == len(gaps) + 1
    if ok:
        assert codes(plan.decision) == ([], [], [])
    else:
        assert codes(plan.decision)[0] == ["interval_too_short"]
        earliest = plan.decision.refusals[0].params["earliest"]
        assert earliest == (DAY + timedelta(days=1)).isoformat()


@pytest.mark.parametrize(
    ("days", "overdue", "outcome"),
    [
        (56, "regular", ([], [], [])),
        (57, "regular", ([], [], ["dose_overdue"])),
        (56, "review", ([], [], [])),
        (57, "review", ([], ["interval_too_long"], [])),
    ],
)
def test_maximum_interval_follows_the_overdue_setting(
    settings: Settings, days: int, overdue: str, outcome: tuple[list[str], ...]
) -> None:
    site = policy(settings, bands=BANDS_2021, overdue=overdue)
    history = [dose(DAY - timedelta(days=days))]
    plan = plan_dose(site, product(site, "CORONAVAC"), history, day=DAY, birth_date=ADULT)
    assert codes(plan.decision) == outcome
    assert plan.dose_number == 2


@pytest.mark.parametrize(("since_dose_1", "passed"), [(180, False), (181, True)])
def test_series_window_from_dose_1(p2021: Settings, since_dose_1: int, passed: bool) -> None:
    first = DAY - timedelta(days=since_dose_1)
    history = [
        dose(first, "ZF2001", "Anhui Zhifei Longcom"),
        dose(first + timedelta(days=60), "ZF2001", "Anhui Zhifei Longcom", 2),
    ]
    plan = plan_dose(p2021, product(p2021, "ZF2001"), history, day=DAY, birth_date=ADULT)
    assert plan.dose_number == 3
    assert codes(plan.decision) == ([], [], ["series_window_passed"] if passed else [])


# --- boosters ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("completed", "day", "ok"),
    [
        (date(2021, 6, 15), date(2021, 12, 15), True),  # six calendar months to the day
        (date(2021, 6, 15), date(2021, 12, 14), False),
        (date(2021, 8, 31), date(2022, 2, 28), True),  # no 31 February: the month's last day
        (date(2021, 8, 31), date(2022, 2, 27), False),
    ],
)
def test_booster_months_after_completion(
    p2022: Settings, completed: date, day: date, ok: bool
) -> None:
    history = [dose(completed - timedelta(days=28)), dose(completed, n=2)]
    plan = plan_dose(p2022, product(p2022, "BBIBP"), history, day=day, birth_date=ADULT)
    assert plan.kind is DoseKind.BOOSTER and plan.dose_number == 3
    if ok:
        assert plan.decision == Decision()
    else:
        assert codes(plan.decision)[0] == ["booster_too_early"]
        assert (
            plan.decision.refusals[0].params["earliest"] == day.replace(day=day.day + 1).isoformat()
        )


@pytest.mark.parametrize(
    ("booked", "day", "refusal"),
    [
        ("BBIBP", date(2022, 2, 18), None),  # same platform, another manufacturer: allowed
        ("ZF2001", date(2022, 2, 18), "booster_product_not_allowed"),  # heterologous: not yet
        ("ZF2001", date(2022, 2, 19), None),  # the day the heterologous rule takes effect
        ("AD5-NCOV", date(2022, 2, 19), None),
    ],
)
def test_booster_product_and_relation_by_date(
    p2022: Settings, booked: str, day: date, refusal: str | None
) -> None:
    history = [dose(date(2021, 5, 1)), dose(date(2021, 5, 29), n=2)]
    plan = plan_dose(p2022, product(p2022, booked), history, day=day, birth_date=ADULT)
    assert codes(plan.decision)[0] == ([refusal] if refusal else [])


def test_one_booster_only(p2022: Settings) -> None:
    history = [
        dose(date(2021, 5, 1)),
        dose(date(2021, 5, 29), n=2),
        dose(date(2021, 12, 1), n=3),
    ]
    plan = plan_dose(
        p2022, product(p2022, "CORONAVAC"), history, day=date(2022, 9, 1), birth_date=ADULT
    )
    assert plan.dose_number == 4
    assert codes(plan.decision)[0] == ["booster_limit_reached"]


def test_booster_age_limit(p2022: Settings) -> None:
    teen = date(2005, 1, 1)  # 17 on the visit day: open for primary doses, not for boosters
    history = [dose(date(2021, 8, 1)), dose(date(2021, 8, 29), n=2)]
    plan = plan_dose(
        p2022, product(p2022, "CORONAVAC"), history, day=date(2022, 3, 1), birth_date=teen
    )
    assert codes(plan.decision)[0] == ["too_young"]


@pytest.mark.parametrize(
    ("start", "months", "expected"),
    [
        (date(2021, 8, 31), 6, date(2022, 2, 28)),
        (date(2023, 8, 31), 6, date(2024, 2, 29)),
        (date(2021, 1, 31), 1, date(2021, 2, 28)),
        (date(2021, 12, 15), 1, date(2022, 1, 15)),
        (date(2021, 6, 15), 0, date(2021, 6, 15)),
        (date(2021, 6, 15), 18, date(2022, 12, 15)),
    ],
)
def test_calendar_months(start: date, months: int, expected: date) -> None:
    assert add_months(start, months) == expected


# --- age bands by date -------------------------------------------------------------------


def _born(age: int, day: date) -> date:
    """Someone exactly `age` on `day` (a birthday that day)."""
    return day.replace(year=day.year - age)


@pytest.mark.parametrize(
    ("age", "day", "refusal"),
    [
        (18, date(2021, 1, 1), None),
        (17, date(2021, 1, 1), "too_young"),
        (59, date(2021, 3, 26), None),
        (60, date(2021, 3, 26), "too_old"),  # 60+ not open yet
        (60, date(2021, 3, 27), None),
        (17, date(2021, 7, 19), "too_young"),
        (17, date(2021, 7, 20), None),
        (12, date(2021, 7, 20), None),
        (11, date(2021, 7, 20), "too_young"),
        (11, date(2021, 10, 24), "too_young"),
        (11, date(2021, 10, 25), None),
        (3, date(2021, 10, 25), None),
        (2, date(2021, 10, 25), "too_young"),
        (95, date(2021, 10, 25), None),
        (18, date(2020, 12, 31), "age_band_closed"),  # nothing open before the first notice
    ],
)
def test_age_bands_open_by_date(p2021: Settings, age: int, day: date, refusal: str | None) -> None:
    plan = plan_dose(p2021, product(p2021, "CORONAVAC"), [], day=day, birth_date=_born(age, day))
    assert codes(plan.decision)[0] == ([refusal] if refusal else [])


def test_a_band_for_one_product_and_one_that_closes(settings: Settings) -> None:
    bands = [
        {"min_age_years": 18, "effective_from": date(2021, 1, 1)},
        {
            "products": ["CORONAVAC"],
            "min_age_years": 3,
            "max_age_years": 17,
            "effective_from": date(2021, 10, 25),
            "until": date(2021, 12, 31),
        },
    ]
    site = policy(settings, bands=bands)
    child = _born(8, date(2021, 11, 1))
    for code, day, refusal in [
        ("CORONAVAC", date(2021, 12, 31), None),
        ("CORONAVAC", date(2022, 1, 1), "too_young"),
        ("BBIBP", date(2021, 12, 31), "too_young"),
    ]:
        plan = plan_dose(site, product(site, code), [], day=day, birth_date=child)
        assert codes(plan.decision)[0] == ([refusal] if refusal else []), (code, day)


@pytest.mark.parametrize(
    ("day", "refusal"),
    [(date(2022, 2, 28), "too_young"), (date(2022, 3, 1), None)],
)
def test_29_february_birthday_is_18_on_1_march(
    settings: Settings, day: date, refusal: str | None
) -> None:
    site = policy(settings, bands=[{"min_age_years": 18, "effective_from": date(2021, 1, 1)}])
    plan = plan_dose(site, product(site, "CORONAVAC"), [], day=day, birth_date=date(2004, 2, 29))
    assert codes(plan.decision)[0] == ([refusal] if refusal else [])


def test_the_visit_day_is_site_time_not_utc(p2021: Settings) -> None:
    """20:30 UTC on 26 March is 04:30 on 27 March in Shanghai, past the site day's turn
    (04:00, engine.DAY_TURNS_AT): 60+ is open, and the 21st day."""
    now = datetime(2021, 3, 26, 20, 30, tzinfo=UTC)
    sixty = date(1961, 3, 20)  # 60 on both days
    history = [dose(date(2021, 3, 6))]  # 21 days before 27 March, 20 before 26 March
    found = evaluate(
        p2021,
        product=product(p2021, "CORONAVAC"),
        dose_number=None,
        birth_date=sixty,
        history=history,
        now=now,
    )
    assert codes(found.decision) == ([], ["review_age"], [])
    early = now - timedelta(hours=1)  # 03:30 on 27 March in Shanghai: still the 26th's day
    refused = evaluate(
        p2021,
        product=product(p2021, "CORONAVAC"),
        dose_number=None,
        birth_date=sixty,
        history=history,
        now=early,
    )
    assert codes(refused.decision)[0] == ["too_old", "interval_too_short"]


# --- reading the history -----------------------------------------------------------------


def test_history_matched_by_code_alias_or_manufacturer(p2021: Settings) -> None:
    for record in [
        dose(DAY, "coronavac", ""),
        dose(DAY, "克尔来福", ""),
        dose(DAY, "Sinovac  CoronaVac", ""),
        dose(DAY, "科兴疫苗", "SINOVAC"),
    ]:
        matched = match_product(p2021, record)
        assert matched is not None and matched.code == "CORONAVAC", record
    assert match_product(p2021, dose(DAY, "Comirnaty", "BioNTech")) is None


def test_an_unknown_earlier_product_goes_to_a_doctor(p2021: Settings) -> None:
    history = [dose(DAY - timedelta(days=40), "Comirnaty", "BioNTech")]
    plan = plan_dose(p2021, product(p2021, "CORONAVAC"), history, day=DAY, birth_date=ADULT)
    assert plan.dose_number == 1
    assert codes(plan.decision) == ([], ["unknown_prior_product"], [])
    assert plan.decision.review[0].params["product"] == "Comirnaty"
    assert plan.history.ignored[0].why is NotCounted.UNKNOWN_PRODUCT


def test_a_dose_given_too_soon_is_not_counted_and_a_doctor_sees_it(p2021: Settings) -> None:
    start = DAY - timedelta(days=60)
    history = [dose(start), dose(start + timedelta(days=10), n=2)]
    plan = plan_dose(p2021, product(p2021, "CORONAVAC"), history, day=DAY, birth_date=ADULT)
    assert plan.dose_number == 2
    assert codes(plan.decision)[1] == ["prior_dose_not_counted"]
    assert plan.decision.notes[0].code == "dose_overdue"  # 60 days after the counted dose 1


def test_the_same_dose_from_two_sources_counts_once(p2021: Settings) -> None:
    first = DAY - timedelta(days=30)
    history = [dose(first), dose(first, "克尔来福", "Sinovac"), dose(first, "CORONAVAC", "")]
    plan = plan_dose(p2021, product(p2021, "CORONAVAC"), history, day=DAY, birth_date=ADULT)
    assert plan.dose_number == 2 and plan.decision == Decision()
    assert [i.why for i in plan.history.ignored] == [NotCounted.DUPLICATE] * 2


def test_a_doctor_may_complete_with_another_manufacturer(p2021: Settings) -> None:
    history = [dose(DAY - timedelta(days=30))]
    plan = plan_dose(
        p2021, product(p2021, "BBIBP"), history, day=DAY, birth_date=ADULT, allow_switch=True
    )
    assert codes(plan.decision) == ([], [], ["manufacturer_switched"])


def test_booked_dose_2_with_nothing_on_record_goes_to_a_doctor(p2021: Settings) -> None:
    plan = plan_dose(p2021, product(p2021, "CORONAVAC"), [], day=DAY, birth_date=ADULT, claimed=2)
    assert plan.dose_number == 1
    assert codes(plan.decision) == ([], ["prior_dose_unverified"], [])


def test_a_dose_dated_after_the_visit_day_is_not_counted(p2021: Settings) -> None:
    history = [dose(DAY - timedelta(days=30)), dose(DAY + timedelta(days=3), n=2)]
    plan = plan_dose(p2021, product(p2021, "CORONAVAC"), history, day=DAY, birth_date=ADULT)
    assert plan.dose_number == 2
    assert codes(plan.decision) == ([], ["prior_dose_not_counted"], [])
    assert plan.decision.review[0].params["why"] == "after_visit_day"


def test_already_vaccinated_today(p2021: Settings) -> None:
    plan = plan_dose(p2021, product(p2021, "CORONAVAC"), [dose(DAY)], day=DAY, birth_date=ADULT)
    assert codes(plan.decision)[0] == ["already_vaccinated_today"]


# --- properties --------------------------------------------------------------------------

_CATALOGUE = [(p["code"], p["manufacturer"]) for p in PRODUCTS] + [("Comirnaty", "BioNTech")]
_records = st.lists(
    st.builds(
        PriorDose,
        st.dates(date(2021, 1, 1), date(2022, 8, 31)),
        st.sampled_from([c for c, _ in _CATALOGUE]),
        st.just(""),
        st.integers(1, 4),
    ).map(lambda d: PriorDose(d.given_on, d.product, dict(_CATALOGUE)[d.product], d.dose_number)),
    max_size=6,
)


def _outcome(site: Settings, history: list[PriorDose], code: str) -> tuple[Any, ...]:
    plan = plan_dose(
        site,
        product(site, code),
        history,
        day=date(2022, 9, 1),
        birth_date=ADULT,
        claimed=2,
    )
    return plan.kind, plan.dose_number, plan.decision, plan.history.counted


@given(history=_records, seed=st.integers(0, 2**32), code=st.sampled_from(["CORONAVAC", "ZF2001"]))
@hsettings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_decision_does_not_depend_on_order_or_repeats(
    p2022: Settings, history: list[PriorDose], seed: int, code: str
) -> None:
    rng = random.Random(seed)
    shuffled = history + rng.sample(history, k=len(history) // 2)  # another source repeats some
    rng.shuffle(shuffled)
    assert _outcome(p2022, shuffled, code) == _outcome(p2022, history, code)


@given(
    code=st.sampled_from(["CORONAVAC", "BBIBP", "ZF2001"]),
    gaps=st.lists(st.integers(0, 60), min_size=1, max_size=3),
    copies=st.integers(1, 3),
)
@hsettings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_dose_number_is_valid_earlier_doses_plus_one(
    p2022: Settings, code: str, gaps: list[int], copies: int
) -> None:
    """Doses of one product `gaps` days apart: those at least the minimum interval after the
    last valid one count (up to the series), each as often as sources repeat it."""
    item = product(p2022, code)
    when = date(2022, 1, 1)
    history: list[PriorDose] = []
    valid: list[date] = []
    for gap in [0, *gaps]:
        when += timedelta(days=gap)
        history += [dose(when, code, item.manufacturer)] * copies
        if not valid or (
            (when - valid[-1]).days >= item.min_interval_days
            and len(valid) < item.doses_in_series
            and when != valid[-1]
        ):
            valid.append(when)
        elif len(valid) >= item.doses_in_series and when != valid[-1]:
            valid.append(when)  # past the series: a booster on record counts too
    plan = plan_dose(p2022, item, history, day=date(2023, 1, 1), birth_date=ADULT)
    assert plan.dose_number == len(valid) + 1
    assert [c.dose.given_on for c in plan.history.counted] == valid


@given(
    history=st.lists(
        st.builds(
            PriorDose,
            st.dates(date(1990, 1, 1), date(2030, 1, 1)),
            st.text(max_size=30),
            st.text(max_size=30),
            st.integers(-5, 50),
        ),
        max_size=8,
    ),
    claimed=st.one_of(st.none(), st.integers(1, 10)),
)
@hsettings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_any_history_from_outside_gets_a_plan_not_a_crash(
    p2022: Settings, history: list[PriorDose], claimed: int | None
) -> None:
    """Booking data is outside input: any names, dates and numbers give a plan whose number
    is the counted doses plus one, and every record is either counted or said why not."""
    plan = plan_dose(
        p2022,
        product(p2022, "CORONAVAC"),
        history,
        day=date(2022, 9, 1),
        birth_date=ADULT,
        claimed=claimed,
    )
    assert plan.dose_number == len(plan.history.counted) + 1
    assert len(plan.history.counted) + len(plan.history.ignored) == len(history)
    vaccinated_today = any(d.given_on == date(2022, 9, 1) for d in history)
    if claimed is not None and claimed != plan.dose_number and not vaccinated_today:
        assert {r.code for r in plan.decision.review} & {
            "dose_claim_mismatch",
            "prior_dose_unverified",
        }
