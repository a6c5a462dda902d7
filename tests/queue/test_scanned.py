"""Scanned text in one form: the pure normaliser, as a table and for arbitrary text."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vaxflow.queue.core.scanned import clean_scan


def wide(text: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in text)


@pytest.mark.parametrize(
    ("scanned", "code"),
    [
        ("ＤＥＭＯ０００１", "DEMO0001"),
        ("ＶＸＢ１．ｋ１．QUJD．sig", "VXB1.k1.QUJD.sig"),
        ("VXB1。k1。QUJD。sig", "VXB1.k1.QUJD.sig"),
        (
            "ｈｔｔｐｓ：／／ｂｏｏｋ．ｅｘａｍｐｌｅ／ｃ？ｃｏｄｅ＝ＢＫ０００１",
            "https://book.example/c?code=BK0001",
        ),
        ("\ufeffDEMO0001\r\n", "DEMO0001"),
        ("DEMO\u200b0001", "DEMO0001"),
        ("\u3000DEMO 0001\t", "DEMO0001"),
        ("A023", "A023"),
    ],
)
def test_clean_scan_table(scanned: str, code: str) -> None:
    assert clean_scan(scanned) == code


@given(st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E)))
def test_ascii_codes_unchanged_and_full_width_folds_to_them(code: str) -> None:
    assert clean_scan(code) == code
    assert clean_scan(wide(code)) == code


@given(st.text())
def test_clean_scan_is_idempotent_and_leaves_nothing_invisible(text: str) -> None:
    once = clean_scan(text)
    assert clean_scan(once) == once
    assert not any(unicodedata.category(ch) in ("Cc", "Cf", "Zs", "Zl", "Zp") for ch in once)
