"""Read a site TOML file into `Settings`; every failure names the file, line and key."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from vaxflow.config.errors import ConfigError, ConfigProblem
from vaxflow.config.schema import Settings

_HEADER = re.compile(r"^\s*(\[\[?)\s*([A-Za-z0-9_.\-\"' ]+?)\s*\]\]?\s*(#.*)?$")
_KEYED_MESSAGE = re.compile(r"^([a-z_]+(?:\[\d+\])?(?:\.[a-z_]+)?): (.+)$", re.S)
_KEY = re.compile(r"^\s*([A-Za-z0-9_\-\"]+)\s*=")

_PLAIN: dict[str, str] = {
    "missing": "is required but missing",
    "extra_forbidden": "is not a setting vaxflow knows (check the spelling)",
}


def load_settings(path: str | Path) -> Settings:
    """Load and validate a site file; raise ConfigError naming the file on any problem."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(str(path), [ConfigProblem("(file)", "the file does not exist")]) from None
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError(str(path), [ConfigProblem("(file)", f"cannot be read: {err}")]) from err
    return load_settings_text(text, str(path))


def load_settings_text(text: str, path: str = "<text>") -> Settings:
    """Validate TOML text as a site file; `path` only names it in error messages."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        line = _toml_error_line(str(err))
        raise ConfigError(
            path, [ConfigProblem("(syntax)", f"not valid TOML: {err}", line)]
        ) from err
    try:
        return Settings.model_validate(data)
    except ValidationError as err:
        problems = [_problem(text, data, e) for e in err.errors()]
        raise ConfigError(path, problems) from err


def _problem(text: str, data: dict[str, Any], error: Any) -> ConfigProblem:
    loc = tuple(str(part) for part in error["loc"])
    key = _dotted(loc)
    kind = error["type"]
    if kind in _PLAIN:
        message = _PLAIN[kind]
    else:
        message = str(error["msg"]).removeprefix("Value error, ")
        if "input" in error and kind not in ("value_error", "assertion_error"):
            message = f"{message} (got {error['input']!r})"
    if not loc:
        # Cross-field checks name their key at the start of the message: "stations[2].products: ..."
        match = _KEYED_MESSAGE.match(message)
        if match:
            key, message = match.group(1), match.group(2)
            loc = tuple(p for p in re.split(r"[.\[\]]+", key) if p)
    return ConfigProblem(key or "(top level)", message, _locate(text, loc))


def _dotted(loc: tuple[str, ...]) -> str:
    out = ""
    for part in loc:
        if part.isdigit():
            out += f"[{part}]"
        else:
            out += f".{part}" if out else part
    return out


def _toml_error_line(message: str) -> int | None:
    match = re.search(r"line (\d+)", message)
    return int(match.group(1)) if match else None


def _locate(text: str, loc: tuple[str, ...]) -> int | None:
    """Best-effort line number of a key path such as ("stations", "2", "products")."""
    lines = text.splitlines()
    table: list[str] = []
    counts: dict[str, int] = {}
    best: int | None = None
    for number, raw in enumerate(lines, start=1):
        line = raw.split("#", 1)[0] if "=" not in raw else raw
        header = _HEADER.match(line)
        if header and "=" not in line:
            name = header.group(2).replace('"', "").replace("'", "").strip()
            parts = name.split(".")
            if header.group(1) == "[[":
                index = counts.get(name, -1) + 1
                counts[name] = index
                table = [*parts[:-1], parts[-1], str(index)]
            else:
                table = parts
            if tuple(table) == loc[: len(table)] and (best is None or len(table) >= 1):
                best = number
            continue
        key = _KEY.match(line)
        if key:
            path = (*table, key.group(1).strip('"'))
            if path == loc[: len(path)]:
                return number
    return best
