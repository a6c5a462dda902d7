"""The kiosk's words in zh-CN, zh-TW and en: gettext .po catalogues compiled in memory by Babel.

No .mo files live in the repository; `text(key, language, **params)` finds the words and
fills {placeholders}; a missing key falls back to English, then to the key itself.
"""

from __future__ import annotations

import functools
import gettext
import io
import string
from pathlib import Path
from typing import Any

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

LOCALE_DIR = Path(__file__).with_name("locale")
LANGUAGES = {"zh-CN": "zh_CN", "zh-TW": "zh_TW", "en": "en"}
#: Each language's name written in itself, for the language buttons.
LANGUAGE_NAMES = {"zh-CN": "简体中文", "zh-TW": "繁體中文", "en": "English"}


@functools.cache
def catalog(language: str) -> gettext.NullTranslations:
    """The compiled catalogue of one language (compiled once)."""
    folder = LANGUAGES.get(language, "en")
    path = LOCALE_DIR / folder / "LC_MESSAGES" / "kiosk.po"
    with path.open("rb") as handle:
        po = read_po(handle, locale=folder)
    buffer = io.BytesIO()
    write_mo(buffer, po)
    buffer.seek(0)
    return gettext.GNUTranslations(buffer)


class _Lenient(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def has(key: str, language: str) -> bool:
    return catalog(language).gettext(key) != key


def text(key: str, language: str, **params: Any) -> str:
    """The words for `key` in `language` (English, then the key, when missing)."""
    found = catalog(language).gettext(key)
    if found == key and language != "en":
        found = catalog("en").gettext(key)
    return string.Formatter().vformat(found, (), _Lenient(params)) if params else found


def message_ids() -> list[str]:
    """Every message id of the English catalogue."""
    path = LOCALE_DIR / "en" / "LC_MESSAGES" / "kiosk.po"
    with path.open("rb") as handle:
        return [str(m.id) for m in read_po(handle) if m.id]
