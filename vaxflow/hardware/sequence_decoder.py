"""Decoding a camera's frames as a sequence: little work while idle, a located code read next.

The shell around frame_gate: it measures whether a frame changed (on a 64-pixel-wide
thumbnail, so sensor noise averages out and a hand entering any corner does not), runs the
fast decoder with location (zxing-cpp), and spends the expensive work (crop variants, zbar)
only where a code was located or, rationed, on the whole frame. Texts found by the expensive
work must pass `validate` (by default: what the camera would hand on as a scan): a rescue that
reads something the booking layer would refuse is a misread, not a decode.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import cv2
import numpy as np
import numpy.typing as npt

from vaxflow.hardware.code_region import Region, straighten, variants
from vaxflow.hardware.decoders import ChainDecoder, Decoder, Gray, _as_gray
from vaxflow.hardware.frame_gate import (
    Action,
    GateConfig,
    GateState,
    after_fast,
    after_region,
    on_frame,
)
from vaxflow.hardware.scan_text import InvalidScan, normalize_scan

#: Thumbnail width for change detection: ~20x20-pixel cells on a 720p frame.
THUMB_WIDTH = 64
#: A frame changed when some thumbnail cell moved by more than this many grey levels (sensor
#: noise on a cell of 400 pixels moves it by ~1; a hand, a phone or the lights by far more).
CHANGE_LEVELS = 8


@runtime_checkable
class Locator(Protocol):
    """A decoder that also says where it found codes it could not read."""

    def locate(self, image: Gray) -> tuple[list[str], list[Region]]:
        """Texts read, and regions of codes seen but not read."""
        ...


def is_clean_scan(text: str) -> bool:
    """True when the camera would hand `text` on as a scan (see scan_text.normalize_scan)."""
    try:
        normalize_scan(text)
    except InvalidScan:
        return False
    return True


def thumbnail(image: npt.NDArray[np.uint8]) -> npt.NDArray[np.int16]:
    """A small grey copy of a frame (grey or BGR), for comparing frames cheaply."""
    h, w = image.shape[:2]
    # Every 4th pixel of every 4th row (and the green channel of BGR) is plenty to average
    # 25 samples a cell, at a sixteenth of the cost of reading the whole frame.
    step = 4 if min(h, w) >= 8 * THUMB_WIDTH // 4 else 1
    channel = min(1, image.shape[2] - 1) if image.ndim == 3 else None
    sparse = image[::step, ::step] if channel is None else image[::step, ::step, channel]
    sh, sw = sparse.shape
    size = (min(THUMB_WIDTH, sw), max(1, round(sh * min(THUMB_WIDTH, sw) / max(1, sw))))
    small = cv2.resize(np.ascontiguousarray(sparse), size, interpolation=cv2.INTER_AREA)
    return np.asarray(small, dtype=np.int16)


def frame_changed(
    before: npt.NDArray[np.int16] | None, after: npt.NDArray[np.int16], levels: int
) -> bool:
    """True when some cell of `after` differs from `before` by more than `levels`."""
    if before is None or before.shape != after.shape:
        return True
    return bool(np.abs(after - before).max() > levels)


@dataclass
class Stats:
    """What the decoder did, frame by frame (for benchmarks, tests and logs)."""

    frames: int = 0
    reused: int = 0
    fast: int = 0
    fallback: int = 0
    region: int = 0
    rejected: int = 0


class SequenceDecoder:
    """A Decoder for consecutive frames of one camera; not for unrelated images (it remembers).

    `fast` runs on every changed frame; `fallback` (optional) on located crops and, every
    `config.fallback_every`-th decoded frame, on the whole frame.
    """

    def __init__(
        self,
        fast: Decoder,
        fallback: Decoder | None = None,
        *,
        config: GateConfig | None = None,
        validate: Callable[[str], bool] = is_clean_scan,
        change_levels: int = CHANGE_LEVELS,
    ) -> None:
        self.fast = fast
        self.fallback = fallback
        self.config = config or GateConfig()
        self.validate = validate
        self.change_levels = change_levels
        self.name = "seq:" + "+".join(d.name for d in (fast, fallback) if d is not None)
        self.stats = Stats()
        self._state = GateState()
        self._reference: npt.NDArray[np.int16] | None = None
        self._last: list[str] = []
        self._region: Region | None = None
        self._lock = threading.Lock()

    @classmethod
    def around(cls, decoder: Decoder, **options: object) -> SequenceDecoder:
        """The decoder's first member as the fast one, the rest (if any) as the fallback."""
        members: Sequence[Decoder] = (
            decoder.decoders if isinstance(decoder, ChainDecoder) else [decoder]
        )
        rest = list(members[1:])
        fallback: Decoder | None = (
            None if not rest else rest[0] if len(rest) == 1 else ChainDecoder(rest)
        )
        return cls(members[0], fallback, **options)  # type: ignore[arg-type]

    def decode(self, image: Gray) -> list[str]:
        """The texts in this frame (repeating the last answer for an unchanged frame).

        Serialised: a read() that timed out leaves its worker thread decoding, and the next
        read() must not interleave with it in the gate's state.
        """
        with self._lock:
            return self._decode(image)

    def _decode(self, image: Gray) -> list[str]:
        self.stats.frames += 1
        thumb = thumbnail(image)
        changed = frame_changed(self._reference, thumb, self.change_levels)
        self._state, action = on_frame(self._state, changed, self.config)
        if action is Action.REUSE:
            self.stats.reused += 1
            return list(self._last)
        self._reference = thumb
        gray = _as_gray(image)
        self.stats.fast += 1
        texts, regions = self._locate(gray)
        if regions:
            self._region = max(regions, key=Region.side)
        self._state, work_region = after_fast(self._state, bool(texts), bool(regions), self.config)
        if not texts and work_region and self._region is not None:
            texts = self._rescue(gray, self._region)
            self._state = after_region(self._state, bool(texts))
        elif not texts and action is Action.FAST_AND_FALLBACK and self.fallback is not None:
            self.stats.fallback += 1
            texts = self._valid(self.fallback.decode(gray))
        self._last = texts
        return list(texts)

    def _locate(self, gray: Gray) -> tuple[list[str], list[Region]]:
        if isinstance(self.fast, Locator):
            return self.fast.locate(gray)
        return self.fast.decode(gray), []

    def _valid(self, texts: list[str]) -> list[str]:
        good = [t for t in texts if self.validate(t)]
        self.stats.rejected += len(texts) - len(good)
        return good

    def _rescue(self, gray: Gray, region: Region) -> list[str]:
        """The region's variants through the fast decoder, then the fallback: first read wins."""
        self.stats.region += 1
        for variant in variants(gray, region):
            texts = self._valid(self.fast.decode(variant))
            if texts:
                return texts
        if self.fallback is not None:
            return self._valid(self.fallback.decode(straighten(gray, region, 4.0)))
        return []

    def reset(self) -> None:
        """Forget the previous frames (a new capture session)."""
        with self._lock:
            self._state = GateState()
            self._reference = None
            self._last = []
            self._region = None

    def close(self) -> None:
        self.fast.close()
        if self.fallback is not None:
            self.fallback.close()
