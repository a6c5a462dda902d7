"""Frame sequences for the camera path, made from QR images: an idle desk (static or noisy) and
a phone screen showing a code, moving in front of a 30 fps camera (perspective, motion blur,
glare, moiré, sensor noise, JPEG), all from fixed seeds. Shared by the decode benchmark and the
camera tests, so neither imports the other.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import zxingcpp

from vaxflow.hardware.decode_samples import iter_samples
from vaxflow.hardware.decoders import Gray, load_image
from vaxflow.hardware.sequence_decoder import is_clean_scan

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
            window = np.asarray(cv2.filter2D(window, -1, kernel), np.float32)
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
        image = np.asarray(
            cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA), np.uint8
        )
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
        image = np.asarray(
            cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA), np.uint8
        )
        seqs.append(Sequence(sample.path.name, None, Held(image, 300.0, 500 + i)))
    return seqs
