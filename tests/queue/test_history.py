"""A person's earlier doses: the text form (tables and fuzz) and the merge of every source."""

from __future__ import annotations

import random
from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vaxflow.queue.core.booking import SOURCES, PriorDose
from vaxflow.queue.core.history import (
    MAX_DOSES,
    BadHistory,
    format_history,
    history_view,
    manufacturer_key,
    merge_history,
    parse_history,
)

VISIT = date(2026, 11, 21)
TODAY = date(2026, 11, 20)


def _known(product: str) -> str | None:
    return {"CORONAVAC": "Sinovac"}.get(product)


def parse(text: str) -> tuple[PriorDose, ...]:
    return parse_history(text, visit_date=VISIT, today=TODAY, manufacturer_of=_known)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", ()),
        ("  ", ()),
        (
            "2021-03-01:CORONAVAC:Sinovac",
            (PriorDose(date(2021, 3, 1), "CORONAVAC", "Sinovac"),),
        ),
        (
            " 2021-03-01 : ZF2001 : Anhui Zhifei Longcom ; 2021-04-01:ZF2001:Anhui Zhifei Longcom;",
            (
                PriorDose(date(2021, 3, 1), "ZF2001", "Anhui Zhifei Longcom"),
                PriorDose(date(2021, 4, 1), "ZF2001", "Anhui Zhifei Longcom"),
            ),
        ),
        ("2021-03-01:CORONAVAC", (PriorDose(date(2021, 3, 1), "CORONAVAC", "Sinovac"),)),
        (
            "2021-03-01:BNT162b2:Pfizer: BioNTech",
            (PriorDose(date(2021, 3, 1), "BNT162b2", "Pfizer: BioNTech"),),
        ),
        (  # same day, another manufacturer: two doses (odd, but not ours to refuse)
            "2021-03-01:CORONAVAC:Sinovac;2021-03-01:BBIBP:Sinopharm Beijing",
            (
                PriorDose(date(2021, 3, 1), "CORONAVAC", "Sinovac"),
                PriorDose(date(2021, 3, 1), "BBIBP", "Sinopharm Beijing"),
            ),
        ),
        ("2026-11-20:CORONAVAC:Sinovac", (PriorDose(TODAY, "CORONAVAC", "Sinovac"),)),
    ],
)
def test_good_histories(text: str, expected: tuple[PriorDose, ...]) -> None:
    assert parse(text) == expected
    assert all(d.source == "booking" and d.dose_number is None for d in parse(text))


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("21/03/2021:CORONAVAC:Sinovac", "earlier dose 1: '21/03/2021' is not a date"),
        ("20210301:CORONAVAC:Sinovac", "earlier dose 1: '20210301' is not a date"),
        ("2021-W09-1:CORONAVAC:Sinovac", "is not a date"),
        ("2021-02-30:CORONAVAC:Sinovac", "earlier dose 1: '2021-02-30' is not a date"),
        ("2021-03-01:CORONAVAC:Sinovac;2026-11-21:X:Y", "earlier dose 2: 2026-11-21 is in the"),
        ("2026-11-21:CORONAVAC:Sinovac", "is in the future"),
        ("2021-03-01::Sinovac", "earlier dose 1: the product is empty"),
        ("2021-03-01", "earlier dose 1: the product is empty"),
        ("2021-03-01:ZF2001", "the manufacturer is empty and ZF2001 is not in the site file"),
        ("2021-03-01:ZF2001:", "the manufacturer is empty"),
        ("2021-03-01:CORONAVAC:Sinovac;;2021-04-01:CORONAVAC:Sinovac", "earlier dose 2 is empty"),
        (
            "2021-03-01:CORONAVAC:Sinovac;2021-03-01:CoronaVac:SINO VAC",
            "earlier dose 2 repeats earlier dose 1",
        ),
        (
            ";".join(f"2021-01-{d:02d}:CORONAVAC:Sinovac" for d in range(1, MAX_DOSES + 2)),
            f"more than {MAX_DOSES} earlier doses",
        ),
        ("2021-03-01:" + "P" * 41 + ":M", "the product is longer than 40"),
        ("2021-03-01:P:" + "M" * 101, "the manufacturer is longer than 100"),
    ],
)
def test_each_malformed_history_says_which_dose_and_why(text: str, reason: str) -> None:
    with pytest.raises(BadHistory, match=reason.replace("(", r"\(")):
        parse(text)


def test_a_dose_on_the_visit_day_is_not_earlier() -> None:
    with pytest.raises(BadHistory, match="not before the visit date 2026-11-21"):
        parse_history("2026-11-21:CORONAVAC:Sinovac", visit_date=VISIT)


@given(st.text(max_size=300))
def test_any_text_is_a_history_or_a_reason(text: str) -> None:
    try:
        doses = parse(text)
    except BadHistory as err:
        assert str(err)
    else:
        assert len(doses) <= MAX_DOSES
        assert all(d.given_on <= TODAY and d.product and d.manufacturer for d in doses)
        assert len({(d.given_on, manufacturer_key(d.manufacturer)) for d in doses}) == len(doses)


_word = (
    st.text(
        st.characters(whitelist_categories=("L", "N"), whitelist_characters=" -.,()·"),
        min_size=1,
        max_size=20,
    )
    .map(str.strip)
    .filter(bool)
)
_dose = st.builds(
    PriorDose,
    st.dates(date(2020, 1, 1), TODAY),
    _word,
    st.one_of(_word, st.sampled_from(["Sinovac", "SINOVAC", "sino vac", "Ｓｉｎｏｖａｃ"])),
    st.one_of(st.none(), st.integers(1, 4)),
    st.sampled_from([*SOURCES, "elsewhere"]),
)


@given(
    st.lists(
        _dose,
        max_size=MAX_DOSES,
        unique_by=lambda d: (d.given_on, manufacturer_key(d.manufacturer)),
    )
)
def test_the_text_form_reads_back_what_it_wrote(doses: list[PriorDose]) -> None:
    written = format_history(doses)
    back = parse_history(written, visit_date=VISIT, source="booking")
    assert [(d.given_on, d.product, d.manufacturer) for d in back] == [
        (d.given_on, d.product, d.manufacturer) for d in doses
    ]


_sources = st.lists(st.lists(_dose, max_size=6), max_size=4)


@given(_sources, st.randoms(use_true_random=False))
def test_merge_does_not_depend_on_the_order_of_sources_or_doses(
    sources: list[list[PriorDose]], rng: random.Random
) -> None:
    merged = merge_history(*sources)
    shuffled = [rng.sample(s, len(s)) for s in sources]
    rng.shuffle(shuffled)
    assert merge_history(*shuffled) == merged
    assert merge_history(merged) == merged  # merging twice changes nothing
    assert merge_history([d for s in sources for d in s]) == merged  # nor how they are grouped


@given(_sources)
def test_merge_keeps_one_dose_per_day_and_maker_with_every_source(
    sources: list[list[PriorDose]],
) -> None:
    merged = merge_history(*sources)
    reports = [d for s in sources for d in s]
    keys = {(d.given_on, manufacturer_key(d.manufacturer)) for d in reports}
    assert len(merged) == len(keys)
    assert [d.given_on for d in merged] == sorted(d.given_on for d in merged)
    for dose in merged:
        same = [
            r
            for r in reports
            if (r.given_on, manufacturer_key(r.manufacturer))
            == (dose.given_on, manufacturer_key(dose.manufacturer))
        ]
        assert set(dose.sources) == {r.source for r in same}
        assert len(dose.sources) == len(set(dose.sources))
        rank = [*SOURCES, "elsewhere"]
        assert rank.index(dose.source) == min(rank.index(r.source) for r in same)


def test_the_site_record_wins_and_the_booking_is_named_too() -> None:
    day = TODAY - timedelta(days=30)
    booking = PriorDose(day, "CoronaVac", "SINOVAC ", 1, "booking")
    site = PriorDose(day, "CORONAVAC", "Sinovac", 1, "site")
    other = PriorDose(day - timedelta(days=30), "BBIBP", "Sinopharm Beijing", None, "service")
    merged = merge_history([booking, other], [site])
    assert merged == (other, PriorDose(day, "CORONAVAC", "Sinovac", 1, "site", ("booking",)))
    assert history_view(merged)[1] == {
        "date": day.isoformat(),
        "product": "CORONAVAC",
        "manufacturer": "Sinovac",
        "source": "site",
        "sources": ["site", "booking"],
    }


def test_old_style_prior_doses_still_construct() -> None:
    dose = PriorDose(TODAY, "CORONAVAC", "Sinovac", 1)
    assert (dose.source, dose.sources, dose.dose_number) == ("booking", ("booking",), 1)
