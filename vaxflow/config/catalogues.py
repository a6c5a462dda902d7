"""The one gettext catalogue loader: `.po` files compiled in memory by Babel, at first use.

No generated `.mo` files live in the repository. Every part that speaks (the kiosk's words,
the reasons' messages and staff hints) keeps its catalogues in a `locale/` folder of its own
and reads them through here; `fill` puts the {placeholders} in.
"""

from __future__ import annotations

import functools
import gettext
import io
import string
from pathlib import Path
from typing import Any

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from vaxflow.config.languages import Language, locale_folder


def po_path(locale_dir: Path, domain: str, language: Language) -> Path:
    """Where the `domain` catalogue of `language` lives under `locale_dir`."""
    return locale_dir / locale_folder(language) / "LC_MESSAGES" / f"{domain}.po"


@functools.cache
def catalogue(locale_dir: Path, domain: str, language: Language) -> gettext.NullTranslations:
    """The compiled `domain` catalogue of one language (compiled once per process)."""
    with po_path(locale_dir, domain, language).open("rb") as handle:
        po = read_po(handle, locale=locale_folder(language))
    buffer = io.BytesIO()
    write_mo(buffer, po)
    buffer.seek(0)
    return gettext.GNUTranslations(buffer)


def message_ids(locale_dir: Path, domain: str, language: Language = "en") -> list[str]:
    """Every message id of one catalogue, in file order."""
    with po_path(locale_dir, domain, language).open("rb") as handle:
        return [str(m.id) for m in read_po(handle) if m.id]


class _Lenient(dict[str, Any]):
    """Unknown placeholders stay visible rather than failing the words around them."""

    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def fill(template: str, params: dict[str, Any]) -> str:
    """`template` with its {placeholders} from `params`; a missing one is left as written."""
    return string.Formatter().vformat(template, (), _Lenient(params))
