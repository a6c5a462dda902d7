"""Render a layout to ESC/POS bytes in memory, and read printed bytes back into blocks.

The command vocabulary is python-escpos' (`Dummy` printer: bytes in memory, no transport).
Two things are emitted through `_raw` instead, because python-escpos 3.1 gets them wrong
(measured with `Dummy(profile="default").text("接种")`):

* Chinese text. `MagicEncode.write` GB18030-encodes a string only when it contains a
  character in U+4E00..U+9FA5, and never sends `FS &` (enter Chinese mode) or `FS .`; a
  printer in single-byte mode then prints each byte as a code-page symbol, and lines with
  only full-width punctuation (":", "（") come out as "?". We send `FS &` + GB18030 +
  `FS .` ourselves, or draw the line as a raster image when the profile says `chinese=raster`.
* Raster QR codes. `Escpos.qr(native=False)` draws with `qrcode` using a one-module quiet
  zone; we draw the same image the PNG preview uses and print it with `Escpos.image`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, Literal
from urllib.parse import parse_qs, urlsplit

from PIL import Image

from vaxflow.hardware.layout import (
    Align,
    BigNumber,
    Block,
    Cut,
    Feed,
    Layout,
    QrCode,
    Raster,
    Separator,
    TextLine,
)
from vaxflow.hardware.png_render import DEFAULT_WIDTH, big_number_line, qr_image, text_image

logger = logging.getLogger(__name__)

ESC, GS, FS, DLE, EOT = b"\x1b", b"\x1d", b"\x1c", b"\x10", b"\x04"
INIT = ESC + b"@"
CHINESE_ON = FS + b"&"
CHINESE_OFF = FS + b"."

#: C0 controls and DEL print as spaces.
_CONTROLS = {code: " " for code in [*range(0x20), 0x7F]}

ChineseMode = Literal["gb18030", "raster"]
QrMode = Literal["auto", "native", "raster"]


@dataclass(frozen=True)
class PrinterProfile:
    """What one printer model can do, taken from its device URL's query string."""

    name: str = "default"
    """python-escpos capability profile name (e.g. "default", "TM-T88V")."""
    chinese: ChineseMode = "gb18030"
    """gb18030: the printer's Chinese mode (FS &); raster: draw non-ASCII lines as images."""
    qr: QrMode = "auto"
    """native: GS ( k; raster: an image; auto: native when the capability profile has qrCode."""
    width: int = DEFAULT_WIDTH
    """Printable width in dots (576 for 80 mm paper, 384 for 58 mm)."""

    @classmethod
    def from_url(cls, url: str) -> PrinterProfile:
        """Profile options from a device URL: `tcp://host:9100?chinese=raster&width=384`."""
        query = {k: v[-1] for k, v in parse_qs(urlsplit(url).query).items()}
        return cls.from_options(query)

    @classmethod
    def from_options(cls, options: Mapping[str, str]) -> PrinterProfile:
        """Build from string options; unknown values fail with a sentence, not a KeyError."""
        profile = cls()
        if "profile" in options:
            profile = replace(profile, name=options["profile"])
            _escpos_profile(profile)  # fail now on an unknown name
        if "chinese" in options:
            if options["chinese"] not in ("gb18030", "raster"):
                raise ValueError(f"chinese={options['chinese']!r}: use gb18030 or raster")
            profile = replace(profile, chinese=options["chinese"])  # type: ignore[arg-type]
        if "qr" in options:
            if options["qr"] not in ("auto", "native", "raster"):
                raise ValueError(f"qr={options['qr']!r}: use auto, native or raster")
            profile = replace(profile, qr=options["qr"])  # type: ignore[arg-type]
        if "width" in options:
            try:
                width = int(options["width"])
            except ValueError:
                width = 0
            if not 128 <= width <= 2048:
                raise ValueError(f"width={options['width']!r}: printable dots, e.g. 576 or 384")
            profile = replace(profile, width=width)
        return profile

    @property
    def columns(self) -> int:
        """Font A characters per line (12 dots each)."""
        return self.width // 12

    def native_qr(self) -> bool:
        """Whether QR codes go to the printer as GS ( k rather than as an image."""
        if self.qr == "auto":
            return bool(_escpos_profile(self).supports("qrCode"))
        return self.qr == "native"


def _escpos_profile(profile: PrinterProfile) -> Any:
    """python-escpos' capability profile, with our paper width filled in."""
    from escpos.capabilities import get_profile

    try:
        escpos_profile = get_profile(profile.name)
    except KeyError:
        raise ValueError(
            f"profile={profile.name!r} is not a python-escpos printer profile"
        ) from None
    _set_width(escpos_profile, profile.width)
    return escpos_profile


def _set_width(escpos_profile: Any, width: int) -> None:
    # A per-instance copy with the paper width, so Escpos.image() can centre and check width
    # (and does not print "media.width.pixel field ... not set" to stdout for every image).
    data = dict(escpos_profile.profile_data)
    data["media"] = {**data.get("media", {}), "width": {"mm": "Unknown", "pixels": width}}
    escpos_profile.profile_data = data


def render_escpos(layout: Layout, profile: PrinterProfile | None = None) -> bytes:
    """The layout as one ESC/POS job: initialise, blocks, cut."""
    from escpos.printer import Dummy  # lazily: escpos configures the root logger on import

    profile = profile or PrinterProfile()
    printer = Dummy(profile=profile.name)
    _set_width(printer.profile, profile.width)
    printer._raw(INIT)
    native_qr = profile.native_qr()
    for block in layout:
        _render_block(printer, block, profile, native_qr)
    data: bytes = printer.output
    return data


def _render_block(printer: Any, block: Block, profile: PrinterProfile, native_qr: bool) -> None:
    if isinstance(block, BigNumber):
        block = big_number_line(block, profile.width)
    if isinstance(block, TextLine):
        _render_text(printer, block, profile)
    elif isinstance(block, QrCode):
        printer.set(align="center")
        if native_qr:
            from escpos.constants import QR_ECLEVEL_M

            printer.qr(block.data, native=True, size=block.module, ec=QR_ECLEVEL_M)
            printer.ln()
        else:
            printer.image(_one_bit(qr_image(block.data, block.module)), center=True)
    elif isinstance(block, Raster):
        printer.image(
            _one_bit(Image.frombytes("1", (block.width, block.height), block.bits, "raw", "1;I"))
        )
    elif isinstance(block, Separator):
        printer.set(align="left", bold=False, custom_size=True, width=1, height=1)
        printer.textln((block.char or "-")[0] * profile.columns)
    elif isinstance(block, Feed):
        printer.ln(block.lines)
    elif isinstance(block, Cut):
        printer.cut()


def _render_text(printer: Any, line: TextLine, profile: PrinterProfile) -> None:
    size = min(8, max(1, line.size))
    # Text comes from config files and ID cards: a control byte in it must not become a command.
    line = replace(line, text=line.text.translate(_CONTROLS))
    if not line.text.isascii() and profile.chinese == "raster":
        printer.image(_one_bit(text_image(line, profile.width)))
        return
    printer.set(align=line.align.value, bold=line.bold, custom_size=True, width=size, height=size)
    if line.text.isascii():
        printer.text(line.text)
    else:
        try:
            encoded = line.text.encode("gb18030")
        except UnicodeEncodeError:  # lone surrogates only; GB18030 covers all of Unicode
            encoded = line.text.encode("gb18030", errors="replace")
        printer._raw(CHINESE_ON + encoded + CHINESE_OFF)
    printer.text("\n")


def _one_bit(image: Image.Image) -> Image.Image:
    """Threshold (no dithering) so anti-aliased text edges do not turn into noise."""
    return image.convert("L").point(lambda v: 255 if v >= 128 else 0, mode="1")


# --- reading bytes back --------------------------------------------------------------------


@dataclass(frozen=True)
class Command:
    """One ESC/POS command (or a run of printable bytes) and its argument bytes."""

    head: bytes  # b"" for printable bytes, else the command prefix such as b"\x1da"
    args: bytes


#: Fixed-length commands: prefix -> number of argument bytes.
_FIXED: dict[bytes, int] = {
    ESC + b"@": 0, ESC + b"2": 0, ESC + b"3": 1, ESC + b"!": 1, ESC + b"-": 1,
    ESC + b"E": 1, ESC + b"G": 1, ESC + b"M": 1, ESC + b"a": 1, ESC + b"d": 1,
    ESC + b"J": 1, ESC + b"t": 1, ESC + b"{": 1, ESC + b"V": 1, ESC + b"R": 1,
    ESC + b"p": 3, GS + b"!": 1, GS + b"B": 1, GS + b"b": 1, GS + b"r": 1, GS + b"a": 1,
    FS + b"&": 0, FS + b".": 0, FS + b"!": 1, FS + b"W": 1, FS + b"C": 1,
    DLE + EOT: 1,
}  # fmt: skip


def split_commands(data: bytes) -> tuple[list[Command], bytes]:
    """Split bytes into commands; the second item is an incomplete command left at the end.

    Knows the lengths of the commands vaxflow sends (and common ones), so bytes inside a
    raster image or QR payload are never mistaken for a status query.
    """
    out: list[Command] = []
    i = 0
    n = len(data)
    while i < n:
        byte = data[i : i + 1]
        if byte not in (ESC, GS, FS, DLE):
            j = i
            while j < n and data[j : j + 1] not in (ESC, GS, FS, DLE):
                j += 1
            out.append(Command(b"", data[i:j]))
            i = j
            continue
        if i + 1 >= n:
            break
        head = data[i : i + 2]
        if head in _FIXED:
            end = i + 2 + _FIXED[head]
        elif head == GS + b"V":
            if i + 2 >= n:
                break
            end = i + 4 if data[i + 2] in (65, 66) else i + 3
        elif head in (GS + b"(", FS + b"("):  # GS ( k / GS ( L: fn byte, pL pH, payload
            if i + 5 > n:
                break
            head = data[i : i + 3]
            end = i + 5 + data[i + 3] + 256 * data[i + 4]
        elif head == GS + b"v":  # GS v 0 m xL xH yL yH data
            if i + 8 > n:
                break
            head = data[i : i + 3]
            width_bytes = data[i + 4] + 256 * data[i + 5]
            height = data[i + 6] + 256 * data[i + 7]
            end = i + 8 + width_bytes * height
        else:  # unknown: treat the prefix byte as a one-byte command and resync
            out.append(Command(byte, b""))
            i += 1
            continue
        if end > n:
            break
        out.append(Command(head, data[i + len(head) : end]))
        i = end
    return out, data[i:]


def parse_escpos(data: bytes) -> Layout:
    """Read an ESC/POS job back into blocks: text lines, QR codes, raster images, cuts.

    For previews (the simulator's PNG) and tests; it understands what `render_escpos` sends.
    """
    commands, _rest = split_commands(data)
    blocks: list[Block] = []
    state: dict[str, Any] = {"align": Align.LEFT, "bold": False, "size": 1, "chinese": False}
    runs: list[tuple[bool, bytes]] = []
    qr_data = b""
    qr_module = 3

    def flush(newline: bool) -> None:
        text = "".join(_decode(chinese, raw) for chinese, raw in runs)
        runs.clear()
        if len(text) >= 16 and len(set(text)) == 1 and text[0] in "-=_*":
            blocks.append(Separator(text[0]))
        elif text:
            blocks.append(TextLine(text, state["size"], state["bold"], state["align"]))
        elif newline:
            blocks.append(Feed())

    for command in commands:
        head, args = command.head, command.args
        if head == b"":
            parts = args.split(b"\n")
            for k, part in enumerate(parts):
                if part:
                    runs.append((state["chinese"], part))
                if k < len(parts) - 1:
                    flush(newline=True)
        elif head == INIT:
            state.update(align=Align.LEFT, bold=False, size=1, chinese=False)
        elif head == CHINESE_ON:
            state["chinese"] = True
        elif head == CHINESE_OFF:
            state["chinese"] = False
        elif head == ESC + b"a":
            state["align"] = [Align.LEFT, Align.CENTER, Align.RIGHT][args[0] % 48 % 3]
        elif head == ESC + b"E":
            state["bold"] = bool(args[0] & 1)
        elif head == GS + b"!":
            state["size"] = max((args[0] >> 4) + 1, (args[0] & 15) + 1)
        elif head == ESC + b"d":
            flush(newline=False)
            if args[0]:
                blocks.append(Feed(args[0]))
        elif head == GS + b"V":
            flush(newline=False)
            blocks.append(Cut())
        elif head == GS + b"(k" and len(args) >= 4:
            fn = args[3]
            if fn == 67:
                qr_module = args[4]
            elif fn == 80:
                qr_data = args[5:]
            elif fn == 81:
                flush(newline=False)
                blocks.append(QrCode(qr_data.decode("utf-8", "replace"), qr_module))
        elif head == GS + b"v0" and len(args) >= 5:
            flush(newline=False)
            width_bytes = args[1] + 256 * args[2]
            height = args[3] + 256 * args[4]
            blocks.append(Raster(width_bytes * 8, height, bytes(args[5:])))
    flush(newline=False)
    return tuple(blocks)


def _decode(chinese: bool, raw: bytes) -> str:
    if chinese:
        return raw.decode("gb18030", errors="replace")
    return raw.decode("cp437", errors="replace")
