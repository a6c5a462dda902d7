"""Finding a font that draws Chinese for raster tickets and previews; fall back, never crash."""

from __future__ import annotations

import functools
import logging
import shutil
import subprocess
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

logger = logging.getLogger(__name__)

#: Where Debian/Ubuntu (fonts-wqy-microhei, fonts-noto-cjk) and macOS keep CJK fonts.
CJK_FONT_PATHS: tuple[str, ...] = (
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc",
    "/System/Library/Fonts/PingFang.ttc",
)
#: Latin-only fallbacks: Chinese turns into boxes, but the ticket number and QR still print.
FALLBACK_FONT_PATHS: tuple[str, ...] = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
)

Font = ImageFont.FreeTypeFont | ImageFont.ImageFont


@functools.cache
def cjk_font_path() -> Path | None:
    """A font file that covers Chinese: known paths first, then fontconfig; None if none."""
    for candidate in CJK_FONT_PATHS:
        if Path(candidate).is_file():
            return Path(candidate)
    fc_match = shutil.which("fc-match")
    if fc_match:
        try:
            out = subprocess.run(
                [fc_match, "-f", "%{file}", ":lang=zh-cn"],
                capture_output=True,
                text=True,
                timeout=5,
                check=False,
            ).stdout.strip()
        except (OSError, subprocess.TimeoutExpired) as err:
            logger.debug("fc-match failed: %s", err)
            out = ""
        # fontconfig always answers with *some* font; only trust ones that draw 中.
        if out and Path(out).is_file() and _covers_chinese(Path(out)):
            return Path(out)
    return None


def _covers_chinese(path: Path) -> bool:
    try:
        font = ImageFont.truetype(str(path), 24)
    except OSError:
        return False
    # A font without the glyph draws .notdef, which looks like any other missing glyph.
    return _glyph(font, "中") != _glyph(font, "\ue000")


def _glyph(font: ImageFont.FreeTypeFont, char: str) -> bytes:
    image = Image.new("L", (32, 32))
    ImageDraw.Draw(image).text((0, 0), char, font=font, fill=255)
    return image.tobytes()


@functools.cache
def _font_source() -> str | None:
    path = cjk_font_path()
    if path is not None:
        return str(path)
    logger.warning(
        "no CJK font found (install fonts-wqy-microhei); Chinese text in raster tickets "
        "and previews will not be readable"
    )
    for candidate in FALLBACK_FONT_PATHS:
        if Path(candidate).is_file():
            return candidate
    logger.warning("no TrueType font found; using Pillow's built-in font")
    return None


@functools.cache
def load_font(size_px: int) -> Font:
    """A font `size_px` pixels tall that draws Chinese when a CJK font is installed."""
    source = _font_source()
    if source is not None:
        try:
            return ImageFont.truetype(source, size_px)
        except OSError as err:
            logger.warning("cannot load font %s: %s; using Pillow's built-in font", source, err)
    return ImageFont.load_default(size_px)
