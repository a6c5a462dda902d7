"""The pages' words (`addWords` tables and `i18n.js`): every key in zh-CN, zh-TW and en; the
zh-TW words Traditional only; the English words without Chinese. Read from the JS sources."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

WEB = Path(__file__).resolve().parents[2] / "vaxflow" / "screens" / "web"
#: `"key": ["zh-CN", "zh-TW", "en"],` as the tables write an entry.
ENTRY = re.compile(r'^\s*"([\w.?-]+)": \[("(?:[^"\\]|\\.)*"(?:, "(?:[^"\\]|\\.)*")*)\],?$')
#: Simplified characters whose Traditional form differs (号 號, 观 觀, 离 離, 开 開, ...).
SIMPLIFIED = set("号观离开馆请余这说时间还检录门钟证输设备复务诊疗医对阶应药认签扫码别选单")
CJK = re.compile(r"[\u3400-\u9fff]")


def _entries() -> list[tuple[str, str, list[str]]]:
    found = []
    for path in sorted(WEB.glob("*.js")):
        for line in path.read_text(encoding="utf-8").splitlines():
            match = ENTRY.match(line)
            if match:
                words = re.findall(r'"((?:[^"\\]|\\.)*)"', match.group(2))
                found.append((path.name, match.group(1), words))
    return found


ENTRIES = _entries()


def test_the_tables_are_found() -> None:
    assert len(ENTRIES) > 200
    assert {name for name, _, _ in ENTRIES} >= {
        "i18n.js",
        "observer.js",
        "marshal.js",
        "exit.js",
        "desk.js",
        "station.js",
    }


@pytest.mark.parametrize(("page", "key", "words"), ENTRIES, ids=[f"{p}:{k}" for p, k, _ in ENTRIES])
def test_every_word_in_three_languages(page: str, key: str, words: list[str]) -> None:
    assert len(words) == 3 and all(words), (page, key, words)
    _zh_cn, zh_tw, en = words
    assert not SIMPLIFIED & set(zh_tw), (key, zh_tw, sorted(SIMPLIFIED & set(zh_tw)))
    assert not CJK.search(en), (key, en)
    placeholders = [set(re.findall(r"\{\w+\}", w)) for w in words]
    assert placeholders[0] == placeholders[1] == placeholders[2], (key, words)
