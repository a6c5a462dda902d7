"""Reason codes in people's words: zh-CN, zh-TW and en from gettext catalogues, plus staff hints.

The catalogues are .po files read with Babel and compiled in memory at first use, so no
generated .mo files live in the repository.
"""

from __future__ import annotations

import functools
import gettext
import io
import logging
import string
from pathlib import Path
from typing import Any

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

log = logging.getLogger(__name__)

LOCALE_DIR = Path(__file__).parent.parent / "locale"  # vaxflow/queue/locale, shared
LANGUAGES = {"zh-CN": "zh_CN", "zh-TW": "zh_TW", "en": "en"}


@functools.cache
def _catalog(language: str) -> gettext.NullTranslations:
    path = LOCALE_DIR / LANGUAGES[language] / "LC_MESSAGES" / "reasons.po"
    with path.open("rb") as handle:
        catalog = read_po(handle, locale=LANGUAGES[language])
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return gettext.GNUTranslations(buffer)


class _Lenient(dict[str, Any]):
    """Unknown placeholders stay visible rather than failing a refusal."""

    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def _fill(template: str, params: dict[str, Any]) -> str:
    return string.Formatter().vformat(template, (), _Lenient(params))


def text(kind: str, code: str, language: str, params: dict[str, Any]) -> str | None:
    """The translated `kind` ("reason" or "hint") for `code`, or None when none is written."""
    key = f"{kind}.{code}"
    found = _catalog(language).gettext(key)
    return None if found == key else _fill(found, params)


def has(code: str) -> bool:
    return text("reason", code, "en", {}) is not None


def describe(code: str, params: dict[str, Any], fallback: str) -> dict[str, Any]:
    """Messages in every language and the staff hints; `fallback` where no translation exists."""
    messages = {lang: text("reason", code, lang, params) or fallback for lang in LANGUAGES}
    hints = {lang: text("hint", code, lang, params) or "" for lang in LANGUAGES}
    return {"messages": messages, "hints": hints}
