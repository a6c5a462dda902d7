"""The sequence decoder on synthetic frame sequences (frames made from images, no camera)."""

from __future__ import annotations

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
from vaxflow.hardware.decoders import Decoder, Gray, load_image, make_decoder
from vaxflow.hardware.frame_gate import GateConfig
from vaxflow.hardware.frame_sequences import Sequence, build_sequences, idle_frames
from vaxflow.hardware.sequence_decoder import (
    SequenceDecoder,
    frame_changed,
    is_clean_scan,
    thumbnail,
)

needs_samples = pytest.mark.skipif(not QR_SAMPLES.is_dir(), reason=f"no QR samples at {QR_SAMPLES}")


@pytest.fixture(scope="module")
def chain() -> Iterator[Decoder]:
    """The default chain (zxing-cpp, then zbar in its worker), started once."""
    made = make_decoder("default")
    yield made
    made.close()


@pytest.fixture(scope="module")
def hard() -> list[Sequence]:
    """Generated booking codes on a moving phone screen (moiré, blur, glare, JPEG)."""
    return [s for s in build_sequences(Path("/nonexistent"), 0, 4) if s.expected is not None]


def code_frame(text: str, shape: tuple[int, int] = (720, 1280)) -> Gray:
    frame = np.full(shape, 130, dtype=np.uint8)
    code = zxingcpp.create_barcode(text, zxingcpp.BarcodeFormat.QRCode)
    image = np.pad(np.asarray(code.to_image(scale=6), dtype=np.uint8), 24, constant_values=255)
    frame[200 : 200 + image.shape[0], 500 : 500 + image.shape[1]] = image
    return frame


@pytest.mark.parametrize("kind", ["static", "noisy"])
def test_empty_sequence_decodes_nothing_cheaply(kind: str, chain: Decoder) -> None:
    """60 idle 720p frames: nothing read, two full decodes at most, well under the old cost."""
    frames = idle_frames(kind, 60)
    seq = SequenceDecoder.around(chain)
    start = time.perf_counter()
    assert [seq.decode(f) for f in frames] == [[]] * 60
    spent = time.perf_counter() - start
    config = seq.config
    assert seq.stats.fast <= 60 // config.refresh_every + 1
    assert seq.stats.fallback <= 1 and seq.stats.region == 0
    # The old chain took ~45 ms a frame here; the gate a thumbnail (~0.1 ms) and two decodes.
    assert spent < 60 * 0.010


def test_reacts_within_a_frame(chain: Decoder) -> None:
    seq = SequenceDecoder.around(chain)
    for frame in idle_frames("noisy", 10):
        assert seq.decode(frame) == []
    assert seq.decode(code_frame("BK-20261204-0007")) == ["BK-20261204-0007"]
    # held still: the answer is repeated without decoding (the camera's dedupe sees it again)
    fast = seq.stats.fast
    assert seq.decode(code_frame("BK-20261204-0007")) == ["BK-20261204-0007"]
    assert seq.stats.fast == fast


def test_change_measure_ignores_noise_not_a_hand() -> None:
    frames = idle_frames("noisy", 5)
    base = thumbnail(frames[0])
    assert not any(frame_changed(base, thumbnail(f), 8) for f in frames[1:])
    hand = frames[1].copy()
    hand[0:60, 0:60] = 20  # a corner of the frame goes dark
    assert frame_changed(base, thumbnail(hand), 8)
    assert frame_changed(None, base, 8)
    assert thumbnail(np.zeros((3, 5), dtype=np.uint8)).shape[1] <= 5


@pytest.mark.slow  # > 2 s (./dev test --fast leaves it out)
def test_located_code_read_from_straightened_crops(hard: list[Sequence]) -> None:
    """Frame by frame (no memory), the crops read every frame zxing-cpp alone reads and more,
    and never anything but the code."""
    zxing = make_decoder("zxing")
    alone = more = 0
    for seq in hard:
        decoder = SequenceDecoder(make_decoder("zxing"))
        for index in range(30):
            frame = seq.held.frame(index)
            decoder.reset()
            texts = decoder.decode(frame)
            assert texts in ([], [seq.expected])
            read_alone = seq.expected in zxing.decode(frame)
            assert texts or not read_alone
            alone += read_alone
            more += bool(texts) and not read_alone
    assert more >= 2, (alone, more)


@pytest.mark.slow  # > 2 s (./dev test --fast leaves it out)
def test_rescues_are_validated(hard: list[Sequence]) -> None:
    """A rescue whose text the booking layer would refuse is not a decode."""
    refused: list[str] = []

    def refuse(text: str) -> bool:
        refused.append(text)
        return False

    found = 0
    for seq in hard:
        strict = SequenceDecoder(make_decoder("zxing"), validate=refuse)
        for index in range(30):
            strict.reset()
            found += bool(strict.decode(seq.held.frame(index)))
        assert strict.stats.rejected == len([t for t in refused if t == seq.expected])
        refused.clear()
    # only whole-frame reads by the fast decoder get through; rescues were all refused
    assert found > 0
    assert not is_clean_scan("LINE1\nLINE2") and not is_clean_scan("") and is_clean_scan("A023")


def test_sequence_reads_first_no_later_than_zxing(hard: list[Sequence]) -> None:
    """Played in order as a camera would: first read no later than zxing-cpp alone's."""
    for seq in hard:
        decoder = SequenceDecoder(make_decoder("zxing"), config=GateConfig())
        zxing = make_decoder("zxing")
        ours = theirs = None
        for index in range(60):
            frame = seq.held.frame(index)
            if ours is None and decoder.decode(frame) == [seq.expected]:
                ours = index
            if theirs is None and seq.expected in zxing.decode(frame):
                theirs = index
            if ours is not None and theirs is not None:
                break
        assert ours is not None
        assert theirs is None or ours <= theirs, seq.name


@pytest.mark.slow  # > 2 s (./dev test --fast leaves it out)
@needs_samples
def test_no_false_positives_on_negative_samples(chain: Decoder) -> None:
    """Every negative sample, as a file and held in a 720p frame, with every fallback on."""
    config = GateConfig(fallback_every=1)
    negatives = [s for s in iter_samples(QR_SAMPLES) if s.expected is None]
    assert len(negatives) >= 40
    for i, sample in enumerate(negatives):
        image = load_image(sample.path)
        seq = SequenceDecoder.around(chain, config=config)
        framed = paste_on_canvas(image, (1280, 720), seed=i)
        assert seq.decode(image) == [] and seq.decode(framed) == [], sample.path


@pytest.mark.slow  # > 2 s (./dev test --fast leaves it out)
async def test_camera_reads_a_hard_sequence_once(tmp_path: Path, hard: list[Sequence]) -> None:
    """The camera on a video of a phone screen moving: the code once, then nothing."""
    seq = hard[0]
    path = tmp_path / "phone.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), 30, (1280, 720))
    for index in range(30):
        writer.write(seq.held.frame(index))
    writer.release()
    scanner = CameraScanner(f"camera://{path}?fps=30&dedupe_seconds=5")
    await scanner.open()
    try:
        scan = await scanner.read(5)
        assert scan is not None and scan.text == seq.expected
        while True:  # the rest of the video: duplicates, never another code
            try:
                assert await scanner.read(3) is None
            except OSError:
                break
    finally:
        await scanner.close()
