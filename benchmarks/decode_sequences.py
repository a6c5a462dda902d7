"""The camera path on frame sequences: cost of idle frames, time to first decode of a phone held up.

    .venv/bin/python benchmarks/decode_sequences.py [--samples DIR] [--limit N] [--json]

Idle: 720p BGR frames of a desk, static and with sensor noise; milliseconds per frame for
zxing-cpp alone, the default chain on every frame (before) and the sequence decoder (after).
Sequences: a phone screen showing a code (a shared QR sample whose text is a clean scan, or a
generated booking code) moving in front of a 30 fps camera for 2 s: perspective, motion blur,
glare, the screen's pixel grid aliased by the camera (moiré), sensor noise, JPEG. Each decoder
takes the newest frame when it is free (frames are skipped, never queued), so time to first
decode includes its own slowness. Negatives: the false-positive samples moved the same way.
Everything is built from fixed seeds. Exit status 1 if the sequence decoder misreads or reads
a negative.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import zxingcpp

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.decode import DEFAULT_SAMPLES, iter_samples  # noqa: E402
from vaxflow.hardware.decoders import Decoder, Gray, load_image, make_decoder  # noqa: E402
from vaxflow.hardware.sequence_decoder import SequenceDecoder, is_clean_scan  # noqa: E402

FPS = 30.0
SECONDS = 2.0
FRAME = (1280, 720)

Bgr = np.ndarray


def desk(seed: int) -> Gray:
    """A 720p grey desk scene: smooth shading, a few objects with edges, no code."""
    rng = np.random.default_rng(seed)
    low = rng.normal(120, 30, size=(9, 16)).clip(0, 255).astype(np.float32)
    scene = cv2.resize(low, FRAME, interpolation=cv2.INTER_CUBIC)
    for _ in range(6):
        x, y = int(rng.integers(0, 1100)), int(rng.integers(0, 560))
        w, h = int(rng.integers(60, 300)), int(rng.integers(40, 200))
        cv2.rectangle(scene, (x, y), (x + w, y + h), float(rng.integers(20, 235)), -1)
    return np.asarray(scene.clip(0, 255), dtype=np.uint8)


def camera_noise(gray: Gray, rng: np.random.Generator, sigma: float, quality: int) -> Bgr:
    """Sensor noise and the JPEG a USB camera sends, as the BGR frame OpenCV hands over."""
    noise = rng.standard_normal(size=gray.shape, dtype=np.float32) * sigma
    noisy = (gray.astype(np.float32) + noise).clip(0, 255)
    ok, data = cv2.imencode(".jpg", noisy.astype(np.uint8), [cv2.IMWRITE_JPEG_QUALITY, quality])
    assert ok
    return np.asarray(cv2.imdecode(data, cv2.IMREAD_COLOR), dtype=np.uint8)


def idle_frames(kind: str, count: int, seed: int = 7) -> list[Bgr]:
    """Frames with no code: "static" (one frame repeated) or "noisy" (fresh noise each frame)."""
    scene = desk(seed)
    rng = np.random.default_rng(seed)
    if kind == "static":
        frame = camera_noise(scene, rng, 3.0, 80)
        return [frame] * count
    return [camera_noise(scene, rng, 3.0, 80) for _ in range(count)]


def screen(code: Gray, rng: np.random.Generator) -> Gray:
    """The code as a phone shows it: each module a block of screen pixels, with dark gaps
    between pixels that the camera, sampling far more coarsely, aliases into moiré."""
    pixels = int(rng.integers(9, 15))  # screen pixels per module
    big = cv2.resize(code, None, fx=pixels, fy=pixels, interpolation=cv2.INTER_NEAREST)
    grid = np.ones(big.shape, dtype=np.float32)
    grid[:, ::3] = 0.6  # sub-pixel stripes
    grid[::3, :] *= 0.8
    lit = big.astype(np.float32) * grid * 0.85 + 25  # a screen's black is not black
    return np.asarray(lit.clip(0, 255), dtype=np.uint8)


@dataclass
class Held:
    """A code on a phone screen held in front of the camera: where it goes, frame by frame."""

    screen: Gray
    side: float  # code side in frame pixels
    seed: int
    background: Gray = field(init=False)

    def __post_init__(self) -> None:
        self.background = desk(self.seed)

    def frame(self, index: int) -> Bgr:
        rng = np.random.default_rng(self.seed * 1000 + index)
        path = np.random.default_rng(self.seed)
        cx0, cy0 = path.uniform(450, 830), path.uniform(280, 440)
        phase = path.uniform(0, 6.28)
        t = index / FPS
        cx = cx0 + 40 * np.sin(2.1 * t + phase)
        cy = cy0 + 25 * np.sin(1.7 * t + 2 * phase)
        angle = np.radians(12 * np.sin(1.3 * t + phase))
        half = self.side / 2 * (1 + 0.08 * np.sin(2.7 * t))
        tilt = path.uniform(0.05, 0.18) * np.sin(0.9 * t + phase)  # perspective: one edge nearer
        corners = np.array([[-1, -1], [1, -1], [1, 1], [-1, 1]], dtype=np.float32)
        corners[:, 0] *= 1 + tilt * corners[:, 1]
        rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
        dst = (corners @ rot.T) * half + [cx, cy]
        h, w = self.screen.shape
        src = np.array([[0, 0], [w, 0], [w, h], [0, h]], dtype=np.float32)
        matrix = cv2.getPerspectiveTransform(src, dst.astype(np.float32))
        # INTER_LINEAR from a much finer screen: the camera's own aliasing makes the moiré.
        warped = cv2.warpPerspective(self.screen, matrix, FRAME, flags=cv2.INTER_LINEAR)
        mask = cv2.warpPerspective(np.ones_like(self.screen), matrix, FRAME) > 0
        frame = np.where(mask, warped, self.background)
        # Blur and glare only around the phone (the rest of the desk is still): a window.
        x0, y0 = (max(0, int(v - half)) for v in dst.min(axis=0))
        x1, y1 = (int(v + half) for v in dst.max(axis=0))
        window = frame[y0:y1, x0:x1].astype(np.float32)
        length = int(rng.integers(1, 8))  # hand shake
        if length > 1:
            kernel = np.zeros((length, length), dtype=np.float32)
            if rng.random() < 0.5:
                kernel[length // 2, :] = 1 / length
            else:
                kernel[:, length // 2] = 1 / length
            window = cv2.filter2D(window, -1, kernel)
        gx, gy = cx + path.uniform(-0.4, 0.4) * half, cy + path.uniform(-0.4, 0.4) * half
        yy, xx = np.ogrid[y0 : y0 + window.shape[0], x0 : x0 + window.shape[1]]
        glare = path.uniform(40, 140) * np.exp(
            -((xx - gx) ** 2 + (yy - gy) ** 2) / (2 * (0.35 * half) ** 2)
        )
        frame[y0:y1, x0:x1] = (window + glare).clip(0, 255).astype(np.uint8)
        return camera_noise(frame, rng, 4.0, int(rng.integers(45, 85)))


@dataclass(frozen=True)
class Sequence:
    name: str
    expected: str | None
    held: Held


def generated_codes(count: int) -> list[tuple[str, Gray, int]]:
    """Booking-like payloads as clean codes (one pixel a module) and their side in modules."""
    rng = np.random.default_rng(22)
    alphabet = np.array(list("ABCDEFGHJKLMNPQRSTUVWXYZ23456789"))
    out = []
    for i in range(count):
        if i % 2:
            text = f"BK-2026{int(rng.integers(1, 13)):02d}{int(rng.integers(1, 29)):02d}-{i:04d}"
        else:
            text = "VX1." + "".join(rng.choice(alphabet, size=int(rng.integers(40, 90))))
        code = zxingcpp.create_barcode(text, zxingcpp.BarcodeFormat.QRCode)
        image = np.asarray(code.to_image(scale=1, add_quiet_zones=False), dtype=np.uint8)
        out.append((text, np.pad(image, 2, constant_values=255), image.shape[0]))
    return out


def build_sequences(samples_dir: Path, limit: int, generated: int) -> list[Sequence]:
    """Positive sequences (samples with clean text, generated codes) and negative ones."""
    rng = np.random.default_rng(5)
    seqs: list[Sequence] = []
    samples = list(iter_samples(samples_dir)) if samples_dir.is_dir() else []
    positives = [s for s in samples if s.expected is not None and is_clean_scan(s.expected)]
    step = max(1, len(positives) // limit) if limit else 1
    for i, sample in enumerate(positives[::step][:limit]):
        image = load_image(sample.path)
        side = float(rng.uniform(150, 320))  # the whole sample image, often a photo already
        scale = min(1.0, 500 / max(image.shape))
        image = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        seqs.append(Sequence(sample.path.name, sample.expected, Held(image, side, 100 + i)))
    for i, (text, code, modules) in enumerate(generated_codes(generated)):
        ppm = float(rng.uniform(2.6, 5.0))
        seqs.append(
            Sequence(f"gen-{i}", text, Held(screen(code, rng), (modules + 4) * ppm, 300 + i))
        )
    negatives = [s for s in samples if s.expected is None][: max(10, limit // 2)]
    for i, sample in enumerate(negatives):
        image = load_image(sample.path)
        scale = min(1.0, 500 / max(image.shape))
        image = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        seqs.append(Sequence(sample.path.name, None, Held(image, 300.0, 500 + i)))
    return seqs


@dataclass
class Run:
    """One decoder on one sequence: when it first read the code, whether it misread."""

    first: float | None = None
    misread: bool = False
    decodes: int = 0


def play(seq: Sequence, decoder: Decoder, cache: dict[int, Bgr]) -> Run:
    """The sequence at 30 fps; the decoder always takes the newest frame when it is free."""
    run = Run()
    t = 0.0
    while t < SECONDS:
        index = int(t * FPS)
        frame = cache.get(index)
        if frame is None:
            frame = cache[index] = seq.held.frame(index)
        start = time.perf_counter()
        texts = decoder.decode(frame)
        spent = time.perf_counter() - start
        run.decodes += 1
        t = max(t + spent, (index + 1) / FPS)
        if not texts:
            continue
        if seq.expected is None or seq.expected not in texts:
            run.misread = True
            return run
        run.first = t
        return run
    return run


def per_frame_ms(decoder: Decoder, frames: list[Bgr]) -> float:
    decoder.decode(frames[0])
    start = time.perf_counter()
    for frame in frames[1:]:
        decoder.decode(frame)
    return 1000 * (time.perf_counter() - start) / (len(frames) - 1)


DECODERS: dict[str, Callable[[], Decoder]] = {
    "zxing (every frame)": lambda: make_decoder("zxing"),
    "default chain (before)": lambda: make_decoder("default"),
    "sequence (after)": lambda: SequenceDecoder.around(make_decoder("default")),
}


def percentile(values: list[float], q: float) -> float | None:
    return float(np.percentile(values, q)) if values else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=Path, default=DEFAULT_SAMPLES)
    parser.add_argument("--limit", type=int, default=40, help="shared samples used (0: all)")
    parser.add_argument("--generated", type=int, default=20, help="generated booking codes")
    parser.add_argument("--idle-frames", type=int, default=60)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    rows: list[dict[str, object]] = []
    idle = {kind: idle_frames(kind, args.idle_frames) for kind in ("static", "noisy")}
    for label, factory in DECODERS.items():
        decoder = factory()
        try:
            for kind, frames in idle.items():
                if isinstance(decoder, SequenceDecoder):
                    decoder.reset()
                rows.append(
                    {"decoder": label, "idle": kind, "ms_per_frame": per_frame_ms(decoder, frames)}
                )
        finally:
            decoder.close()
    seqs = build_sequences(args.samples, args.limit, args.generated)
    positives = [s for s in seqs if s.expected is not None]
    decoders = {label: factory() for label, factory in DECODERS.items()}
    runs: dict[str, list[tuple[Sequence, Run]]] = {label: [] for label in decoders}
    try:
        for seq in seqs:
            cache: dict[int, Bgr] = {}  # the same frames for every decoder
            for label, decoder in decoders.items():
                if isinstance(decoder, SequenceDecoder):
                    decoder.reset()
                runs[label].append((seq, play(seq, decoder, cache)))
    finally:
        for decoder in decoders.values():
            decoder.close()
    for label, done in runs.items():
        firsts = [r.first for s, r in done if s.expected is not None and r.first is not None]
        rows.append(
            {
                "decoder": label,
                "sequences": len(positives),
                "decoded": len(firsts),
                "within_1s": sum(f <= 1.0 for f in firsts),
                "first_p50_ms": percentile([1000 * f for f in firsts], 50),
                "first_p95_ms": percentile([1000 * f for f in firsts], 95),
                "misreads": sum(r.misread for s, r in done if s.expected is not None),
                "negatives": len(seqs) - len(positives),
                "false_positives": sum(r.misread for s, r in done if s.expected is None),
            }
        )
    _print(rows, args.json)
    after = rows[-1]
    return 1 if after["misreads"] or after["false_positives"] else 0


def _print(rows: list[dict[str, object]], as_json: bool) -> None:
    for row in rows:
        if as_json:
            print(json.dumps(row))
        elif "idle" in row:
            print(f"{row['decoder']:<24} idle {row['idle']:<7} {row['ms_per_frame']:7.2f} ms/frame")
        else:
            p50, p95 = row["first_p50_ms"], row["first_p95_ms"]
            print(
                f"{row['decoder']:<24} decoded {row['decoded']}/{row['sequences']}"
                f" within 1 s {row['within_1s']}/{row['sequences']}"
                f" first decode p50 {p50 if p50 is None else round(p50)} ms"
                f" p95 {p95 if p95 is None else round(p95)} ms"
                f" misreads {row['misreads']}"
                f" false+ {row['false_positives']}/{row['negatives']}"
            )


if __name__ == "__main__":
    sys.exit(main())
