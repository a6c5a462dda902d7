"""Every message id the native boards and station console use is in all three `consoles`
catalogues, with words (no empty translation), and no catalogue has an id the others lack."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import vaxflow
from vaxflow.config import catalogues
from vaxflow.config.languages import LANGUAGES
from vaxflow.queue.client.words import DOMAIN, LOCALE_DIR, message_ids, words

ROOT = Path(vaxflow.__file__).parent
#: Where the consoles' words are used: the view-models and the Kivy screens (code and .kv).
USERS = [
    ROOT / "queue/client/station_console.py",
    ROOT / "queue/client/staff_signin.py",
    ROOT / "kiosk/station_reader.py",
    *sorted((ROOT / "screens/boards").glob("*.py")),
    *sorted((ROOT / "screens/boards").glob("*.kv")),
    *sorted((ROOT / "screens/station").glob("*.py")),
    *sorted((ROOT / "screens/station").glob("*.kv")),
]
#: words("key", …), self.t("key", …), t('key'), and the keys tables name ("obs.done").
KEY = re.compile(r"""["']((?:board|calls|obs|station|msg|signin|reader)\.[a-z_.]+)["']""")


def used_ids() -> set[str]:
    found: set[str] = set()
    for path in USERS:
        found |= set(KEY.findall(path.read_text(encoding="utf-8")))
    # ids built at run time: station.state.<state>
    return {i for i in found if not i.endswith(".")} | {
        f"station.state.{s}" for s in ("open", "paused", "closed")
    }


def test_the_screens_use_ids() -> None:
    assert {"calls.title", "obs.title", "station.record", "signin.submit"} <= used_ids()


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_used_id_has_words_in_every_catalogue(language: str) -> None:
    catalogue = catalogues.catalogue(LOCALE_DIR, DOMAIN, language)
    have = set(catalogues.message_ids(LOCALE_DIR, DOMAIN, language))  # type: ignore[arg-type]
    missing = sorted(used_ids() - have)
    assert not missing, f"{language} lacks {missing}"
    assert have == set(message_ids()), "the catalogues list different ids"
    empty = [i for i in have if not catalogue.gettext(i).strip() or catalogue.gettext(i) == i]
    assert not empty, f"{language}: no words for {empty}"


def test_traditional_words_in_zh_tw() -> None:
    """zh-TW says 號 觀 離 開, not the simplified 号 观 离 开."""
    simplified = set("号观离开录剂须证检验时间")
    for key in message_ids():
        said = words(key, "zh-TW")
        assert not simplified & set(said), f"{key}: {said}"
