"""CSV cells that a spreadsheet would run as a formula are escaped (OWASP CSV injection).

A text cell starting with = + - @, a tab or a carriage return gets a leading apostrophe, so
`=HYPERLINK(...)` or `+cmd|...` typed as a name shows as text in Excel or LibreOffice instead
of running. Numbers stay numbers; ordinary names are untouched. Every CSV vaxflow writes for
people to open passes its rows through `safe_row`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

#: The first characters that make a spreadsheet read a cell as a formula.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: Any) -> Any:
    """The cell as written: text that starts like a formula gets a leading apostrophe."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def safe_row(row: Iterable[Any]) -> list[Any]:
    return [safe_cell(value) for value in row]


def safe_dict(row: Mapping[str, Any]) -> dict[str, Any]:
    return {key: safe_cell(value) for key, value in row.items()}
