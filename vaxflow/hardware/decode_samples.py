"""QR sample images (zxing-cpp's blackbox layout) and camera-sized frames made from them: what
the decoder benchmark (benchmarks/decode.py) and the decoder and camera tests share."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from vaxflow.hardware.decoders import Gray

IMAGE_SUFFIXES = (".png", ".webp", ".jpg", ".jpeg")


@dataclass(frozen=True)
class Sample:
    """One image and the text it holds (None for a negative image)."""

    path: Path
    expected: str | None


def iter_samples(root: Path) -> Iterator[Sample]:
    """Positive samples (<stem>.<img> with <stem>.txt) and negatives (falsepositives-* dirs)."""
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        negative = folder.name.startswith("falsepositives")
        for image in sorted(folder.iterdir()):
            if image.suffix.lower() not in IMAGE_SUFFIXES:
                continue
            if negative:
                yield Sample(image, None)
                continue
            text_file = image.with_suffix(".txt")
            if text_file.exists():
                # bytes, not read_text: the expected texts hold CRLF that must stay CRLF
                yield Sample(image, text_file.read_bytes().decode("utf-8"))


def paste_on_canvas(image: Gray, size: tuple[int, int], seed: int) -> Gray:
    """The image on a noisy mid-grey canvas of `size` (w, h), scaled down to fit if needed."""
    rng = np.random.default_rng(seed)
    width, height = size
    canvas = rng.normal(128, 20, size=(height, width)).clip(0, 255).astype(np.uint8)
    h, w = image.shape
    scale = min(1.0, (width - 20) / w, (height - 20) / h)
    if scale < 1.0:
        resized = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        image = np.asarray(resized, dtype=np.uint8)
        h, w = image.shape
    y = int(rng.integers(0, height - h + 1))
    x = int(rng.integers(0, width - w + 1))
    canvas[y : y + h, x : x + w] = image
    noise = rng.normal(0, 6, size=canvas.shape)
    return (canvas.astype(np.float32) + noise).clip(0, 255).astype(np.uint8)
