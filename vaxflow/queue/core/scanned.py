"""Scanned text made one form, once, where the server receives it: every scanner path alike.

A code reaches the server from a camera, a serial or wedge scanner, or typed by staff; a
kiosk with a Chinese input method turns the same keys into full-width characters
(`ＤＥＭＯ０００１`), an ideographic full stop (`。` for `.`) or a zero-width space. NFKC folds
the full-width forms to ASCII; the IME's own punctuation is mapped; whitespace and invisible
format characters are removed (booking codes, signed codes, booking links and ticket codes
never contain any). Pure; applied by the API models (`api/models`) and `read_booking_scan`.
"""

from __future__ import annotations

import unicodedata

#: What a Chinese or Japanese input method types for ASCII punctuation that NFKC keeps.
_IME_PUNCTUATION = str.maketrans({"。": ".", "｡": ".", "、": ",", "〜": "~", "—": "-"})
#: Unicode categories that never belong in a code: controls, format (ZWSP, BOM, bidi
#: marks), separators (spaces, line and paragraph separators).
_DROP = frozenset({"Cc", "Cf", "Zs", "Zl", "Zp"})


def clean_scan(text: str) -> str:
    """The code in its one form: NFKC, IME punctuation mapped, spaces and invisibles removed."""
    # Removing a space can bring a combining mark next to a letter that NFKC then composes,
    # and NFKC can make a space (U+00A8 is a space and a diaeresis): repeat until stable.
    for _ in range(4):
        folded = unicodedata.normalize("NFKC", text).translate(_IME_PUNCTUATION)
        cleaned = "".join(ch for ch in folded if unicodedata.category(ch) not in _DROP)
        if cleaned == text:
            break
        text = cleaned
    return text


def clean_optional_scan(value: object) -> object:
    """`clean_scan` for a model field before validation (None and non-text left as they are)."""
    return clean_scan(value) if isinstance(value, str) else value
