"""Every QR decoder on zxing-cpp's blackbox samples, as files and pasted into camera-sized frames.

    .venv/bin/python benchmarks/decode.py [--samples DIR] [--backends a,b,...] [--json]

Counts per decoder and image set: decoded (expected text found), misreads (codes decoded but none
with the expected text), false positives (anything decoded on a negative image) and
milliseconds per image. The default chain must decode at least as many as the best single
decoder with no misreads and no false positives; the exit status says whether it does.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import cast

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from vaxflow.hardware.decoders import (  # noqa: E402
    BACKENDS,
    Decoder,
    DecoderUnavailable,
    Gray,
    make_decoder,
)
from vaxflow.hardware.decoders import load_image as _load  # noqa: E402

DEFAULT_SAMPLES = ROOT.parent / "shared" / "data" / "qr-samples"
IMAGE_SUFFIXES = (".png", ".webp", ".jpg", ".jpeg")
CANVASES = {"file": None, "1280x720": (1280, 720), "640x480": (640, 480)}


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
        image = cast(
            Gray, cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        )
        h, w = image.shape
    y = int(rng.integers(0, height - h + 1))
    x = int(rng.integers(0, width - w + 1))
    canvas[y : y + h, x : x + w] = image
    noise = rng.normal(0, 6, size=canvas.shape)
    return (canvas.astype(np.float32) + noise).clip(0, 255).astype(np.uint8)


def frames(samples: list[Sample]) -> dict[str, list[tuple[Sample, Gray]]]:
    """Each image set: the files as they are, and pasted into camera-sized frames."""
    sets: dict[str, list[tuple[Sample, Gray]]] = {name: [] for name in CANVASES}
    for i, sample in enumerate(samples):
        image = _load(sample.path)
        for name, size in CANVASES.items():
            sets[name].append((sample, image if size is None else paste_on_canvas(image, size, i)))
    return sets


@dataclass
class Score:
    decoded: int = 0
    misreads: int = 0
    false_positives: int = 0
    positives: int = 0
    negatives: int = 0
    seconds: float = 0.0
    missed: list[str] = field(default_factory=list)

    @property
    def ms(self) -> float:
        n = self.positives + self.negatives
        return 1000 * self.seconds / n if n else 0.0


def score(backend: str, images: list[tuple[Sample, Gray]]) -> Score:
    decoder = make_decoder(backend)
    decoder.decode(images[0][1])  # start a worker process (isolated zbar) outside the timing
    result = Score()
    try:
        _score_into(result, decoder, images)
    finally:
        decoder.close()
    return result


def _score_into(result: Score, decoder: Decoder, images: list[tuple[Sample, Gray]]) -> None:
    for sample, image in images:
        t0 = time.perf_counter()
        texts = decoder.decode(image)
        result.seconds += time.perf_counter() - t0
        if sample.expected is None:
            result.negatives += 1
            result.false_positives += bool(texts)
            continue
        result.positives += 1
        if sample.expected in texts:
            result.decoded += 1
        elif texts:
            # Some samples hold two codes (qrcode-2/16: a QR inside a QR); a misread is
            # finding codes but never the expected text.
            result.misreads += 1
        else:
            result.missed.append(str(sample.path))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=Path, default=DEFAULT_SAMPLES)
    parser.add_argument("--backends", help="comma-separated; default: every available + default")
    parser.add_argument("--json", action="store_true", help="one JSON object per row")
    args = parser.parse_args(argv)
    if not args.samples.is_dir():
        print(f"no samples at {args.samples}", file=sys.stderr)
        return 2
    samples = list(iter_samples(args.samples))
    sets = frames(samples)
    backends = args.backends.split(",") if args.backends else [*BACKENDS, "default"]
    rows: dict[tuple[str, str], Score] = {}
    for backend in backends:
        try:
            probe = make_decoder(backend)
        except DecoderUnavailable as err:
            print(f"# {backend}: unavailable ({err})", file=sys.stderr)
            continue
        probe.close()
        label = backend if backend != "default" else f"default ({probe.name})"
        for set_name, images in sets.items():
            rows[(label, set_name)] = score(backend, images)
    positives = sum(s.expected is not None for s in samples)
    negatives = len(samples) - positives
    print(f"# {positives} positive and {negatives} negative images from {args.samples}")
    header = (
        f"{'decoder':<22} {'images':<9} {'decoded':>9} {'misread':>8} {'false+':>7} {'ms/img':>8}"
    )
    if not args.json:
        print(header)
    for (label, set_name), s in rows.items():
        if args.json:
            print(
                json.dumps(
                    {
                        "decoder": label,
                        "images": set_name,
                        "decoded": s.decoded,
                        "positives": s.positives,
                        "misreads": s.misreads,
                        "false_positives": s.false_positives,
                        "ms": round(s.ms, 2),
                    }
                )
            )
        else:
            print(
                f"{label:<22} {set_name:<9} {s.decoded:>4}/{s.positives:<4} {s.misreads:>8}"
                f" {s.false_positives:>7} {s.ms:>8.1f}"
            )
    return _verdict(rows)


def _verdict(rows: dict[tuple[str, str], Score]) -> int:
    """0 when the default decodes as many as the best single decoder, cleanly, in every set."""
    ok = True
    for set_name in CANVASES:
        in_set = {lbl: s for (lbl, sn), s in rows.items() if sn == set_name}
        default = next((s for lbl, s in in_set.items() if lbl.startswith("default")), None)
        singles = [s for lbl, s in in_set.items() if lbl in BACKENDS]
        if default is None or not singles:
            continue
        best = max(s.decoded for s in singles)
        clean = default.misreads == 0 and default.false_positives == 0
        if default.decoded < best or not clean:
            ok = False
            print(f"# {set_name}: default decodes {default.decoded}, best {best}, clean={clean}")
    print("# verdict:", "default is at least as good as every single decoder" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
