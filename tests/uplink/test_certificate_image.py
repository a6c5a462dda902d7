"""`vaxflow certificate verify IMAGE`: the certificate QR read from a screenshot or a photo."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from tests.conftest import QR_SAMPLES
from tests.uplink.test_certificate_qr import CERT
from vaxflow.cli import main
from vaxflow.hardware.decode_samples import iter_samples
from vaxflow.hardware.decoders import load_image
from vaxflow.hardware.layout import CertificateView, certificate_layout
from vaxflow.hardware.png_render import render_png
from vaxflow.queue.core import certificate_qr


@pytest.fixture(scope="module")
def signed(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    """A signed certificate text and the keys file that trusts its key."""
    private, public = certificate_qr.new_key()
    keys = tmp_path_factory.mktemp("keys") / "keys.json"
    keys.write_text(json.dumps({"demo-1": {"site": "demo-stadium", "public_key": public}}))
    return certificate_qr.sign(CERT, private, "demo-1"), keys


def slip_png(text: str, path: Path) -> Path:
    """The whole certificate slip as the printer's layout renders it: a screenshot."""
    view = CertificateView(
        site_name="体育中心接种点 Stadium",
        person_name_masked=CERT.name,
        id_masked="4501**********1234",
        product=CERT.product,
        manufacturer=CERT.manufacturer,
        lot=CERT.lot,
        dose_number=CERT.dose_number,
        doses_in_series=2,
        date=CERT.given_on.isoformat(),
        qr_payload=text,
    )
    render_png(certificate_layout(view)).save(path)
    return path


def photo_of(screenshot: Path, path: Path, seed: int = 15) -> Path:
    """A phone photo of the slip: scaled, turned a little, on a grey desk, noisy, JPEG."""
    image = load_image(screenshot)
    small = cv2.resize(image, None, fx=0.8, fy=0.8, interpolation=cv2.INTER_AREA)
    h, w = small.shape
    pad = max(h, w) // 4
    desk = cv2.copyMakeBorder(small, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=150)
    turn = cv2.getRotationMatrix2D((desk.shape[1] / 2, desk.shape[0] / 2), 7.0, 1.0)
    turned = cv2.warpAffine(desk, turn, desk.shape[::-1], borderValue=150)
    rng = np.random.default_rng(seed)
    noisy = (turned.astype(np.float32) + rng.normal(0, 12, turned.shape)).clip(0, 255)
    cv2.imwrite(str(path), noisy.astype(np.uint8), [cv2.IMWRITE_JPEG_QUALITY, 70])
    return path


def verify(image: Path | str, keys: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = main(["certificate", "verify", str(image), "--keys", str(keys), "--json"])
    captured = capsys.readouterr()
    return code, captured.out or captured.err


def test_screenshot_and_photo_of_a_certificate_verify(
    signed: tuple[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text, keys = signed
    screenshot = slip_png(text, tmp_path / "slip.png")
    code, out = verify(screenshot, keys, capsys)
    assert code == 0, out
    shown = json.loads(out)
    assert shown["valid"] is True and shown["lot"] == "LOT-2611" and shown["name"] == "张*明"
    photo = photo_of(screenshot, tmp_path / "photo.jpg")
    code, out = verify(photo, keys, capsys)
    assert code == 0, out
    assert json.loads(out)["dose"] == "demo-stadium/7"
    # the text form answers the same
    assert main(["certificate", "verify", text, "--keys", str(keys), "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == shown


def test_a_tampered_certificate_photo_says_tampered(
    signed: tuple[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text, keys = signed
    head, body, signature = text.rsplit(".", 2)
    forged = certificate_qr._unb64(body).replace(b"LOT-2611", b"LOT-9999")
    tampered = f"{head}.{certificate_qr._b64(forged)}.{signature}"
    photo = photo_of(slip_png(tampered, tmp_path / "forged.png"), tmp_path / "forged.jpg")
    code, out = verify(photo, keys, capsys)
    assert code == 2
    assert json.loads(out)["reason"] == "certificate_tampered"
    assert main(["certificate", "verify", str(photo), "--keys", str(keys)]) == 2
    assert capsys.readouterr().out.startswith("NOT VALID: This certificate has been changed")


def test_a_picture_without_a_qr_code_or_no_picture_is_a_clear_error(
    signed: tuple[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _text, keys = signed
    blank = tmp_path / "blank.png"
    rng = np.random.default_rng(1)
    cv2.imwrite(str(blank), rng.integers(0, 256, (300, 400), dtype=np.uint8))
    code, err = verify(blank, keys, capsys)
    assert code == 1 and "blank.png: no QR code found in the image" in err
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"\xff\xd8 not really a jpeg")
    code, err = verify(broken, keys, capsys)
    assert code == 1 and "broken.jpg: not an image" in err
    code, err = verify(tmp_path / "missing.png", keys, capsys)
    assert code == 1 and "missing.png" in err
    code, out = verify("just some words", keys, capsys)  # neither a certificate nor a file
    assert code == 2 and json.loads(out)["reason"] == "certificate_unreadable"


@pytest.mark.skipif(not QR_SAMPLES.is_dir(), reason=f"no QR samples at {QR_SAMPLES}")
def test_real_photos_of_other_codes_are_not_certificates(
    signed: tuple[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    """zxing-cpp's blackbox photos: a QR that is not ours is unreadable as a certificate; a
    picture with no QR code says so."""
    _text, keys = signed
    samples = list(iter_samples(QR_SAMPLES))
    positive = next(s for s in samples if s.expected and s.path.parent.name == "qrcode-2")
    code, out = verify(positive.path, keys, capsys)
    assert code == 2 and json.loads(out)["reason"] == "certificate_unreadable"
    negative = next(s for s in samples if s.expected is None)
    code, err = verify(negative.path, keys, capsys)
    assert code == 1 and "no QR code found" in err
