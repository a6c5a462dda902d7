"""Crops of a located QR code, straightened and rescaled, and the variants that help on screens.

A phone screen photographed at 2.6-5 pixels a module carries moiré (the screen's pixel grid
beating with the camera's), glare and JPEG blocks; the whole-frame decoder sees the finder
patterns but not clean modules. Once zxing-cpp has located the symbol (its corners and version,
even when the checksum failed), the crop is warped to a square at a chosen pixels-per-module
with a white quiet zone, and decoded in a few variants: as is, low-passed (moiré), area-
averaged at fewer pixels a module, contrast-equalised, thresholded. Pure image functions.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

Gray = npt.NDArray[np.uint8]

#: Modules of white drawn around the straightened code (the QR spec's quiet zone is 4).
QUIET = 4


@dataclass(frozen=True)
class Region:
    """Where a code is: its four corners (x, y) in frame pixels, clockwise from its top-left,
    and its side in modules when the decoder could tell (21 + 4 x (version - 1))."""

    corners: tuple[tuple[float, float], ...]
    modules: int | None = None

    def __post_init__(self) -> None:
        if len(self.corners) != 4:
            raise ValueError("a region has four corners")

    def side(self) -> float:
        """The longest edge, in frame pixels."""
        pts = np.asarray(self.corners, dtype=np.float32)
        return float(max(np.linalg.norm(pts[i] - pts[(i + 1) % 4]) for i in range(4)))


def modules_for_version(version: int) -> int:
    """A QR code's side in modules."""
    return 17 + 4 * version


def straighten(gray: Gray, region: Region, ppm: float) -> Gray:
    """The code warped upright to `ppm` pixels a module (or a 240 px code), in a white margin."""
    modules = region.modules or max(21, round(region.side() / 4))
    side = max(21.0, modules * ppm)
    margin = QUIET * side / modules
    dst = np.array(
        [
            [margin, margin],
            [margin + side, margin],
            [margin + side, margin + side],
            [margin, margin + side],
        ],
        dtype=np.float32,
    )
    src = np.asarray(region.corners, dtype=np.float32)
    matrix = cv2.getPerspectiveTransform(src, dst)
    size = round(side + 2 * margin)
    # INTER_AREA is not supported by warpPerspective; the low-pass variants do that job.
    out = cv2.warpPerspective(
        gray, matrix, (size, size), flags=cv2.INTER_LINEAR, borderValue=(255,)
    )
    return np.ascontiguousarray(out, dtype=np.uint8)


def _box(gray: Gray, region: Region, pad: float = 0.3) -> tuple[Gray, Region]:
    """The axis-aligned box around the region with `pad` of its side, and the region in it."""
    pts = np.asarray(region.corners, dtype=np.float32)
    grow = pad * region.side()
    h, w = gray.shape
    x0, y0 = (max(0, int(v)) for v in np.floor(pts.min(axis=0) - grow))
    x1, y1 = np.ceil(pts.max(axis=0) + grow).astype(int)
    box = gray[y0 : min(h, int(y1)), x0 : min(w, int(x1))]
    local = tuple((x - x0, y - y0) for x, y in region.corners)
    return np.ascontiguousarray(box), Region(local, region.modules)


def variants(gray: Gray, region: Region) -> Iterator[Gray]:
    """Images of the region to decode, cheapest and most likely first (work on its box only)."""
    box, local = _box(gray, region)
    if min(box.shape) < 21:
        return
    sharp = straighten(box, local, 6.0)
    yield sharp
    # Moiré is a beat finer than a module: a blur of ~1/3 module in the frame removes it.
    ppm_frame = local.side() / (local.modules or max(21, round(local.side() / 4)))
    blurred = np.asarray(cv2.GaussianBlur(box, (0, 0), max(0.6, ppm_frame / 3)), dtype=np.uint8)
    yield straighten(blurred, local, 6.0)
    # Fewer pixels a module, averaged: the warp at 12 ppm, area-shrunk to 3.
    big = straighten(box, local, 12.0)
    yield np.asarray(cv2.resize(big, None, fx=0.25, fy=0.25, interpolation=cv2.INTER_AREA))
    clahe = cv2.createCLAHE(clipLimit=2.0, tileGridSize=(4, 4))
    yield np.asarray(clahe.apply(sharp), dtype=np.uint8)
    _t, otsu = cv2.threshold(
        cv2.GaussianBlur(sharp, (0, 0), 1.5), 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU
    )
    yield np.asarray(otsu, dtype=np.uint8)
    # The box as it is, twice the size: when the located corners are off.
    yield np.asarray(cv2.resize(box, None, fx=2, fy=2, interpolation=cv2.INTER_CUBIC))
