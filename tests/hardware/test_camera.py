"""The camera scanner on a real OpenCV capture (a video file written by OpenCV), and dedupe."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest
import zxingcpp

from tests.conftest import QR_SAMPLES
from vaxflow.hardware.camera import CameraScanner
from vaxflow.hardware.decode_samples import iter_samples, paste_on_canvas
from vaxflow.hardware.decoders import Gray, load_image, make_decoder
from vaxflow.hardware.dedupe import Deduper
from vaxflow.hardware.errors import DeviceUnavailable
from vaxflow.hardware.interfaces import DeviceState, Scanner
from vaxflow.hardware.scan_text import InvalidScan
from vaxflow.hardware.urls import open_device

SIZE = (640, 480)


def frame_with(text: str | None, *, seed: int = 0) -> Gray:
    """A grey, noisy 640x480 frame, with a QR code held up in it when `text` is given."""
    rng = np.random.default_rng(seed)
    frame = rng.normal(150, 10, size=(SIZE[1], SIZE[0])).clip(0, 255).astype(np.uint8)
    if text is not None:
        code = zxingcpp.create_barcode(text, zxingcpp.BarcodeFormat.QRCode)
        image = np.pad(np.asarray(code.to_image(scale=5), dtype=np.uint8), 20, constant_values=255)
        y, x = 100 + seed % 50, 150 + seed % 80
        frame[y : y + image.shape[0], x : x + image.shape[1]] = image
    return frame


def write_video(path: Path, frames: list[Gray]) -> Path:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), 25, SIZE)
    assert writer.isOpened(), "OpenCV cannot write MJPG AVI here"
    for frame in frames:
        writer.write(cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR))
    writer.release()
    return path


@pytest.fixture
def video(tmp_path: Path) -> Path:
    """Nothing, a booking code held for many frames, nothing, a ticket, the booking again."""
    frames = [frame_with(None, seed=i) for i in range(3)]
    frames += [frame_with("BK-0001", seed=i) for i in range(8)]
    frames += [frame_with(None, seed=i) for i in range(3)]
    frames += [frame_with("A023", seed=i) for i in range(5)]
    frames += [frame_with("BK-0001", seed=i) for i in range(3)]
    return write_video(tmp_path / "desk.avi", frames)


class StepClock:
    """Monotonic seconds that move only when the test says so (injected, not patched)."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


async def read_text(scanner: Scanner, within: float = 5.0) -> str:
    scan = await scanner.read(within)
    assert scan is not None, "nothing read"
    return scan.text


async def test_video_file_reads_each_code_once(video: Path) -> None:
    scanner = open_device("scanner", f"camera://{video}?fps=25&dedupe_seconds=3")
    assert isinstance(scanner, CameraScanner)
    await scanner.open()
    try:
        assert (await scanner.health()).state is DeviceState.OK
        # BK-0001 is in 8 frames in a row, and again after the ticket: within the window
        assert [await read_text(scanner), await read_text(scanner)] == ["BK-0001", "A023"]
        with pytest.raises(DeviceUnavailable, match="end_of_file"):
            await scanner.read(2)
        health = await scanner.health()
        assert (health.state, health.reason) == (DeviceState.OFFLINE, "end_of_file")
    finally:
        await scanner.close()


async def test_code_reported_again_after_the_window(tmp_path: Path) -> None:
    clock = StepClock()
    path = write_video(tmp_path / "held.avi", [frame_with("HELD-1", seed=i) for i in range(4)])
    scanner = CameraScanner(f"camera://{path}?fps=100&loop=true&dedupe_seconds=3", clock=clock)
    await scanner.open()
    try:
        assert await read_text(scanner) == "HELD-1"
        clock.now += 2.0  # still in sight, inside the window: nothing new
        assert await scanner.read(0.3) is None
        clock.now += 10.0  # the window restarts at every sighting, so jump well past it
        assert await read_text(scanner) == "HELD-1"
    finally:
        await scanner.close()


class SlowDecoder:
    """A decoder that blocks 0.3 s a frame, as a big frame on a slow kiosk CPU does."""

    name = "slow"

    def __init__(self) -> None:
        self.inner = make_decoder("zxing")
        self.calls = 0

    def decode(self, image: Gray) -> list[str]:
        self.calls += 1
        time.sleep(0.3)
        return self.inner.decode(image)

    def close(self) -> None:
        self.inner.close()


async def test_decoding_stays_off_the_event_loop(tmp_path: Path) -> None:
    """Decoding blocks a worker thread, never the loop: the loop keeps ticking meanwhile."""
    path = tmp_path / "big.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), 25, (1280, 720))
    for i in range(20):  # the code moves, so every frame is worth decoding
        big = np.full((720, 1280), 140, dtype=np.uint8)
        big[100 + 4 * i : 580 + 4 * i, 200:840] = frame_with("BIG-1")
        writer.write(cv2.cvtColor(big, cv2.COLOR_GRAY2BGR))
    writer.release()
    slow = SlowDecoder()
    scanner = CameraScanner(f"camera://{path}?fps=50&loop=1&dedupe_seconds=60", decoder=slow)
    await scanner.open()
    lags: list[float] = []

    async def heartbeat() -> None:
        while True:
            before = time.perf_counter()
            await asyncio.sleep(0.005)
            lags.append(time.perf_counter() - before - 0.005)

    beat = asyncio.create_task(heartbeat())
    try:
        assert await read_text(scanner) == "BIG-1"
        assert await scanner.read(0.3) is None  # keeps decoding frames, all duplicates
        # ~50 frames a second arrive, ~3 are decoded: the others were skipped, never queued
        captured = scanner._frame_seq
    finally:
        beat.cancel()
        await asyncio.gather(beat, return_exceptions=True)
        await scanner.close()
    assert slow.calls >= 3  # warm-up, the code, duplicates
    assert captured > 3 * slow.calls
    assert lags and max(lags) < 0.15
    slow.close()


async def test_control_characters_refused_once(tmp_path: Path) -> None:
    path = write_video(
        tmp_path / "vcard.avi", [frame_with("LINE1\nLINE2", seed=i) for i in range(6)]
    )
    scanner = CameraScanner(f"camera://{path}?fps=100&decoder=zxing")
    await scanner.open()
    try:
        with pytest.raises(InvalidScan) as err:
            await scanner.read(5)
        assert err.value.reason == "control_character"
        with pytest.raises(DeviceUnavailable):  # then only duplicates, then the file ends
            await scanner.read(2)
    finally:
        await scanner.close()


@pytest.mark.skipif(not QR_SAMPLES.is_dir(), reason=f"no QR samples at {QR_SAMPLES}")
async def test_real_sample_through_the_camera(tmp_path: Path) -> None:
    sample = next(s for s in iter_samples(QR_SAMPLES) if s.path.parent.name == "qrcode-1")
    frame = paste_on_canvas(load_image(sample.path), SIZE, seed=1)
    path = write_video(tmp_path / "sample.avi", [frame] * 4)
    scanner = CameraScanner(f"camera://{path}?fps=100")
    await scanner.open()
    try:
        assert await read_text(scanner) == sample.expected
    finally:
        await scanner.close()


async def test_missing_camera(tmp_path: Path) -> None:
    scanner = CameraScanner(f"camera://{tmp_path}/no-such-camera.avi?reconnect_interval=0.05")
    with pytest.raises(DeviceUnavailable, match="not open"):
        await scanner.read(0.1)
    await scanner.open()
    try:
        health = await scanner.health()
        assert (health.state, health.reason) == (DeviceState.OFFLINE, "not_found")
        with pytest.raises(DeviceUnavailable):
            await scanner.read(0.1)
    finally:
        await scanner.close()


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("camera://", "camera index"),
        ("camera://0?zoom=2", "unknown option 'zoom'"),
        ("camera://0?width=wide", "invalid literal"),
        ("camera://0?decoder=magic", "unknown decoder"),
    ],
)
def test_bad_urls(url: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        CameraScanner(url)


def test_url_source() -> None:
    assert CameraScanner("camera://0").source == 0
    cam = CameraScanner("camera:///dev/video2?width=1280&height=720")
    assert (cam.source, cam.is_file, cam.width, cam.height) == ("/dev/video2", False, 1280, 720)


# --- dedupe --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sightings", "accepted"),
    [
        ([("A", 0.0)], [True]),
        ([("A", 0.0), ("A", 1.0), ("A", 2.5)], [True, False, False]),
        ([("A", 0.0), ("A", 3.1)], [True, True]),
        ([("A", 0.0), ("A", 2.0), ("A", 4.0), ("A", 7.5)], [True, False, False, True]),
        ([("A", 0.0), ("B", 0.1), ("A", 0.2), ("B", 5.0)], [True, True, False, True]),
    ],
)
def test_dedupe_table(sightings: list[tuple[str, float]], accepted: list[bool]) -> None:
    dedupe = Deduper(window=3.0)
    assert [dedupe.accept(text, t) for text, t in sightings] == accepted


def test_dedupe_forgets_old_codes() -> None:
    dedupe = Deduper(window=1.0)
    for i in range(200):
        assert dedupe.accept(f"code-{i}", float(i))
    assert len(dedupe._last_seen) <= 65
    with pytest.raises(ValueError):
        Deduper(window=-1)


@pytest.fixture(autouse=True)
def _no_thread_left() -> Iterator[None]:
    import threading

    before = {t.name for t in threading.enumerate()}
    yield
    left = {t.name for t in threading.enumerate()} - before
    assert not [name for name in left if name.startswith("camera ")]
