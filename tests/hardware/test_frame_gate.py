"""The frame gate as a pure state machine: tables of frames, and hypothesis on any sequence."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vaxflow.hardware.frame_gate import (
    Action,
    GateConfig,
    GateState,
    after_fast,
    after_region,
    on_frame,
)

CONFIG = GateConfig(refresh_every=4, fallback_every=3, region_frames=2)
R, F, FB = Action.REUSE, Action.FAST, Action.FAST_AND_FALLBACK


@dataclass(frozen=True)
class Seen:
    """One frame: did it change, and what would the fast decoder and the region work find."""

    changed: bool
    decoded: bool = False
    located: bool = False
    region_reads: bool = False


def drive(frames: list[Seen], config: GateConfig = CONFIG) -> list[tuple[Action, bool]]:
    """Each frame's action and whether region work ran on it, as the shell would run them."""
    state = GateState()
    out = []
    for seen in frames:
        state, action = on_frame(state, seen.changed, config)
        region = False
        if action is not Action.REUSE:
            state, region = after_fast(state, seen.decoded, seen.located, config)
            if region:
                state = after_region(state, seen.region_reads)
        out.append((action, region))
    return out


still, moved = Seen(False), Seen(True)


@pytest.mark.parametrize(
    ("frames", "expected"),
    [
        # the first frame is always looked at; a still scene then costs nothing...
        ([moved, still, still], [(F, False), (R, False), (R, False)]),
        # ...except a refresh every 4th frame
        ([moved, *[still] * 5], [(F, False), *[(R, False)] * 3, (F, False), (R, False)]),
        # a changed frame is decoded at once, and every 3rd decoded one gets the fallback
        ([moved, moved, moved, moved], [(F, False), (F, False), (FB, False), (F, False)]),
        # located but not read: region work now and on the next 2 frames, even if still
        (
            [Seen(True, located=True), still, still, still],
            [(F, True), (F, True), (F, True), (R, False)],
        ),
        # the region read on the second frame: region work stops, the still frame is reused
        (
            [Seen(True, located=True), Seen(False, region_reads=True), still],
            [(F, True), (F, True), (R, False)],
        ),
        # decoded by the fast decoder: no region work
        ([Seen(True, decoded=True, located=True), still], [(F, False), (R, False)]),
        # located again while working: the budget starts over
        (
            [
                Seen(True, located=True),
                Seen(True),
                Seen(True, located=True),
                Seen(True),
                Seen(True),
            ],
            [(F, True), (F, True), (F, True), (F, True), (F, True)],
        ),
    ],
)
def test_gate_table(frames: list[Seen], expected: list[tuple[Action, bool]]) -> None:
    assert drive(frames) == expected


def test_config_rejects_zero_budgets() -> None:
    with pytest.raises(ValueError, match="at least one frame"):
        GateConfig(refresh_every=0)


seen_frames = st.builds(Seen, st.booleans(), st.booleans(), st.booleans(), st.booleans())
configs = st.builds(
    GateConfig,
    st.integers(1, 6),
    st.integers(1, 6),
    st.integers(1, 6),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(seen_frames, max_size=60), configs)
def test_gate_properties(frames: list[Seen], config: GateConfig) -> None:
    """Any frames: a change is looked at in its own frame; no long blind spells; region work is
    bounded; the fallback is rationed but never starved."""
    actions = drive(frames, config)
    assert len(actions) == len(frames)
    reused_run = 0
    plain_since_fallback = 0
    region_run = 0
    for seen, (action, region) in zip(frames, actions, strict=True):
        if seen.changed:
            assert action is not Action.REUSE  # reacts within a frame
        reused_run = reused_run + 1 if action is Action.REUSE else 0
        assert reused_run < config.refresh_every
        if action is Action.REUSE:
            assert not region
        if action is Action.FAST_AND_FALLBACK:
            plain_since_fallback = 0
        elif action is Action.FAST and not any(f.located for f in frames):
            plain_since_fallback += 1
            assert plain_since_fallback < config.fallback_every
        if region and not seen.located:
            region_run += 1
            assert region_run <= config.region_frames
        else:
            region_run = 0
        if region:
            assert not seen.decoded  # a frame read by the fast decoder needs no region work


@settings(max_examples=200, deadline=None)
@given(st.lists(seen_frames, max_size=40), configs)
def test_gate_state_stays_in_bounds(frames: list[Seen], config: GateConfig) -> None:
    state = GateState()
    for seen in frames:
        state, action = on_frame(state, seen.changed, config)
        if action is not Action.REUSE:
            state, _region = after_fast(state, seen.decoded, seen.located, config)
        assert 0 <= state.region_left <= config.region_frames
        assert 0 <= state.reused < config.refresh_every
        assert 0 <= state.since_fallback < config.fallback_every
