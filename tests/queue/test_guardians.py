"""The guardian rules, pure: who is a minor, who may be their guardian, what is refused."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vaxflow.queue.core.errors import QueueError
from vaxflow.queue.core.guardians import (
    ADULT_AGE,
    GuardianClaim,
    IdSource,
    Relation,
    check_guardian,
    check_id_source,
    guardian_for,
    is_minor,
)

from .people import resident_id

DAY = date(2026, 12, 4)
CHILD = resident_id(1, date(2016, 5, 1))
PARENT = resident_id(2, date(1988, 7, 9))


def claim(number: str = PARENT, **extra: object) -> GuardianClaim:
    values: dict[str, object] = {
        "id_type": "cn_resident",
        "id_number": number,
        "name": "王芳",
        "relation": "parent",
        "consent_version": "2026-11",
    }
    values.update(extra)
    return GuardianClaim(**values)  # type: ignore[arg-type]


def refusal(call: object) -> str:
    """The reason code a callable raises."""
    assert callable(call)
    with pytest.raises(QueueError) as raised:
        call()
    return raised.value.reason


def eighteenth_birthday(born: date) -> date:
    """An oracle written differently from engine.age_on: 29 February's 18th is 1 March."""
    try:
        return born.replace(year=born.year + ADULT_AGE)
    except ValueError:  # 29 February in a common year
        return date(born.year + ADULT_AGE, 3, 1)


@pytest.mark.parametrize(
    ("born", "day", "minor"),
    [
        (date(2008, 12, 5), DAY, True),  # 17 years 364 days
        (date(2008, 12, 4), DAY, False),  # 18 today
        (date(2008, 2, 29), date(2026, 2, 28), True),  # leap-day child, common year
        (date(2008, 2, 29), date(2026, 3, 1), False),
        (date(2008, 2, 29), date(2028, 2, 29), False),
        (date(2012, 2, 29), date(2028, 2, 29), True),  # 16 on a leap day
        (None, DAY, False),  # no birth date: not a known minor (staff confirm at the desk)
    ],
)
def test_who_is_a_minor(born: date | None, day: date, minor: bool) -> None:
    assert is_minor(born, day) is minor


@given(st.dates(date(1990, 1, 1), date(2026, 12, 31)), st.integers(0, 30 * 366))
def test_minor_until_the_eighteenth_birthday(born: date, days: int) -> None:
    day = born + timedelta(days=days)
    assert is_minor(born, day) is (day < eighteenth_birthday(born))


@pytest.mark.parametrize(
    ("guardian_born", "outcome"),
    [
        (date(2008, 12, 5), "guardian_is_minor"),  # 17 years 364 days
        (date(2008, 12, 4), None),  # 18 exactly
        (date(2010, 1, 1), "guardian_is_minor"),
        (date(1950, 1, 1), None),
    ],
)
def test_the_guardian_must_be_an_adult(guardian_born: date, outcome: str | None) -> None:
    number = resident_id(3, guardian_born)

    def run() -> object:
        return check_guardian(
            claim(number), child_id_type="cn_resident", child_id_number=CHILD, day=DAY
        )

    if outcome is None:
        guardian = run()
        assert guardian.birth_date == guardian_born  # type: ignore[attr-defined]
    else:
        assert refusal(run) == outcome


def test_a_leap_day_guardian_is_adult_on_the_first_of_march() -> None:
    number = resident_id(4, date(2008, 2, 29))

    def run(day: date) -> object:
        return check_guardian(
            claim(number), child_id_type="cn_resident", child_id_number=CHILD, day=day
        )

    assert refusal(lambda: run(date(2026, 2, 28))) == "guardian_is_minor"
    assert run(date(2026, 3, 1)) is not None


@pytest.mark.parametrize(
    "written",
    [CHILD, f" {CHILD[:6]} {CHILD[6:14]} {CHILD[14:]} ", CHILD.lower(), f"{CHILD[:6]}-{CHILD[6:]}"],
)
def test_the_guardian_is_not_the_child_however_the_number_is_written(written: str) -> None:
    def run() -> object:
        return check_guardian(
            claim(written), child_id_type="cn_resident", child_id_number=CHILD, day=DAY
        )

    assert refusal(run) == "guardian_same_person"


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"relation": None}, "guardian_relation_required"),
        ({"relation": ""}, "guardian_relation_required"),
        ({"relation": "neighbour"}, "guardian_relation_required"),
        (
            {"id_number": PARENT[:-1] + ("0" if PARENT[-1] != "0" else "1")},
            "guardian_bad_id_number",
        ),
        ({"id_type": "passport", "id_number": "E12345678"}, "guardian_age_unknown"),
        ({"birth_date": date(1988, 7, 10)}, "guardian_birth_date_mismatch"),
        ({"id_type": "driving_licence"}, "guardian_bad_id_number"),
    ],
)
def test_guardian_refusals(changes: dict[str, object], reason: str) -> None:
    def run() -> object:
        return check_guardian(
            claim(PARENT, **changes), child_id_type="cn_resident", child_id_number=CHILD, day=DAY
        )

    assert refusal(run) == reason


def test_a_passport_guardian_is_taken_at_the_desk_with_the_birth_date_staff_saw() -> None:
    passport = claim(id_type="passport", id_number="e 1234 5678", birth_date=date(1985, 1, 2))
    guardian = check_guardian(
        passport, child_id_type="cn_resident", child_id_number=CHILD, day=DAY, desk=True
    )
    assert (guardian.id_number, guardian.birth_date) == ("E12345678", date(1985, 1, 2))
    no_date = claim(id_type="passport", id_number="E12345678")

    def run() -> object:
        return check_guardian(
            no_date, child_id_type="cn_resident", child_id_number=CHILD, day=DAY, desk=True
        )

    assert refusal(run) == "guardian_age_unknown"
    minor_by_staff = claim(id_type="passport", id_number="E12345678", birth_date=date(2010, 1, 1))

    def young() -> object:
        return check_guardian(
            minor_by_staff, child_id_type="cn_resident", child_id_number=CHILD, day=DAY, desk=True
        )

    assert refusal(young) == "guardian_is_minor"


@pytest.mark.parametrize(
    ("relation", "review"),
    [(r, r not in (Relation.PARENT, Relation.LEGAL_GUARDIAN)) for r in Relation],
)
def test_relatives_other_than_parents_send_the_child_to_review(
    relation: Relation, review: bool
) -> None:
    guardian = check_guardian(
        claim(relation=relation.value), child_id_type="cn_resident", child_id_number=CHILD, day=DAY
    )
    assert [r.code for r in guardian.review] == (["guardian_not_parent"] if review else [])


def _for(
    c: GuardianClaim | None, born: date | None, *, issuing: bool, version: str | None
) -> object:
    return guardian_for(
        c,
        child_birth_date=born,
        child_id_type="cn_resident",
        child_id_number=CHILD,
        day=DAY,
        consent_version=version,
        issuing=issuing,
    )


def test_guardian_for_minors_only_and_required_at_check_in() -> None:
    child_born, adult_born = date(2016, 5, 1), date(2000, 1, 1)
    assert _for(None, child_born, issuing=False, version="2026-11") is None  # precheck asks
    assert refusal(lambda: _for(None, child_born, issuing=True, version="2026-11")) == (
        "guardian_required"
    )
    assert _for(claim(), adult_born, issuing=True, version="2026-11") is None  # ignored
    assert _for(None, adult_born, issuing=True, version="2026-11") is None
    assert _for(claim(), child_born, issuing=True, version="2026-11") is not None
    old = claim(consent_version="2020-01")
    assert refusal(lambda: _for(old, child_born, issuing=True, version="2026-11")) == (
        "guardian_consent_required"
    )
    assert _for(old, child_born, issuing=False, version="2026-11") is not None  # not asked yet
    assert _for(claim(consent_version=None), child_born, issuing=True, version=None) is not None


def test_a_household_register_holds_resident_numbers_only() -> None:
    check_id_source(IdSource.HOUSEHOLD_REGISTER, "cn_resident")
    check_id_source(IdSource.ID_CARD, "passport")
    assert refusal(lambda: check_id_source(IdSource.HOUSEHOLD_REGISTER, "passport")) == (
        "household_register_resident_only"
    )


@given(
    st.builds(
        GuardianClaim,
        id_type=st.sampled_from(["cn_resident", "passport", "taiwan_permit", "x"]),
        id_number=st.text(max_size=40),
        name=st.text(min_size=1, max_size=20),
        relation=st.one_of(st.none(), st.sampled_from([r.value for r in Relation]), st.text()),
        consent_version=st.one_of(st.none(), st.text(max_size=10)),
        birth_date=st.one_of(st.none(), st.dates()),
    ),
    st.booleans(),
)
def test_any_claim_gets_a_guardian_or_a_reason(c: GuardianClaim, desk: bool) -> None:
    try:
        guardian = check_guardian(
            c, child_id_type="cn_resident", child_id_number=CHILD, day=DAY, desk=desk
        )
    except QueueError as err:
        assert err.reason.startswith("guardian_")
    else:
        assert not is_minor(guardian.birth_date, DAY)
        assert guardian.id_number != CHILD
