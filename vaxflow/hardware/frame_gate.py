"""How much decoding a camera frame deserves, from what the frames show: a pure state machine.

An idle kiosk camera sees the same empty desk thirty times a second. Decoding every frame with
the whole chain (zxing-cpp, then zbar) costs ~30-60 ms a 720p frame; most of it finds nothing.
The gate decides per frame:

- REUSE: the frame did not change since the last decoded one: repeat that answer, decode nothing
  (every `refresh_every`-th unchanged frame is decoded anyway, for slow light changes);
- FAST: the fast decoder (zxing-cpp) on the whole frame, which also locates codes it cannot read;
- FAST_AND_FALLBACK: the same, then the slow fallback on the whole frame when nothing was found:
  only every `fallback_every`-th decoded frame, so zbar's rescues are not lost, just rationed.

After the fast decoder, `after_fast` says whether to work on the located code region (a crop
rescaled and straightened, the moiré variants, zbar on the crop) on this frame and on the next
`region_frames` ones: a phone held up is seen in many frames, so one frame locates and the
next ones read. Pure: the shell (sequence_decoder) measures changes and runs decoders.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, replace


class Action(enum.Enum):
    """What to run on one frame."""

    REUSE = "reuse"
    FAST = "fast"
    FAST_AND_FALLBACK = "fast_and_fallback"


@dataclass(frozen=True)
class GateConfig:
    """Budgets, in frames."""

    #: Every this-many-th frame of an unchanged run is decoded anyway.
    refresh_every: int = 30
    #: The whole-frame fallback runs on every this-many-th decoded frame without a located code.
    fallback_every: int = 15
    #: Frames to keep working on a located region after the fast decoder last saw it.
    region_frames: int = 8

    def __post_init__(self) -> None:
        if min(self.refresh_every, self.fallback_every, self.region_frames) < 1:
            raise ValueError("gate budgets must be at least one frame")


@dataclass(frozen=True)
class GateState:
    """Counters carried from frame to frame."""

    #: Unchanged frames answered from the last result since the last decode.
    reused: int = 0
    #: Decoded frames since the whole-frame fallback last ran.
    since_fallback: int = 0
    #: Frames left to work on the last located region (0: no region).
    region_left: int = 0


def on_frame(state: GateState, changed: bool, config: GateConfig) -> tuple[GateState, Action]:
    """The action for a frame that did (or did not) change since the last decoded frame."""
    if state.region_left == 0 and not changed and state.reused + 1 < config.refresh_every:
        return replace(state, reused=state.reused + 1), Action.REUSE
    if state.region_left > 0:  # the region work is this frame's expensive part
        return replace(state, reused=0), Action.FAST
    since = state.since_fallback + 1
    if since >= config.fallback_every:
        return replace(state, reused=0, since_fallback=0), Action.FAST_AND_FALLBACK
    return replace(state, reused=0, since_fallback=since), Action.FAST


def after_fast(
    state: GateState, decoded: bool, located: bool, config: GateConfig
) -> tuple[GateState, bool]:
    """The state after the fast decoder, and whether to work on the region on this frame."""
    if decoded:
        return replace(state, region_left=0), False
    if located:
        return replace(state, region_left=config.region_frames), True
    if state.region_left > 0:
        return replace(state, region_left=state.region_left - 1), True
    return state, False


def after_region(state: GateState, decoded: bool) -> GateState:
    """The state after the region work: a read ends it (the next code is located afresh)."""
    return replace(state, region_left=0) if decoded else state
