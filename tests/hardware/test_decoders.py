"""QR decoders on generated codes and on zxing-cpp's real blackbox samples; `vaxflow decode`."""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import zxingcpp

from tests.conftest import QR_SAMPLES
from vaxflow.cli import main
from vaxflow.hardware.decode_samples import Sample, iter_samples, paste_on_canvas
from vaxflow.hardware.decoders import (
    BACKENDS,
    DEFAULT_CHAIN,
    ChainDecoder,
    Decoder,
    Gray,
    ImageUnreadable,
    IsolatedDecoder,
    available_backends,
    load_image,
    make_decoder,
)

AVAILABLE = available_backends()
needs_samples = pytest.mark.skipif(
    not QR_SAMPLES.is_dir(),
    reason=f"zxing-cpp sample images not found at {QR_SAMPLES} (shared test data, not in the repo)",
)


def qr_image(text: str, scale: int = 4, border: int = 40) -> Gray:
    """A clean QR code on a white page, as a printed booking code would be."""
    code = zxingcpp.create_barcode(text, zxingcpp.BarcodeFormat.QRCode)
    image = np.asarray(code.to_image(scale=scale), dtype=np.uint8)
    return np.pad(image, border, constant_values=255)


@pytest.fixture(scope="module")
def samples() -> list[Sample]:
    return list(iter_samples(QR_SAMPLES))


@pytest.fixture(scope="module", params=AVAILABLE)
def decoder(request: pytest.FixtureRequest) -> Iterator[Decoder]:
    """Each decoder available here; module-scoped so the isolated zbar worker starts once."""
    made = make_decoder(request.param)
    yield made
    made.close()


@pytest.fixture(scope="module")
def default() -> Iterator[Decoder]:
    made = make_decoder()
    yield made
    made.close()


def test_each_decoder_reads_a_booking_code(decoder: Decoder) -> None:
    backend = decoder.name
    assert decoder.decode(qr_image("BK-20261121-0042")) == ["BK-20261121-0042"]
    # zxing-cpp writes Chinese in Hanzi mode, which OpenCV's decoder does not implement
    hanzi = [] if backend.startswith("opencv") else ["预约 0042"]
    assert decoder.decode(qr_image("预约 0042", scale=6)) == hanzi
    blank = np.full((480, 640), 200, dtype=np.uint8)
    assert decoder.decode(blank) == []


def test_each_decoder_takes_colour_and_tiny_images(decoder: Decoder) -> None:
    colour = np.repeat(qr_image("COLOUR1")[:, :, None], 3, axis=2)
    assert decoder.decode(colour) == ["COLOUR1"]
    assert decoder.decode(np.zeros((1, 1), dtype=np.uint8)) == []
    assert decoder.decode(np.zeros((1, 100), dtype=np.uint8)) == []
    with pytest.raises(ValueError):
        decoder.decode(np.zeros((40, 40), dtype=np.float32))


def test_default_and_chains(default: Decoder) -> None:
    assert default.name == "+".join(n for n in DEFAULT_CHAIN if n in AVAILABLE)
    chain = make_decoder("opencv+zxing")
    assert isinstance(chain, ChainDecoder) and chain.name == "opencv+zxing"
    assert chain.decode(qr_image("CHAIN")) == ["CHAIN"]
    chain.close()
    with pytest.raises(ValueError, match="unknown decoder 'qrmagic'"):
        make_decoder("zxing+qrmagic")
    with pytest.raises(ValueError):
        ChainDecoder([])
    assert set(AVAILABLE) <= set(BACKENDS)
    assert {"zxing", "opencv"} <= set(AVAILABLE)


@needs_samples
def test_default_on_real_samples(samples: list[Sample], default: Decoder) -> None:
    """The shipped default: as many as zxing-cpp alone, no misreads, no false positives."""
    zxing = make_decoder("zxing")
    decoded = misread = false_positive = zxing_decoded = 0
    for sample in samples:
        image = load_image(sample.path)
        texts = default.decode(image)
        if sample.expected is None:
            false_positive += bool(texts)
            continue
        decoded += sample.expected in texts
        misread += bool(texts) and sample.expected not in texts
        zxing_decoded += sample.expected in zxing.decode(image)
    positives = sum(s.expected is not None for s in samples)
    assert positives >= 100 and len(samples) - positives >= 40
    assert (misread, false_positive) == (0, 0)
    assert decoded >= zxing_decoded >= 0.85 * positives


@needs_samples
def test_no_false_positives_on_negative_samples(decoder: Decoder, samples: list[Sample]) -> None:
    hits = [
        s.path.name for s in samples if s.expected is None and decoder.decode(load_image(s.path))
    ]
    assert hits == []


@needs_samples
def test_default_in_camera_sized_frames(samples: list[Sample], default: Decoder) -> None:
    """Samples pasted into a 640x480 noisy frame, as the camera path sees them."""
    positives = [s for s in samples if s.expected is not None][:40]
    found = 0
    for i, sample in enumerate(positives):
        frame = paste_on_canvas(load_image(sample.path), (640, 480), seed=i)
        texts = default.decode(frame)
        assert not texts or sample.expected in texts, sample.path
        found += sample.expected in texts
    assert found >= 0.75 * len(positives)


needs_zbar = pytest.mark.skipif("zbar" not in AVAILABLE, reason="libzbar0 is not installed")


@needs_zbar
def test_isolated_worker_restarts_after_it_dies() -> None:
    """zbar runs in a worker process; a dead worker is replaced, the kiosk process lives on."""
    zbar = make_decoder("zbar")
    assert isinstance(zbar, IsolatedDecoder)
    try:
        assert zbar.decode(qr_image("FIRST")) == ["FIRST"]
        pid = zbar.pid
        assert pid is not None and pid != os.getpid()
        os.kill(pid, signal.SIGKILL)  # what a segfault in libzbar looks like from here
        # A frame sent to the dying worker is lost (counted as a crash); the next one is read.
        first = zbar.decode(qr_image("SECOND"))
        assert (first, zbar.crashes) in (([], 1), (["SECOND"], 0))
        assert zbar.decode(qr_image("SECOND")) == ["SECOND"]
        assert zbar.pid not in (None, pid)
    finally:
        zbar.close()
    assert zbar.pid is None


@needs_zbar
def test_isolated_worker_that_hangs_costs_one_frame() -> None:
    zbar = IsolatedDecoder("zbar-inproc", timeout=0.0)  # no answer is ever fast enough
    try:
        assert zbar.decode(qr_image("LOST")) == []
        assert zbar.crashes == 1 and zbar.pid is None
        zbar.timeout = 10.0
        assert zbar.decode(qr_image("BACK")) == ["BACK"]
    finally:
        zbar.close()


def test_load_image_errors(tmp_path: Path) -> None:
    with pytest.raises(ImageUnreadable, match="No such file"):
        load_image(tmp_path / "missing.png")
    text = tmp_path / "notes.png"
    text.write_text("not a picture")
    with pytest.raises(ImageUnreadable, match="not an image"):
        load_image(text)


def _write_png(path: Path, image: Gray) -> None:
    from PIL import Image

    Image.fromarray(image).save(path)


def test_cli_json_lines_and_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = tmp_path / "ticket.png"
    _write_png(good, qr_image("A023"))
    blank = tmp_path / "blank.png"
    _write_png(blank, np.full((64, 64), 255, dtype=np.uint8))
    broken = tmp_path / "broken.webp"
    broken.write_bytes(b"RIFF\x00\x00")
    code = main(["decode", "--json", str(good), str(broken), str(blank)])
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert code == 1
    assert [line["path"] for line in lines] == [str(good), str(broken), str(blank)]
    assert lines[0]["texts"] == ["A023"] and lines[0]["ms"] >= 0
    assert "error" in lines[1] and "texts" not in lines[1]
    assert lines[2]["texts"] == []


def test_cli_plain_and_backend(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = tmp_path / "ticket.png"
    _write_png(good, qr_image("B117"))
    assert main(["decode", "--backend", "opencv", str(good)]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f'{good}: "B117" (') and out.endswith(" ms)\n")
    assert main(["decode", "--backend", "nope", str(good)]) == 2
    assert "unknown decoder" in capsys.readouterr().err


@pytest.mark.parametrize("fmt", ["MicroQRCode", "RMQRCode"])
def test_zxing_reads_no_micro_or_rectangular_qr(fmt: str) -> None:
    """Micro QR M1 has no error correction: moiré on a phone screen reads as one ("4408").
    No booking code is Micro QR or rMQR, so the zxing decoder does not look for them."""
    code = zxingcpp.create_barcode("4408", getattr(zxingcpp.BarcodeFormat, fmt))
    image = np.pad(np.asarray(code.to_image(scale=6), dtype=np.uint8), 30, constant_values=255)
    assert zxingcpp.read_barcodes(image)  # the image holds a readable symbol...
    zxing = make_decoder("zxing")
    assert zxing.decode(image) == []  # ...that the kiosk's decoder does not report
    assert zxing.decode(qr_image("4408")) == ["4408"]
