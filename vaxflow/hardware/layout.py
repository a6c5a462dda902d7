"""Ticket and certificate layouts: a short list of blocks built by pure functions from views.

The views carry text that is already translated; the layout only decides order, size and
emphasis, so the ESC/POS renderer and the PNG renderer print the same thing.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Align(StrEnum):
    """Horizontal alignment of a block."""

    LEFT = "left"
    CENTER = "center"
    RIGHT = "right"


@dataclass(frozen=True)
class TextLine:
    """One line of text; `size` is the ESC/POS character magnification (1-8)."""

    text: str
    size: int = 1
    bold: bool = False
    align: Align = Align.LEFT


@dataclass(frozen=True)
class BigNumber:
    """The ticket number, printed as large as the paper allows."""

    text: str


@dataclass(frozen=True)
class QrCode:
    """A QR code; `module` is the size of one QR module in printer dots."""

    data: str
    module: int = 6


@dataclass(frozen=True)
class Separator:
    """A full-width rule."""

    char: str = "-"


@dataclass(frozen=True)
class Feed:
    """Blank lines."""

    lines: int = 1


@dataclass(frozen=True)
class Cut:
    """Feed past the cutter and cut."""


@dataclass(frozen=True)
class Raster:
    """A 1-bit image in ESC/POS raster order (rows of bytes, MSB first, 1 = black).

    Layout functions never make these; they appear when printed bytes are read back
    (`escpos_render.parse_escpos`) so a preview shows raster text and raster QR codes.
    """

    width: int
    height: int
    bits: bytes


Block = TextLine | BigNumber | QrCode | Separator | Feed | Cut | Raster
Layout = tuple[Block, ...]

#: How many ticket-text characters fit a big-number line; longer numbers print smaller.
BIG_NUMBER_SIZE = 4


@dataclass(frozen=True)
class TicketView:
    """What a queue ticket shows; every label arrives translated (English defaults)."""

    site_name: str
    number: str
    lane_name: str
    go_to: str
    estimated_wait_minutes: int | None
    issued_at: str
    qr_payload: str
    label_title: str = "Queue ticket"
    label_lane: str = "Lane"
    label_go_to: str = "Please go to"
    label_wait: str = "Estimated wait"
    label_minutes: str = "min"
    label_wait_unknown: str = "please watch the screens"
    label_issued: str = "Issued"
    label_footer: str = "Keep this ticket until you leave the site."


@dataclass(frozen=True)
class CertificateView:
    """What a vaccination certificate slip shows; names and ID arrive masked."""

    site_name: str
    person_name_masked: str
    id_masked: str
    product: str
    manufacturer: str
    lot: str
    dose_number: int
    doses_in_series: int
    date: str
    next_dose_window: str | None = None
    qr_payload: str | None = None
    label_title: str = "Vaccination record"
    label_name: str = "Name"
    label_id: str = "ID"
    label_product: str = "Vaccine"
    label_manufacturer: str = "Manufacturer"
    label_lot: str = "Lot"
    label_dose: str = "Dose"
    label_of: str = "of"
    label_date: str = "Date"
    label_next_dose: str = "Next dose"
    label_complete: str = "Series complete"


def ticket_layout(view: TicketView) -> Layout:
    """The ticket: site, big number, lane, where to go, wait, time, QR of the ticket."""
    if view.estimated_wait_minutes is None:
        wait = f"{view.label_wait}: {view.label_wait_unknown}"
    else:
        wait = f"{view.label_wait}: {view.estimated_wait_minutes} {view.label_minutes}"
    return (
        TextLine(view.site_name, size=1, bold=True, align=Align.CENTER),
        TextLine(view.label_title, align=Align.CENTER),
        Separator(),
        BigNumber(view.number),
        TextLine(f"{view.label_lane}: {view.lane_name}", size=2, bold=True, align=Align.CENTER),
        Feed(),
        TextLine(f"{view.label_go_to}: {view.go_to}", bold=True, align=Align.CENTER),
        TextLine(wait, align=Align.CENTER),
        Feed(),
        QrCode(view.qr_payload),
        TextLine(f"{view.label_issued}: {view.issued_at}", align=Align.CENTER),
        Separator(),
        TextLine(view.label_footer, align=Align.CENTER),
        Cut(),
    )


def certificate_layout(view: CertificateView) -> Layout:
    """The certificate slip: who (masked), what (product, lot, dose), when, next dose."""
    dose = f"{view.label_dose}: {view.dose_number} {view.label_of} {view.doses_in_series}"
    blocks: list[Block] = [
        TextLine(view.site_name, bold=True, align=Align.CENTER),
        TextLine(view.label_title, size=2, bold=True, align=Align.CENTER),
        Separator(),
        TextLine(f"{view.label_name}: {view.person_name_masked}"),
        TextLine(f"{view.label_id}: {view.id_masked}"),
        TextLine(f"{view.label_product}: {view.product}"),
        TextLine(f"{view.label_manufacturer}: {view.manufacturer}"),
        TextLine(f"{view.label_lot}: {view.lot}"),
        TextLine(dose, bold=True),
        TextLine(f"{view.label_date}: {view.date}"),
        Separator(),
    ]
    if view.next_dose_window is not None:
        blocks.append(TextLine(f"{view.label_next_dose}: {view.next_dose_window}", bold=True))
    else:
        blocks.append(TextLine(view.label_complete, bold=True))
    if view.qr_payload:
        blocks += [Feed(), QrCode(view.qr_payload)]
    blocks.append(Cut())
    return tuple(blocks)


def layout_text(layout: Layout) -> str:
    """The text of a layout, one line per text block (logs, tests, screen readers)."""
    lines: list[str] = []
    for block in layout:
        if isinstance(block, TextLine | BigNumber):
            lines.append(block.text)
    return "\n".join(lines)
