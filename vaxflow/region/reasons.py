"""The region's refusal codes in words, in every language, plus staff hints.

The region speaks to sites (their shippers log and show the refusal) and to the command
centre's dashboard. Its catalogues are its own (`vaxflow/region/locale`, domain `region`):
the region shares no code with the site but config, so it reads them through the same one
loader (`vaxflow.config.catalogues`), like the site's `reasons`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from vaxflow.config.catalogues import catalogue, fill
from vaxflow.config.languages import LANGUAGES, Language

LOCALE_DIR = Path(__file__).parent / "locale"
DOMAIN = "region"


def text(kind: str, code: str, language: Language, params: dict[str, Any]) -> str | None:
    """The translated `kind` ("reason" or "hint") for `code`, or None when none is written."""
    key = f"{kind}.{code}"
    found = catalogue(LOCALE_DIR, DOMAIN, language).gettext(key)
    return None if found == key else fill(found, params)


def describe(code: str, params: dict[str, Any], fallback: str) -> dict[str, Any]:
    """Messages in every language and the staff hints; `fallback` where none is written."""
    messages = {lang: text("reason", code, lang, params) or fallback for lang in LANGUAGES}
    hints = {lang: text("hint", code, lang, params) or "" for lang in LANGUAGES}
    return {"messages": messages, "hints": hints}


def error_body(code: str, message: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
    """The JSON of a refusal: code, English message, every language's message and hints."""
    body: dict[str, Any] = {"reason": code, "message": message}
    if params:
        body["details"] = params
    body.update(describe(code, params or {}, message))
    return {"error": body}
