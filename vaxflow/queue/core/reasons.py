"""Reason codes in people's words, in every language, from gettext catalogues, plus staff hints.

The `reasons` catalogues live in vaxflow/queue/locale and are loaded by
`vaxflow.config.catalogues` (compiled in memory, no .mo files in the repository).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from vaxflow.config.catalogues import catalogue, fill
from vaxflow.config.languages import LANGUAGES, Language

log = logging.getLogger(__name__)

LOCALE_DIR = Path(__file__).parent.parent / "locale"  # vaxflow/queue/locale, shared
DOMAIN = "reasons"


def text(kind: str, code: str, language: Language, params: dict[str, Any]) -> str | None:
    """The translated `kind` ("reason" or "hint") for `code`, or None when none is written."""
    key = f"{kind}.{code}"
    found = catalogue(LOCALE_DIR, DOMAIN, language).gettext(key)
    return None if found == key else fill(found, params)


def has(code: str) -> bool:
    return text("reason", code, "en", {}) is not None


def describe(code: str, params: dict[str, Any], fallback: str) -> dict[str, Any]:
    """Messages in every language and the staff hints; `fallback` where no translation exists."""
    messages = {lang: text("reason", code, lang, params) or fallback for lang in LANGUAGES}
    hints = {lang: text("hint", code, lang, params) or "" for lang in LANGUAGES}
    return {"messages": messages, "hints": hints}
