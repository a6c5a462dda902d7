"""Site files: the shipped ones load; bad ones fail naming the file, line and key, in a sentence."""

from __future__ import annotations

import re
import tomllib
from datetime import time as dt_time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from tests.conftest import DEMO_CONFIG, ROOT
from vaxflow.cli import main
from vaxflow.config import ROLES, ConfigError, Settings, load_settings, load_settings_text

EXAMPLE = ROOT / "config" / "site.example.toml"
DEMO_TEXT = DEMO_CONFIG.read_text(encoding="utf-8")


def test_demo_site_has_what_the_demo_promises() -> None:
    demo = load_settings(DEMO_CONFIG)
    assert len(demo.lanes) == 3
    assert len(demo.stations) == 12
    assert len(demo.products) == 4
    assert set(demo.tokens) == set(ROLES)  # a token for every role, the scraper too


def _keys(model: type[BaseModel]) -> set[str]:
    keys = set()
    for name, field in model.model_fields.items():
        keys.add(name)
        annotation = field.annotation
        inner = getattr(annotation, "__args__", (annotation,))
        for candidate in (annotation, *inner):
            if isinstance(candidate, type) and issubclass(candidate, BaseModel):
                keys |= _keys(candidate)
    return keys


def test_example_file_loads_and_mentions_every_key() -> None:
    load_settings(EXAMPLE)
    text = EXAMPLE.read_text(encoding="utf-8")
    missing = {
        key
        for key in _keys(Settings)
        if not re.search(rf"^\s*#?\s*\[*([\w.]+\.)?{key}\]*\s*(=|$)", text, re.M)
    }
    assert not missing, f"site.example.toml does not explain: {sorted(missing)}"


def _broken(old: str, new: str) -> str:
    assert old in DEMO_TEXT, old
    return DEMO_TEXT.replace(old, new, 1)


def _line_of(text: str, fragment: str) -> int:
    return next(n for n, line in enumerate(text.splitlines(), 1) if fragment in line)


@pytest.mark.parametrize(
    ("old", "new", "key", "words", "at"),
    [
        ("seats = 150", "seats = 0", "observation.seats", "greater than or equal to 1", None),
        ("weight = 3.0", "wieght = 3.0", "lanes[1].wieght", "not a setting vaxflow knows", None),
        (
            'timezone = "Asia/Shanghai"',
            'timezone = "Mars/Olympus"',
            "site.timezone",
            "not a known time zone",
            None,
        ),
        (
            'printer = "sim://"',
            'printer = "lpt://1"',
            "devices.printer",
            "unknown printer scheme 'lpt'",
            None,
        ),
        ('prefix = "E"', 'prefix = "e"', "lanes[1].prefix", "should match pattern", None),
        (
            "max_interval_days = 56",
            "max_interval_days = 7",
            "products[0]",
            "shorter than",
            "[[products]]",
        ),
        (
            'products = ["AD5-NCOV"]',
            'products = ["FOO"]',
            "stations[7].products",
            "not in [[products]]",
            None,
        ),
        (
            'kiosk = ["demo-kiosk-token"]',
            'kiosk = ["short"]',
            "tokens",
            "shorter than 12 characters",
            "[tokens]",
        ),
        (
            'board = ["demo-board-token"]',
            'board = ["demo-kiosk-token"]',
            "tokens",
            "given to both kiosk and board",
            "[tokens]",
        ),
    ],
)
def test_bad_values_name_file_line_and_key(
    old: str, new: str, key: str, words: str, at: str | None
) -> None:
    text = _broken(old, new)
    with pytest.raises(ConfigError) as err:
        load_settings_text(text, "stadium.toml")
    problem = err.value.problems[0]
    assert problem.key == key
    assert words in problem.message
    assert problem.line == _line_of(text, at or new)
    assert str(err.value).startswith(f"stadium.toml:{problem.line}: {key}: ")


def test_missing_section_is_named() -> None:
    text = DEMO_TEXT.replace("[site]", "[sight]", 1)
    with pytest.raises(ConfigError) as err:
        load_settings_text(text, "x.toml")
    keys = {p.key: p.message for p in err.value.problems}
    assert keys["site"] == "is required but missing"
    assert "not a setting vaxflow knows" in keys["sight"]


def test_syntax_error_gives_the_line() -> None:
    with pytest.raises(ConfigError) as err:
        load_settings_text('[site]\nid = "x"\nname = \n', "x.toml")
    assert err.value.problems[0].key == "(syntax)"
    assert err.value.problems[0].line == 3


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings(tmp_path / "nope.toml")


def test_config_check_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["config", "check", str(DEMO_CONFIG)]) == 0
    out = capsys.readouterr().out
    assert "OK" in out and "demo tokens" in out
    bad = tmp_path / "bad.toml"
    bad.write_text(_broken("seats = 150", "seats = -1"), encoding="utf-8")
    assert main(["config", "check", str(bad)]) == 1
    err = capsys.readouterr().err
    assert f"{bad}:" in err and "observation.seats" in err


def test_config_demo_prints_the_built_in_site(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The demo site is package data: printed as shipped, a valid site file to start from."""
    assert main(["config", "demo"]) == 0
    out = capsys.readouterr().out
    assert out == DEMO_CONFIG.read_text(encoding="utf-8")
    copy = tmp_path / "site.toml"
    copy.write_text(out, encoding="utf-8")
    assert load_settings(copy) == load_settings(DEMO_CONFIG)


toml_values = st.recursive(
    st.one_of(st.integers(-5, 10**6), st.text(max_size=20), st.booleans(), st.floats(-1e3, 1e3)),
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(
            st.text("abcdefgiklmnoprstuwy_", min_size=1, max_size=12), children, max_size=4
        )
    ),
    max_leaves=12,
)


@settings(max_examples=150, deadline=None)
@given(
    section=st.sampled_from(
        [
            "site",
            "lanes",
            "stations",
            "products",
            "age",
            "walk_in",
            "devices",
            "tokens",
            "server",
            "queue",
            "observation",
        ]
    ),
    value=toml_values,
)
def test_arbitrary_values_fail_only_with_config_error(section: str, value: object) -> None:
    data = tomllib.loads(DEMO_TEXT)
    data[section] = value
    try:
        Settings.model_validate(data)
    except Exception:
        text = _to_toml(data)
        if text is None:
            return
        with pytest.raises(ConfigError) as err:
            load_settings_text(text, "fuzz.toml")
        assert all(p.message for p in err.value.problems)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300))
def test_arbitrary_text_fails_only_with_config_error(text: str) -> None:
    with pytest.raises(ConfigError):
        load_settings_text(text, "fuzz.toml")


def _to_toml(data: object) -> str | None:
    """A tiny TOML writer good enough for the fuzz test (inline tables only)."""

    def value(v: object) -> str:
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, int | float):
            return repr(v)
        if isinstance(v, str):
            return '"' + v.encode("unicode_escape").decode("ascii").replace('"', '\\"') + '"'
        if isinstance(v, list):
            return "[" + ", ".join(value(x) for x in v) + "]"
        if isinstance(v, dict):
            return "{" + ", ".join(f'"{k}" = {value(x)}' for k, x in v.items()) + "}"
        raise TypeError(v)

    assert isinstance(data, dict)
    try:
        text = "\n".join(f"{k} = {value(v)}" for k, v in data.items())
        tomllib.loads(text)
    except (TypeError, tomllib.TOMLDecodeError, ValueError):
        return None
    return text


# --- the site day's turn (issue 18) ---------------------------------------------------------

_ZONE_LINE = 'timezone = "Asia/Shanghai"'


def _with_turn(value: str) -> str:
    return _broken(_ZONE_LINE, f"{_ZONE_LINE}\nday_turns_at = {value}")


def test_the_day_turns_at_four_unless_the_site_file_says() -> None:
    assert load_settings(DEMO_CONFIG).site.day_turns_at == dt_time(4, 0)
    assert load_settings(EXAMPLE).site.day_turns_at == dt_time(4, 0)
    assert load_settings_text(_with_turn('"06:30"'), "x.toml").site.day_turns_at == dt_time(6, 30)
    assert load_settings_text(_with_turn("00:00:00"), "x.toml").site.day_turns_at == dt_time(0)


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ('"13:00"', "after noon: a site day must turn between 00:00 and 12:00"),
        ('"4am"', 'is not a time of day as "HH:MM"'),
        ('"04:00:30"', 'is not a time of day as "HH:MM"'),
        ("4", 'is not a time of day as "HH:MM"'),
    ],
)
def test_a_bad_turn_is_named_with_its_line(value: str, words: str) -> None:
    text = _with_turn(value)
    with pytest.raises(ConfigError) as err:
        load_settings_text(text, "stadium.toml")
    problem = err.value.problems[0]
    assert (problem.key, problem.line) == ("site.day_turns_at", _line_of(text, "day_turns_at"))
    assert words in problem.message
