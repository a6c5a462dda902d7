"""The doctor's words in every language: the `doctor` gettext catalogues of cli/locale/.

Rules give message keys and values; this puts them in the site's language (English, then
the key itself, for a word missing from a catalogue). Loading is `vaxflow.config.catalogues`.
"""

from __future__ import annotations

import gettext
from collections.abc import Mapping
from pathlib import Path

from vaxflow.cli.doctor_rules import Finding
from vaxflow.config import catalogues
from vaxflow.config.languages import LANGUAGES, Language

LOCALE_DIR = Path(__file__).with_name("locale")
DOMAIN = "doctor"


def catalog(language: str) -> gettext.NullTranslations:
    """The compiled catalogue of one language; English for a language not offered."""
    known: Language = next((lang for lang in LANGUAGES if lang == language), "en")
    return catalogues.catalogue(LOCALE_DIR, DOMAIN, known)


def text(key: str, language: str, params: Mapping[str, object] | None = None) -> str:
    """The words for `key` in `language`, its {placeholders} filled from `params`."""
    found = catalog(language).gettext(key)
    if found == key and language != "en":
        found = catalog("en").gettext(key)
    return catalogues.fill(found, dict(params or {}))


def words(finding: Finding, language: str) -> tuple[str, str]:
    """What was found and what to do ("" for nothing), in `language`."""
    todo = text(finding.todo, language, finding.params) if finding.todo else ""
    return text(finding.said, language, finding.params), todo


def message_ids() -> list[str]:
    """Every message id of the English catalogue."""
    return catalogues.message_ids(LOCALE_DIR, DOMAIN)
