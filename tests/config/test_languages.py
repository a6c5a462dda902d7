"""The languages are declared once (vaxflow.config.languages) and words load one way
(vaxflow.config.catalogues): every catalogue, table and list of languages derives from them."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import get_args

import pytest

from tests.conftest import DEMO_CONFIG
from vaxflow.cli import doctor_text
from vaxflow.config import ConfigError, catalogues, load_settings_text
from vaxflow.config.languages import (
    DEFAULT_LANGUAGE,
    LANGUAGE_NAMES,
    LANGUAGES,
    Language,
    locale_folder,
)
from vaxflow.config.schema import SiteInfo
from vaxflow.hardware.speech import VOICES
from vaxflow.kiosk import flow
from vaxflow.queue.client import words as console_words
from vaxflow.queue.core import reasons
from vaxflow.region import reasons as region_reasons
from vaxflow.screens.kiosk import i18n

PACKAGE = Path(__file__).resolve().parents[2] / "vaxflow"
#: Every gettext domain of the package and the folder that holds its catalogues.
DOMAINS = {
    "reasons": reasons.LOCALE_DIR,
    "kiosk": i18n.LOCALE_DIR,
    "doctor": doctor_text.LOCALE_DIR,
    "region": region_reasons.LOCALE_DIR,
    "consoles": console_words.LOCALE_DIR,
}


def test_the_list_is_the_declared_type_and_starts_with_the_default() -> None:
    assert get_args(Language) == LANGUAGES and LANGUAGES[0] == DEFAULT_LANGUAGE
    assert vars(flow)["LANGUAGES"] is LANGUAGES and vars(reasons)["LANGUAGES"] is LANGUAGES
    assert get_args(SiteInfo.model_fields["languages"].annotation) == (Language,)


@pytest.mark.parametrize("table", [LANGUAGE_NAMES, VOICES], ids=["names", "voices"])
def test_every_per_language_table_has_every_language(table: dict[str, str]) -> None:
    assert list(table) == list(LANGUAGES)


def test_every_locale_folder_is_a_declared_language_and_each_has_every_catalogue() -> None:
    found: dict[str, set[str]] = {}
    for path in PACKAGE.rglob("locale/*/LC_MESSAGES/*.po"):
        found.setdefault(path.parent.parent.name, set()).add(path.stem)
    assert found == {locale_folder(lang): set(DOMAINS) for lang in LANGUAGES}


@pytest.mark.parametrize("domain", sorted(DOMAINS))
@pytest.mark.parametrize("language", LANGUAGES)
def test_every_catalogue_loads_through_the_one_loader(domain: str, language: Language) -> None:
    loaded = catalogues.catalogue(DOMAINS[domain], domain, language)
    ids = catalogues.message_ids(DOMAINS[domain], domain, language)
    assert ids and all(loaded.gettext(key) != "" for key in ids)


def test_the_kiosk_and_the_reasons_share_the_loader() -> None:
    assert i18n.catalog("zh-TW") is catalogues.catalogue(i18n.LOCALE_DIR, "kiosk", "zh-TW")
    assert i18n.catalog("fr") is catalogues.catalogue(i18n.LOCALE_DIR, "kiosk", "en")
    reason = reasons.text("reason", "wrong_site", "zh-TW", {})
    hits = catalogues.catalogue.cache_info().hits
    assert reasons.text("reason", "wrong_site", "zh-TW", {}) == reason
    assert catalogues.catalogue.cache_info().hits == hits + 1  # compiled once, read again


def test_only_the_loader_reads_catalogues() -> None:
    """Babel's .po reader is imported in one module: a second loader cannot creep back in."""
    readers = []
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("babel"):
                readers.append(str(path.relative_to(PACKAGE)))
    assert readers == ["config/catalogues.py"] * len(readers) and readers


def test_placeholders_fill_and_unknown_ones_stay_visible() -> None:
    assert catalogues.fill("{n} min, {who}", {"n": 5}) == "5 min, {who}"


def test_a_site_file_with_an_undeclared_language_is_refused_by_name() -> None:
    text = DEMO_CONFIG.read_text(encoding="utf-8")
    old = 'languages = ["zh-CN", "zh-TW", "en"]'
    assert old in text
    with pytest.raises(ConfigError) as err:
        load_settings_text(text.replace(old, 'languages = ["zh-CN", "fr"]'), "x.toml")
    problem = err.value.problems[0]
    assert problem.key.startswith("site.languages") and "zh-TW" in problem.message
