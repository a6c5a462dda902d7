"""Render a layout to an image: the on-screen ticket, the simulator preview, raster text."""

from __future__ import annotations

import io
import logging
from collections.abc import Callable

import qrcode
from PIL import Image, ImageDraw

from vaxflow.hardware.fonts import Font, load_font
from vaxflow.hardware.layout import (
    BIG_NUMBER_SIZE,
    Align,
    BigNumber,
    Cut,
    Feed,
    Layout,
    QrCode,
    Raster,
    Separator,
    TextLine,
)

logger = logging.getLogger(__name__)

#: Printable width of 80 mm paper at 203 dpi, in dots (= pixels here).
DEFAULT_WIDTH = 576
#: Height of one text line at size 1 (ESC/POS font A is 12 x 24 dots).
LINE_PX = 24
_MARGIN = 8


def text_image(line: TextLine, width: int = DEFAULT_WIDTH) -> Image.Image:
    """One text block drawn black on white, wrapped to `width` pixels."""
    font = load_font(LINE_PX * max(1, line.size))
    stroke = 1 if line.bold else 0
    rows = _wrap(line.text, lambda s: _text_width(font, s, stroke), width)
    row_h = int(LINE_PX * max(1, line.size) * 1.25)
    image = Image.new("L", (width, row_h * len(rows)), 255)
    draw = ImageDraw.Draw(image)
    for i, row in enumerate(rows):
        w = _text_width(font, row, stroke)
        if line.align is Align.CENTER:
            x = (width - w) // 2
        elif line.align is Align.RIGHT:
            x = width - w
        else:
            x = 0
        draw.text((x, i * row_h), row, font=font, fill=0, stroke_width=stroke, stroke_fill=0)
    return image


def qr_image(data: str, module: int) -> Image.Image:
    """A QR code with a two-module quiet zone, `module` pixels per module."""
    code = qrcode.QRCode(
        box_size=module, border=2, error_correction=qrcode.constants.ERROR_CORRECT_M
    )
    code.add_data(data.encode("utf-8"))
    code.make(fit=True)
    matrix = code.get_matrix()
    size = len(matrix) * module
    image = Image.new("L", (size, size), 255)
    draw = ImageDraw.Draw(image)
    for y, row in enumerate(matrix):
        for x, dark in enumerate(row):
            if dark:
                draw.rectangle(
                    (x * module, y * module, (x + 1) * module - 1, (y + 1) * module - 1), fill=0
                )
    return image


def raster_image(block: Raster) -> Image.Image:
    """An ESC/POS raster (1 = black) as a greyscale image."""
    return Image.frombytes("1", (block.width, block.height), block.bits, "raw", "1;I").convert("L")


def render_png(layout: Layout, width: int = DEFAULT_WIDTH) -> Image.Image:
    """The whole layout as one greyscale image `width` pixels wide."""
    parts: list[Image.Image] = []
    for block in layout:
        if isinstance(block, TextLine):
            parts.append(text_image(block, width))
        elif isinstance(block, BigNumber):
            parts.append(text_image(big_number_line(block, width), width))
        elif isinstance(block, QrCode):
            parts.append(_centered(qr_image(block.data, block.module), width))
        elif isinstance(block, Raster):
            parts.append(_centered(raster_image(block), width))
        elif isinstance(block, Separator):
            rule = Image.new("L", (width, LINE_PX), 255)
            ImageDraw.Draw(rule).line((0, LINE_PX // 2, width, LINE_PX // 2), fill=0, width=2)
            parts.append(rule)
        elif isinstance(block, Feed):
            parts.append(Image.new("L", (width, LINE_PX * block.lines), 255))
        elif isinstance(block, Cut):
            cut = Image.new("L", (width, LINE_PX * 2), 255)
            draw = ImageDraw.Draw(cut)
            for x in range(0, width, 16):
                draw.line((x, LINE_PX, x + 8, LINE_PX), fill=128, width=1)
            parts.append(cut)
    height = sum(p.height for p in parts) + 2 * _MARGIN
    page = Image.new("L", (width + 2 * _MARGIN, height), 255)
    y = _MARGIN
    for part in parts:
        page.paste(part, (_MARGIN, y))
        y += part.height
    return page


def png_bytes(layout: Layout, width: int = DEFAULT_WIDTH) -> bytes:
    """The layout as PNG file bytes."""
    buffer = io.BytesIO()
    render_png(layout, width).save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


def big_number_line(block: BigNumber, width: int) -> TextLine:
    """The big number as a centred bold line, as large as fits the paper (at most size 4)."""
    size = BIG_NUMBER_SIZE
    # Font A is 12 dots wide per half-width character; a wide character counts double.
    cells = sum(2 if ord(ch) > 0x2E7F else 1 for ch in block.text) or 1
    while size > 1 and cells * 12 * size > width:
        size -= 1
    return TextLine(block.text, size=size, bold=True, align=Align.CENTER)


def _centered(image: Image.Image, width: int) -> Image.Image:
    canvas = Image.new("L", (max(width, image.width), image.height), 255)
    canvas.paste(image, ((canvas.width - image.width) // 2, 0))
    return canvas


def _text_width(font: Font, text: str, stroke: int) -> int:
    draw = ImageDraw.Draw(Image.new("L", (1, 1)))
    left, _, right, _ = draw.textbbox((0, 0), text, font=font, stroke_width=stroke)
    return int(right - left)


def _wrap(text: str, fits: Callable[[str], int], width: int) -> list[str]:
    """Greedy wrap: break at the last space that fits, else between characters (CJK)."""
    rows: list[str] = []
    for paragraph in text.split("\n") or [""]:
        current = ""
        for char in paragraph:
            candidate = current + char
            if current and fits(candidate) > width:
                cut = current.rfind(" ")
                if cut > 0 and char != " ":
                    rows.append(current[:cut])
                    current = current[cut + 1 :] + char
                else:
                    rows.append(current.rstrip())
                    current = char.lstrip()
            else:
                current = candidate
        rows.append(current)
    return rows
