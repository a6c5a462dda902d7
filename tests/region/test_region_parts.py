"""The region's parts that need no cluster: the report's cells, the region file, the person key."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from vaxflow.cli import main
from vaxflow.config import ConfigError, load_settings_text
from vaxflow.config.region import load_region_settings
from vaxflow.csv_cells import safe_cell
from vaxflow.queue.core.privacy import person_key
from vaxflow.region.report import DailyReport, to_csv, to_html

ROOT = Path(__file__).resolve().parent.parent.parent


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        ('=HYPERLINK("x")', '\'=HYPERLINK("x")'),
        ("+1", "'+1"),
        ("-2", "'-2"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tx", "'\tx"),
        ("体育中心", "体育中心"),
        (12, 12),
        (None, None),
    ],
)
def test_report_cells_never_run_as_formulas(value: object, cell: object) -> None:
    assert safe_cell(value) == cell


def test_report_csv_and_html_carry_every_site_and_the_total() -> None:
    columns = [("site_id", "Site"), ("site_name", "Name"), ("doses", "Doses")]
    rows = [
        {"site_id": "site-01", "site_name": "=cmd|' /C calc'!A0", "doses": 3},
        {"site_id": "site-02", "site_name": "<b>会展</b>", "doses": 4},
    ]
    report = DailyReport(date(2026, 12, 5), columns, rows, {"site_id": "Total", "doses": 7})
    lines = to_csv(report).splitlines()
    assert lines[0] == "Site,Name,Doses"
    assert lines[1].startswith("site-01,'=cmd|")
    assert lines[-1] == "Total,,7"
    page = to_html(report)
    assert "&lt;b&gt;会展&lt;/b&gt;" in page and "<b>会展" not in page


def test_region_file_example_loads_and_duplicates_are_refused(tmp_path: Path) -> None:
    example = ROOT / "config" / "region.example.toml"
    settings = load_region_settings(example)
    assert [s.id for s in settings.sites] == ["site-01", "site-02"]
    assert settings.site_of_token("a-long-random-token-for-site-02") == settings.sites[1]
    twice = tmp_path / "region.toml"
    text = example.read_text(encoding="utf-8").replace("token-for-site-02", "token-for-site-01")
    twice.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match="share a token"):
        load_region_settings(twice)


def test_site_region_section_needs_a_token_with_the_url() -> None:
    text = (ROOT / "config" / "site.example.toml").read_text(encoding="utf-8")
    with pytest.raises(ConfigError, match="token"):
        load_settings_text(text + '\n[region]\nurl = "https://region.example:8090"\n')
    ok = load_settings_text(
        text + '\n[region]\nurl = "https://region.example:8090"\ntoken = "t-0123456789abcdef"\n'
    )
    assert ok.region.url == "https://region.example:8090"
    assert ok.region.history_deadline_seconds == 1.0


def test_person_key_is_one_per_person_and_city() -> None:
    number = "11010119900307777X"
    key = person_key("city-secret", number)
    assert key == person_key("city-secret", " 11010119900307777x ")
    assert key != person_key("other-city", number)
    assert number not in key and len(key) == 64


def test_region_commands_say_what_is_wrong_without_a_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    example = str(ROOT / "config" / "region.example.toml")
    out = str(tmp_path / "out")
    assert (
        main(["region", "report", "daily", "--config", example, "--date", "5/12", "--out", out])
        == 1
    )
    assert "--date" in capsys.readouterr().err
    missing = str(tmp_path / "none.toml")
    assert main(["region", "serve", "--config", missing]) == 1
    assert "none.toml: (file): the file does not exist" in capsys.readouterr().err
