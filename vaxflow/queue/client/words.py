"""The native consoles' and boards' words (station console, staff sign-in, Kivy boards): the
`consoles` gettext catalogues of `locale/` here, read through `vaxflow.config.catalogues`.

The view-models here say their messages in the language they were given; the Kivy screens
(`vaxflow/screens/boards`, `vaxflow/screens/station`) take their labels from the same place.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from vaxflow.config import catalogues
from vaxflow.config.languages import DEFAULT_LANGUAGE, LANGUAGES, Language
from vaxflow.config.schema import Settings

LOCALE_DIR = Path(__file__).with_name("locale")
DOMAIN = "consoles"


def language_of(code: str | None) -> Language:
    """`code` when vaxflow speaks it, else the default language."""
    return next((lang for lang in LANGUAGES if lang == code), DEFAULT_LANGUAGE)


def words(key: str, language: str, **params: Any) -> str:
    """The words for `key` in `language`, {placeholders} filled (English, then the key, when
    missing: a test checks none is)."""
    found = catalogues.catalogue(LOCALE_DIR, DOMAIN, language_of(language)).gettext(key)
    if found == key:
        found = catalogues.catalogue(LOCALE_DIR, DOMAIN, "en").gettext(key)
    return catalogues.fill(found, params) if params else found


def in_language(texts: Mapping[str, str], language: str, fallback: str = "") -> str:
    """A per-language table (the server's words, a question, a flag) in `language`: zh-TW
    falls back to zh-CN, then English, then any, then `fallback`."""
    found = texts.get(language) or (texts.get("zh-CN") if language == "zh-TW" else None)
    return found or texts.get("en") or next(iter(texts.values()), "") or fallback


def message_ids() -> list[str]:
    """Every message id of the English catalogue."""
    return catalogues.message_ids(LOCALE_DIR, DOMAIN)


class SiteNames:
    """Stations, zones, products and lanes by their site-file names in one language (a code
    the site file does not know is shown as it is)."""

    def __init__(self, settings: Settings | None, language: str) -> None:
        self.settings = settings
        self.language = language

    def station(self, station_id: str, fallback: str = "") -> str:
        found = self.settings.station(station_id) if self.settings else None
        return found.name_in(self.language) if found else (fallback or station_id)

    def zone(self, station_id: str, fallback: str = "") -> str:
        found = self.settings.station(station_id) if self.settings else None
        if found is None:
            return fallback
        names = {str(k): v for k, v in found.zone_names.items()}
        return in_language(names, self.language, found.zone) if names else found.zone

    def product(self, code: str) -> str:
        found = self.settings.product(code) if self.settings else None
        return found.name_in(self.language) if found else code

    def lane(self, prefix: str) -> str:
        lanes = self.settings.lanes if self.settings else []
        found = next((lane for lane in lanes if lane.prefix == prefix), None)
        return found.name_in(self.language) if found else prefix
