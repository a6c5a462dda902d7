"""A schedule policy that contradicts itself fails `vaxflow config check`, naming key and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import DEMO_CONFIG
from vaxflow.cli import main
from vaxflow.config import ConfigError, load_settings_text

DEMO_TEXT = DEMO_CONFIG.read_text(encoding="utf-8")


def _with(old: str, new: str) -> str:
    assert old in DEMO_TEXT, old
    return DEMO_TEXT.replace(old, new, 1)


def _appended(extra: str) -> str:
    return DEMO_TEXT + "\n" + extra


BOOSTER = """
[[boosters]]
effective_from = 2022-06-01
months_after_completion = 6
"""


@pytest.mark.parametrize(
    ("text", "key", "words"),
    [
        (
            _with("max_age_years = 59", "max_age_years = 10"),
            "age_bands[0]",
            "below min_age_years",
        ),
        (
            _appended(
                "[[age_bands]]\nmin_age_years = 3\n"
                "effective_from = 2022-01-01\nuntil = 2021-01-01\n"
            ),
            "age_bands[4]",
            "before effective_from",
        ),
        (
            _appended('[[age_bands]]\nproducts = ["PFIZER"]\neffective_from = 2022-01-01\n'),
            "age_bands[4].products",
            "'PFIZER' is not in [[products]]",
        ),
        (
            _with(
                'products = ["CORONAVAC", "BBIBP"]\nrelation', 'products = ["CORONAVAX"]\nrelation'
            ),
            "boosters[0].products",
            "'CORONAVAX' is not in [[products]]",
        ),
        (
            _appended(BOOSTER + 'after_products = ["MRNA1"]\n'),
            "boosters[2].after_products",
            "'MRNA1' is not in [[products]]",
        ),
        (
            _appended(BOOSTER + 'after_platforms = ["mrna"]\n'),
            "boosters[2].after_platforms",
            "no product in [[products]] has platform 'mrna'",
        ),
        (
            _appended(BOOSTER + "number = 3\n"),
            "boosters[2].number",
            "booster 3 has no rule for booster 2",
        ),
        (
            _appended(
                '[[boosters]]\neffective_from = 2022-06-01\nafter_platforms = ["inactivated"]\n'
                'months_after_completion = 3\nproducts = ["BBIBP"]\n'
            ),
            "boosters[2].months_after_completion",
            "boosters[0] covers the same series",
        ),
        (
            _with('platform = "adenovirus_vector"\n', ""),
            "boosters[1].relation",
            "AD5-NCOV state no platform",
        ),
        (
            _with("series_window_days = 180", "series_window_days = 59"),
            "products[3]",
            "shorter than the 2 minimum intervals together (60 days)",
        ),
        (
            _with('relation = "same_platform"', 'relation = "same_country"'),
            "boosters[0].relation",
            "Input should be",
        ),
        (
            _with('platform = "inactivated"', 'platform = "live"'),
            "products[0].platform",
            "Input should be",
        ),
        (
            _with('[schedule]\noverdue = "regular"', '[schedule]\noverdue = "later"'),
            "schedule.overdue",
            "Input should be",
        ),
    ],
)
def test_a_policy_that_contradicts_itself(text: str, key: str, words: str) -> None:
    with pytest.raises(ConfigError) as err:
        load_settings_text(text, "site.toml")
    problem = err.value.problems[0]
    assert (problem.key, words in problem.message) == (key, True), problem
    assert problem.line is not None


def test_a_band_outside_the_products_licence() -> None:
    text = _with(
        'code = "AD5-NCOV"\nname = "Ad5-nCoV, adenovirus vector"',
        'code = "AD5-NCOV"\nname = "Ad5-nCoV, adenovirus vector"\nmin_age_years = 18',
    )
    text += (
        '\n[[age_bands]]\nproducts = ["AD5-NCOV"]\nmin_age_years = 3\nmax_age_years = 11\n'
        "effective_from = 2021-10-25\n"
    )
    with pytest.raises(ConfigError) as err:
        load_settings_text(text, "site.toml")
    assert err.value.problems[0].key == "age_bands[4].products"
    assert "licensed for ages 18-any" in err.value.problems[0].message


def test_consistent_policies_load() -> None:
    """Overlapping bands add up; rules for other products or series may overlap in time;
    a booster product no station gives is fine (it may be known only from history)."""
    text = _appended(
        "[[age_bands]]\nmin_age_years = 12\nmax_age_years = 17\neffective_from = 2021-07-20\n"
        '[[boosters]]\neffective_from = 2022-06-01\nafter_products = ["AD5-NCOV"]\n'
        'months_after_completion = 3\nproducts = ["AD5-NCOV"]\n'
        "[[boosters]]\neffective_from = 2023-01-01\nmonths_after_completion = 6\nnumber = 2\n"
    )
    site = load_settings_text(text, "site.toml")
    assert len(site.boosters) == 4 and len(site.age_bands) == 5


def test_old_site_files_without_a_policy_still_load() -> None:
    lines = DEMO_TEXT.split("# The 2021-2022 notices", 1)
    old = lines[0] + "[booking]" + lines[1].split("[booking]", 1)[1]
    for key in ("platform", "aliases", "series_window_days"):
        old = "\n".join(line for line in old.splitlines() if not line.startswith(key))
    site = load_settings_text(old, "old.toml")
    assert site.age_bands == [] and site.boosters == [] and site.schedule.overdue == "regular"


def test_config_check_shows_the_policy_and_names_a_contradiction(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["config", "check", str(DEMO_CONFIG)]) == 0
    out = capsys.readouterr().out
    assert "product ZF2001: recombinant_protein, 3 dose(s)" in out
    assert "all within 180 days of dose 1" in out
    assert "booster rules in effect on" in out
    bad = tmp_path / "bad.toml"
    bad.write_text(_appended(BOOSTER + "number = 3\n"), encoding="utf-8")
    assert main(["config", "check", str(bad)]) == 1
    err = capsys.readouterr().err
    assert "boosters[2].number" in err and "no rule for booster 2" in err


def test_the_readmes_worked_examples_load_and_decide() -> None:
    """The 2021 and 2022 policies in README.md are real site-file text."""
    from datetime import date

    from tests.conftest import ROOT
    from vaxflow.queue.core.booking import PriorDose
    from vaxflow.queue.core.schedule import DoseKind, plan_dose

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Schedule policy", 1)[1]
    blocks = [part.split("```", 1)[0] for part in section.split("```toml\n")[1:]]
    assert len(blocks) == 2
    site = """
[site]
id = "example"
name = "Example"
[[lanes]]
prefix = "A"
name = "Booked"
[[stations]]
id = "S01"
name = "Station 1"
zone = "Hall A"
products = ["CORONAVAC", "ZF2001"]
[tokens]
kiosk = ["example-kiosk-token"]
"""
    y2021 = load_settings_text(site + blocks[0], "2021.toml")
    y2022 = load_settings_text(site + blocks[0] + blocks[1], "2022.toml")
    coronavac = y2021.product("CORONAVAC")
    assert coronavac is not None
    series = [
        PriorDose(date(2021, 5, 1), "克尔来福", "", 1),
        PriorDose(date(2021, 5, 22), "CORONAVAC", "Sinovac", 2),
    ]
    day = date(2022, 3, 1)
    assert (
        plan_dose(y2021, coronavac, series, day=day).decision.refusals[0].code == "series_complete"
    )
    booster = plan_dose(y2022, coronavac, series, day=day, birth_date=date(1980, 1, 1))
    assert (booster.kind, booster.dose_number, booster.decision.ok) == (DoseKind.BOOSTER, 3, True)
    child = plan_dose(y2021, coronavac, [], day=date(2021, 10, 25), birth_date=date(2015, 1, 1))
    assert child.decision.ok
