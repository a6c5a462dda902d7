"""The kiosk's words in every language: the `kiosk` gettext catalogues of this folder.

`text(key, language, **params)` finds the words and fills {placeholders}; a missing key
falls back to English, then to the key itself. Loading is `vaxflow.config.catalogues`.
"""

from __future__ import annotations

import gettext
from pathlib import Path
from typing import Any

from vaxflow.config import catalogues
from vaxflow.config.languages import LANGUAGES, Language

LOCALE_DIR = Path(__file__).with_name("locale")
DOMAIN = "kiosk"


def catalog(language: str) -> gettext.NullTranslations:
    """The compiled catalogue of one language; English for a language not offered."""
    known: Language = next((lang for lang in LANGUAGES if lang == language), "en")
    return catalogues.catalogue(LOCALE_DIR, DOMAIN, known)


def has(key: str, language: str) -> bool:
    return catalog(language).gettext(key) != key


def text(key: str, language: str, **params: Any) -> str:
    """The words for `key` in `language` (English, then the key, when missing)."""
    found = catalog(language).gettext(key)
    if found == key and language != "en":
        found = catalog("en").gettext(key)
    return catalogues.fill(found, params) if params else found


def message_ids() -> list[str]:
    """Every message id of the English catalogue."""
    return catalogues.message_ids(LOCALE_DIR, DOMAIN)
