"""The languages vaxflow speaks, declared once: settings, kiosk, reasons and voices derive theirs.

Adding a language here (and its catalogues under each `locale/` folder) is the whole change;
`tests/config/test_languages.py` checks every catalogue and every per-language table has it.
"""

from __future__ import annotations

from typing import Literal, get_args

#: A language as BCP 47 writes it: on the wire, in site files and in `Accept-Language`.
Language = Literal["zh-CN", "zh-TW", "en"]
#: Every language, in the order the kiosk offers them.
LANGUAGES: tuple[Language, ...] = get_args(Language)
#: The kiosk's language until a person picks one.
DEFAULT_LANGUAGE: Language = "zh-CN"
#: Each language's name written in itself, for language buttons.
LANGUAGE_NAMES: dict[Language, str] = {"zh-CN": "简体中文", "zh-TW": "繁體中文", "en": "English"}


def locale_folder(language: Language) -> str:
    """gettext's folder name of a language: a POSIX locale, `zh_CN` for `zh-CN`."""
    return language.replace("-", "_")
