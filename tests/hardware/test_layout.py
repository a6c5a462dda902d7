"""Ticket and certificate layouts, and their PNG rendering decoded back."""

from __future__ import annotations

import pytest
import zxingcpp
from PIL import Image

from vaxflow.hardware.fonts import cjk_font_path, load_font
from vaxflow.hardware.layout import (
    BigNumber,
    CertificateView,
    Cut,
    QrCode,
    TextLine,
    TicketView,
    certificate_layout,
    layout_text,
    ticket_layout,
)
from vaxflow.hardware.png_render import png_bytes, render_png

TICKET_EN = TicketView(
    site_name="Demo Stadium Vaccination Site",
    number="A023",
    lane_name="Booked",
    go_to="Hall A, stations 1-10",
    estimated_wait_minutes=12,
    issued_at="2026-11-21 08:05",
    qr_payload="VXF1:T:demo-stadium:A023:8f3a",
)
TICKET_ZH = TicketView(
    site_name="体育中心接种点",
    number="E007",
    lane_name="老年人优先",
    go_to="B馆 3号台",
    estimated_wait_minutes=None,
    issued_at="2026-11-21 08:05",
    qr_payload="VXF1:T:demo-stadium:E007:2b1c",
    label_title="排队小票",
    label_lane="通道",
    label_go_to="请前往",
    label_wait="预计等候",
    label_minutes="分钟",
    label_wait_unknown="请留意屏幕",
    label_issued="取号时间",
    label_footer="请保留本小票直至离开接种点。",
)
CERT = CertificateView(
    site_name="Demo Stadium Vaccination Site",
    person_name_masked="张*明",
    id_masked="4501**********1234",
    product="CoronaVac (Vero cell), inactivated",
    manufacturer="Sinovac",
    lot="202111A07",
    dose_number=1,
    doses_in_series=2,
    date="2026-11-21",
    next_dose_window="2026-12-12 – 2027-01-16",
    qr_payload="VXF1:C:demo-stadium:A023",
)


def decode_qr(image: Image.Image) -> list[str]:
    return [result.text for result in zxingcpp.read_barcodes(image)]


def test_ticket_layout_has_number_qr_and_cut() -> None:
    layout = ticket_layout(TICKET_EN)
    assert BigNumber("A023") in layout
    assert QrCode(TICKET_EN.qr_payload) in layout
    assert layout[-1] == Cut()
    text = layout_text(layout)
    for expected in ("Demo Stadium", "Lane: Booked", "Please go to: Hall A", "12 min", "08:05"):
        assert expected in text


@pytest.mark.parametrize(
    ("minutes", "expected"),
    [(0, "Estimated wait: 0 min"), (45, "Estimated wait: 45 min"), (None, "please watch")],
)
def test_ticket_wait_line(minutes: int | None, expected: str) -> None:
    view = TicketView(**{**TICKET_EN.__dict__, "estimated_wait_minutes": minutes})
    assert expected in layout_text(ticket_layout(view))


@pytest.mark.parametrize(
    ("next_window", "qr", "expected_line", "has_qr"),
    [
        ("2026-12-12 – 2027-01-16", "VXF1:C:x", "Next dose: 2026-12-12 – 2027-01-16", True),
        (None, None, "Series complete", False),
    ],
)
def test_certificate_layout(
    next_window: str | None, qr: str | None, expected_line: str, has_qr: bool
) -> None:
    view = CertificateView(**{**CERT.__dict__, "next_dose_window": next_window, "qr_payload": qr})
    layout = certificate_layout(view)
    assert TextLine(expected_line, bold=True) in layout
    assert any(isinstance(b, QrCode) for b in layout) is has_qr
    text = layout_text(layout)
    assert "Name: 张*明" in text and "ID: 4501**********1234" in text and "Dose: 1 of 2" in text
    assert "450102" not in text


@pytest.mark.parametrize("view", [TICKET_EN, TICKET_ZH], ids=["en", "zh"])
def test_ticket_png_qr_decodes_to_payload(view: TicketView) -> None:
    image = render_png(ticket_layout(view))
    assert image.width == 576 + 16
    assert decode_qr(image) == [view.qr_payload]


def test_certificate_png_qr_decodes() -> None:
    assert decode_qr(render_png(certificate_layout(CERT))) == [CERT.qr_payload]


def test_png_bytes_is_a_png() -> None:
    data = png_bytes(ticket_layout(TICKET_EN), width=384)
    assert data.startswith(b"\x89PNG\r\n\x1a\n")


@pytest.mark.skipif(cjk_font_path() is None, reason="fonts-wqy-microhei is not installed")
def test_cjk_font_draws_chinese_glyphs() -> None:
    font = load_font(24)
    # Two different characters must not draw the same (a missing glyph draws one box for both).
    assert font.getmask("接").getbbox() is not None
    assert bytes(font.getmask("接")) != bytes(font.getmask("种"))
