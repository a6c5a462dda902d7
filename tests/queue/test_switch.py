"""The kiosk's routing of a switch of manufacturer (pure): what goes to a doctor, what stays
refused."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from vaxflow.queue.core.decision import Decision, Reason
from vaxflow.queue.core.switch import MISMATCH, NEEDS_DOCTOR, route_switch

CODES = st.sampled_from(
    [MISMATCH, "interval_too_short", "series_complete", "wrong_day", "too_young", "walk_in_full"]
)
REASONS = st.builds(Reason, CODES, st.fixed_dictionaries({"previous": st.just("Sinovac")}))


@given(
    refusals=st.lists(REASONS, max_size=3),
    review=st.lists(REASONS, max_size=2),
    claimed=st.none() | st.integers(min_value=1, max_value=4),
)
def test_only_a_lone_switch_for_the_next_dose_goes_to_a_doctor(
    refusals: list[Reason], review: list[Reason], claimed: int | None
) -> None:
    before = Decision(tuple(refusals), tuple(review))
    after = route_switch(before, claimed)
    lone_switch = bool(refusals) and {r.code for r in refusals} == {MISMATCH}
    if lone_switch and claimed != 1:
        assert after.ok
        moved = [r for r in after.review if r.code == NEEDS_DOCTOR]
        assert [r.params for r in moved] == [r.params for r in refusals]
        assert after.review[: len(review)] == tuple(review)
    else:
        assert after == before  # anything else the policy refuses stays refused
