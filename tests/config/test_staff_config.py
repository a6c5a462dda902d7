"""PIN and badge hashes, the [[staff]] schema, and `vaxflow staff hash-pin` / `hash-badge`."""

from __future__ import annotations

import io
import sys

import pytest

from tests.conftest import DEMO_CONFIG
from vaxflow.cli import main
from vaxflow.config import ConfigError, load_settings_text, pins

DEMO_TEXT = DEMO_CONFIG.read_text(encoding="utf-8")
FAST = {"n": 1024, "r": 8, "p": 1}  # cheap parameters: these tests check logic, not cost


def test_a_pin_hash_verifies_only_its_pin_and_is_salted() -> None:
    first, second = pins.hash_pin("1234", **FAST), pins.hash_pin("1234", **FAST)
    assert first != second  # a fresh salt each time
    assert pins.verify("1234", first) and pins.verify("1234", second)
    assert not pins.verify("1235", first) and not pins.verify("12345", first)
    parsed = pins.parse_hash(first)
    assert (parsed.n, parsed.r, parsed.p, len(parsed.digest)) == (1024, 8, 1, 32)
    assert "1234" not in first


def test_new_hashes_use_the_documented_parameters() -> None:
    assert pins.hash_pin("2468").startswith("scrypt$16384$8$1$")


@pytest.mark.parametrize(
    ("pin", "words"),
    [
        ("123", "at least 4"),
        ("12a4", "digits only"),
        ("１２３４", "digits only"),
        ("1" * 13, "at most"),
    ],
)
def test_short_or_non_digit_pins_are_refused(pin: str, words: str) -> None:
    with pytest.raises(pins.WeakSecret, match=words):
        pins.hash_pin(pin)


def test_badges_of_one_site_share_a_salt_so_a_scan_needs_one_hash() -> None:
    a = pins.parse_hash(pins.hash_badge("CARD-0001", "site-a", **FAST))
    b = pins.parse_hash(pins.hash_badge("CARD-0002", "site-a", **FAST))
    other = pins.parse_hash(pins.hash_badge("CARD-0001", "site-b", **FAST))
    assert a.salt == b.salt != other.salt and a.digest != other.digest
    assert pins.verify(" CARD-0001 ".strip(), a)


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ("1234", "is not a hash made by `vaxflow staff hash-pin`"),
        ("scrypt$1000$8$1$AAAAAAAAAAA=$AAAAAAAAAAAAAAAAAAAAAA==", "power of two"),
        ("scrypt$16384$8$1$!!!$AAAA", "not base64"),
    ],
)
def test_a_bad_pin_hash_names_the_key_and_never_echoes_the_value(value: str, words: str) -> None:
    text = DEMO_TEXT.replace(DEMO_TEXT.split('pin_hash = "', 1)[1].split('"', 1)[0], value, 1)
    with pytest.raises(ConfigError) as caught:
        load_settings_text(text, "site.toml")
    problem = caught.value.problems[0]
    assert problem.key == "staff[0].pin_hash" and words in problem.message
    assert problem.line is not None and 'pin_hash = "' in text.splitlines()[problem.line - 1]
    if value == "1234":
        assert "1234" not in str(caught.value)


def test_staff_ids_are_unique_and_required_sign_in_needs_staff() -> None:
    with pytest.raises(ConfigError, match="two people share the id N0001"):
        load_settings_text(DEMO_TEXT.replace('id = "N0002"', 'id = "N0001"'))
    no_staff = DEMO_TEXT.split("\n[[staff]]", 1)[0].replace("required = false", "required = true")
    with pytest.raises(ConfigError, match="no \\[\\[staff\\]\\] can sign in"):
        load_settings_text(no_staff)


def test_hash_pin_reads_stdin_and_refuses_weak_pins(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO("4321\n"))
    assert main(["staff", "hash-pin", "--stdin"]) == 0
    made = capsys.readouterr().out.strip()
    assert pins.verify("4321", made)
    monkeypatch.setattr(sys, "stdin", io.StringIO("12\n"))
    assert main(["staff", "hash-pin", "--stdin"]) == 2
    assert "at least 4 digits" in capsys.readouterr().err


def test_hash_badge_takes_the_site_from_the_site_file(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO("DEMO-BADGE-0001\n"))
    assert main(["staff", "hash-badge", "--config", str(DEMO_CONFIG), "--stdin"]) == 0
    made = capsys.readouterr().out.strip()
    assert f'badge_hash = "{made}"' in DEMO_TEXT  # the demo's badge is Wang Fang's
