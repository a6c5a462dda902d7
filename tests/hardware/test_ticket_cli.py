"""`vaxflow ticket`: the sample ticket's bytes, PNG and printing, through the real CLI."""

from __future__ import annotations

from pathlib import Path

import pytest
import zxingcpp
from PIL import Image

from vaxflow.cli import main
from vaxflow.hardware.escpos_render import parse_escpos
from vaxflow.hardware.layout import QrCode


def test_ticket_writes_bytes_and_png(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out, png = tmp_path / "ticket.bin", tmp_path / "ticket.png"
    code = main(
        ["ticket", "--number", "A023", "--lane", "预约通道", "--site", "体育中心接种点",
         "--site-id", "demo-stadium", "--wait", "7", "--out", str(out), "--png", str(png)]
    )  # fmt: skip
    assert code == 0
    data = out.read_bytes()
    assert b"A023" in data
    assert "体育中心接种点".encode("gb18030") in data and "预约通道".encode("gb18030") in data
    [qr] = [b for b in parse_escpos(data) if isinstance(b, QrCode)]
    assert qr.data.startswith("VXF1:demo-stadium:") and qr.data.endswith(":A023")
    with Image.open(png) as image:
        assert [r.text for r in zxingcpp.read_barcodes(image)] == [qr.data]
    assert f"{out}: {len(data)} bytes" in capsys.readouterr().out


def test_ticket_raster_profile_and_explicit_payload(tmp_path: Path) -> None:
    out = tmp_path / "t.bin"
    argv = ["ticket", "--number", "W101", "--lane", "现场登记", "--qr", "HELLO-123",
            "--profile", "chinese=raster&qr=native&width=384", "--out", str(out)]  # fmt: skip
    assert main(argv) == 0
    data = out.read_bytes()
    assert b"\x1c&" not in data and b"W101" in data and b"1P0HELLO-123" in data


def test_ticket_prints_to_a_simulated_printer(tmp_path: Path) -> None:
    argv = ["ticket", "--number", "E007", "--print", f"sim://?dir={tmp_path}"]
    assert main(argv) == 0
    assert b"E007" in (tmp_path / "job-0001.bin").read_bytes()
    assert (tmp_path / "job-0001.png").is_file()


@pytest.mark.parametrize(
    ("extra", "code", "message"),
    [
        ([], 2, "give --out, --png or --print"),
        (["--out", "x.bin", "--profile", "qr=maybe"], 2, "bad --profile"),
        (["--print", "lp://printer"], 2, "bad printer URL"),
        (["--print", "sim://?fault=paper_out"], 1, "not printed"),
    ],
)
def test_ticket_errors(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    extra: list[str],
    code: int,
    message: str,
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["ticket", "--number", "A001", *extra]) == code
    assert message in capsys.readouterr().err
