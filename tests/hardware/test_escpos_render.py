"""ESC/POS rendering: exact bytes for each block, and whole tickets read back."""

from __future__ import annotations

import pytest
import zxingcpp

from vaxflow.hardware.escpos_render import (
    Command,
    PrinterProfile,
    parse_escpos,
    render_escpos,
    split_commands,
)
from vaxflow.hardware.layout import (
    Align,
    Block,
    Cut,
    Feed,
    QrCode,
    Raster,
    Separator,
    TextLine,
    TicketView,
    certificate_layout,
    layout_text,
    ticket_layout,
)
from vaxflow.hardware.png_render import render_png

from .test_layout import CERT, TICKET_EN, TICKET_ZH

INIT = b"\x1b@"
STYLE_PLAIN_LEFT = b"\x1d!\x00\x1bE\x00\x1ba\x00"
CP437 = b"\x1bt\x00"


@pytest.mark.parametrize(
    ("block", "expected"),
    [
        (TextLine("Hello"), STYLE_PLAIN_LEFT + CP437 + b"Hello\n"),
        (
            TextLine("A023", size=4, bold=True, align=Align.CENTER),
            b"\x1d!\x33\x1bE\x01\x1ba\x01" + CP437 + b"A023\n",
        ),
        (
            TextLine("接种点"),
            STYLE_PLAIN_LEFT + b"\x1c&" + "接种点".encode("gb18030") + b"\x1c." + CP437 + b"\n",
        ),
        (
            TextLine("请前往：B馆"),  # full-width colon: python-escpos alone would print "?"
            STYLE_PLAIN_LEFT
            + b"\x1c&\xc7\xeb\xc7\xb0\xcd\xf9\xa3\xbaB\xb9\xdd\x1c."
            + CP437
            + b"\n",
        ),
        (TextLine("a\x1bd\x05\x10\x04b"), STYLE_PLAIN_LEFT + CP437 + b"a d   b\n"),
        (Separator(), STYLE_PLAIN_LEFT + CP437 + b"-" * 48 + b"\n"),
        (Feed(2), CP437 + b"\n\n"),
        (Cut(), b"\x1bd\x06\x1dV\x00"),
        (
            QrCode("VXF1:A023", module=6),
            b"\x1ba\x01"
            b"\x1d(k\x04\x001A2\x00"  # model 2
            b"\x1d(k\x03\x001C\x06"  # module size 6 dots
            b"\x1d(k\x03\x001E1"  # error correction M
            b"\x1d(k\x0c\x001P0VXF1:A023"  # store the data
            b"\x1d(k\x03\x001Q0" + CP437 + b"\n",  # print it
        ),
    ],
    ids=[
        "ascii",
        "big",
        "gb18030",
        "fullwidth-punct",
        "controls-blanked",
        "separator",
        "feed",
        "cut",
        "native-qr",
    ],
)
def test_block_bytes(block: Block, expected: bytes) -> None:
    assert render_escpos((block,), PrinterProfile(qr="native")) == INIT + expected


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("tcp://10.0.0.5:9100", PrinterProfile()),
        ("tcp://h:9100?chinese=raster&qr=raster", PrinterProfile(chinese="raster", qr="raster")),
        ("usb://0x0416:0x5011?width=384&profile=TM-T88V", PrinterProfile("TM-T88V", width=384)),
        ("sim://?dir=/tmp/x&qr=native", PrinterProfile(qr="native")),
    ],
)
def test_profile_from_url(url: str, expected: PrinterProfile) -> None:
    assert PrinterProfile.from_url(url) == expected


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("tcp://h?chinese=big5", "chinese='big5'"),
        ("tcp://h?qr=yes", "qr='yes'"),
        ("tcp://h?width=wide", "width='wide'"),
        ("tcp://h?width=50", "width='50'"),
        ("tcp://h?profile=NoSuchPrinter", "not a python-escpos printer profile"),
    ],
)
def test_profile_rejects_bad_options(url: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        PrinterProfile.from_url(url)


def test_auto_qr_follows_capability_profile() -> None:
    assert PrinterProfile(qr="auto").native_qr()  # python-escpos "default" has qrCode
    assert not PrinterProfile(qr="raster").native_qr()


def test_ticket_bytes_hold_number_gb18030_text_and_qr() -> None:
    data = render_escpos(ticket_layout(TICKET_ZH), PrinterProfile(qr="native"))
    assert b"E007" in data
    assert b"\x1c&" + "体育中心接种点".encode("gb18030") + b"\x1c." in data
    assert b"1P0" + TICKET_ZH.qr_payload.encode() in data
    assert data.startswith(INIT) and data.endswith(b"\x1dV\x00")


@pytest.mark.parametrize("view", [TICKET_EN, TICKET_ZH], ids=["en", "zh"])
def test_ticket_reads_back(view: TicketView) -> None:
    layout = ticket_layout(view)
    parsed = parse_escpos(render_escpos(layout, PrinterProfile(qr="native")))
    assert layout_text(parsed) == layout_text(layout)
    assert parsed.count(Separator()) == 2
    assert QrCode(view.qr_payload) in parsed


def test_raster_profile_sends_no_chinese_mode_and_its_qr_decodes() -> None:
    data = render_escpos(ticket_layout(TICKET_ZH), PrinterProfile(chinese="raster", qr="raster"))
    assert b"\x1c&" not in data and b"\x1d(k" not in data
    assert b"E007" in data  # ASCII lines stay text
    parsed = parse_escpos(data)
    rasters = [b for b in parsed if isinstance(b, Raster)]
    assert len(rasters) >= 4  # site name, lane, where to go, wait, QR, footer
    results = zxingcpp.read_barcodes(render_png(parsed))
    assert [r.text for r in results] == [TICKET_ZH.qr_payload]


def test_certificate_bytes() -> None:
    data = render_escpos(certificate_layout(CERT))
    assert "张*明".encode("gb18030") in data
    assert b"4501**********1234" in data and b"202111A07" in data
    assert QrCode(CERT.qr_payload or "") in parse_escpos(data)


def test_split_commands_keeps_incomplete_tail_and_skips_payloads() -> None:
    # A raster whose data contains the bytes of a status query must not look like one.
    raster = b"\x1dv0\x00\x01\x00\x03\x00" + b"\x10\x04\x01"
    commands, rest = split_commands(raster + b"ok\x10\x04\x02\x1d(k\x05\x00")
    assert commands == [
        Command(b"\x1dv0", raster[3:]),
        Command(b"", b"ok"),
        Command(b"\x10\x04", b"\x02"),
    ]
    assert rest == b"\x1d(k\x05\x00"
