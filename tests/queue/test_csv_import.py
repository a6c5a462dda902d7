"""The day's bookings from CSV: all rows checked first, bad rows by line, re-import is a no-op."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import DEMO_CONFIG
from vaxflow.config import Settings, load_settings
from vaxflow.queue.bookings.csv_import import BadFile, check_csv, to_csv
from vaxflow.queue.demo.demo_data import make_people

from .people import resident_id

VAXFLOW = str(Path(sys.executable).with_name("vaxflow"))
DAY = date(2026, 11, 21)
HEADER = "code,name,id_type,id_number,product,dose_number,visit_date,window_start,window_end\n"


def row(code: str, n: int, **over: str) -> str:
    fields = {
        "code": code,
        "name": f"王芳{n}",
        "id_type": "cn_resident",
        "id_number": resident_id(n),
        "product": "CORONAVAC",
        "dose_number": "1",
        "visit_date": DAY.isoformat(),
        "window_start": "09:00",
        "window_end": "10:00",
    }
    fields.update(over)
    return ",".join(fields.values()) + "\n"


GOOD = HEADER + row("B1", 1) + row("B2", 2) + row("B3", 3)


def test_a_good_file_checks_clean(settings: Settings) -> None:
    checked = check_csv(GOOD.encode(), settings)
    assert checked.problems == []
    assert [b.code for b in checked.bookings] == ["B1", "B2", "B3"]
    first = checked.bookings[0]
    assert first.birth_date == date(1990, 3, 7)
    assert first.window_start is not None and first.window_start.hour == 9


def test_a_booked_booster_states_the_dose_after_the_series(settings: Settings) -> None:
    """A booster is booked as the next dose after the series (3 after two inactivated doses),
    of the same product or of another platform a booster rule allows; the server decides."""
    text = (
        HEADER + row("B1", 1, dose_number="3") + row("B2", 2, product="AD5-NCOV", dose_number="3")
    )
    checked = check_csv(text.encode(), settings)
    assert checked.problems == []
    assert [b.dose_number for b in checked.bookings] == [3, 3]


@pytest.mark.parametrize(
    ("bad_row", "words"),
    [
        (row("B9", 9, id_number="110101199003070091"), "not valid"),
        (row("B9", 9, product="SPUTNIK"), "not given at this site"),
        (row("B9", 9, dose_number="4"), "outside 1..3"),  # 2 doses and booster 1 at most
        (row("B9", 9, product="AD5-NCOV", dose_number="4"), "outside 1..3"),
        (row("B9", 9, dose_number="two"), "not a number"),
        (row("B9", 9, visit_date="21/11/2026"), "not a date"),
        (row("B9", 9, window_start="10:00", window_end="09:00"), "not after"),
        (row("B9", 9, window_start="9h"), "not a time"),
        (row("B9", 9, name=""), "name is empty"),
        (row("B 9", 9), "may only hold"),
        (row("B1", 9), "code repeats line 2"),
        (row("B9", 1), "same person is booked on line 2"),
        (row("B9", 9, id_type="library_card"), "Unknown ID type"),
        (row("B9", 9).rstrip("\n") + ",extra\n", "more fields than the header"),
    ],
)
def test_each_bad_row_is_reported_with_its_line(
    settings: Settings, bad_row: str, words: str
) -> None:
    checked = check_csv((GOOD + bad_row).encode(), settings)
    assert len(checked.problems) == 1
    problem = checked.problems[0]
    assert problem.line == 5
    assert words in problem.message
    assert len(checked.bookings) == 3


def test_site_day_fills_and_guards_the_date(settings: Settings) -> None:
    text = HEADER + row("B1", 1, visit_date="") + row("B2", 2, visit_date="2026-11-22")
    checked = check_csv(text.encode(), settings, site_day=DAY)
    assert [b.visit_date for b in checked.bookings] == [DAY]
    assert "not the imported day" in checked.problems[0].message


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (b"code,name\nB1,x\n", "lacks column"),
        (HEADER.replace("\n", ",colour\n").encode(), "unknown column"),
        ("code,name,姓名\n".encode("gb18030"), "not UTF-8"),
    ],
)
def test_unreadable_files(settings: Settings, data: bytes, words: str) -> None:
    with pytest.raises(BadFile, match=words):
        check_csv(data, settings)


def test_demo_list_round_trips_through_csv(settings: Settings) -> None:
    people = make_people(settings, DAY, 300)
    checked = check_csv(to_csv(people, settings.site.timezone).encode(), settings)
    assert checked.problems == []
    assert [b.code for b in checked.bookings] == [p.code for p in people]
    assert checked.bookings[5].prior_doses == people[5].prior_doses


_SITE = load_settings(DEMO_CONFIG)
csv_cells = st.text(st.characters(blacklist_categories=["Cs"]), max_size=25)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.lists(csv_cells, min_size=0, max_size=11), max_size=6), st.binary(max_size=80))
def test_arbitrary_files_give_problems_not_crashes(rows: list[list[str]], noise: bytes) -> None:
    import csv
    import io

    out = io.StringIO()
    csv.writer(out).writerows(rows)
    site = _SITE
    for data in (HEADER.encode() + out.getvalue().encode(), HEADER.encode() + noise):
        try:
            checked = check_csv(data, site)
        except BadFile as err:
            assert str(err)
        else:
            assert all(p.line >= 2 and p.message for p in checked.problems)


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([VAXFLOW, *args], capture_output=True, text=True, timeout=60)


def _count(db: Path) -> int:
    if not db.exists():  # a refused import never even opens the database
        return 0
    with sqlite3.connect(db) as conn:
        return int(conn.execute("SELECT COUNT(*) FROM bookings").fetchone()[0])


@pytest.mark.slow  # real `vaxflow bookings import` processes
def test_import_command_all_or_nothing_then_idempotent(tmp_path: Path) -> None:
    db = tmp_path / "site.sqlite"
    bad = tmp_path / "bad.csv"
    bad.write_text(GOOD + row("B4", 4, product="SPUTNIK"), encoding="utf-8")
    refused = _run("bookings", "import", str(bad), "--db", str(db))
    assert refused.returncode == 1
    assert f"{bad}: line 5 (B4): product 'SPUTNIK' is not given at this site" in refused.stderr
    assert "nothing imported" in refused.stderr
    assert _count(db) == 0
    partial = _run("bookings", "import", str(bad), "--db", str(db), "--skip-bad")
    assert partial.returncode == 0, partial.stderr
    assert "3 booking(s) imported, 0 already there, 1 bad row(s) skipped" in partial.stdout
    good = tmp_path / "good.csv"
    good.write_text(GOOD, encoding="utf-8")
    again = _run("bookings", "import", str(good), "--db", str(db))
    assert "0 booking(s) imported, 3 already there" in again.stdout
    assert _count(db) == 3
    changed = tmp_path / "changed.csv"
    changed.write_text(HEADER + row("B1", 1, window_start="08:00"), encoding="utf-8")
    clash = _run("bookings", "import", str(changed), "--db", str(db))
    assert clash.returncode == 1 and "B1: already imported with different details" in clash.stderr


@pytest.mark.slow
def test_import_shows_progress_on_large_files(tmp_path: Path, settings: Settings) -> None:
    big = tmp_path / "big.csv"
    big.write_text(to_csv(make_people(settings, DAY, 2500), settings.site.timezone), "utf-8")
    result = _run("bookings", "import", str(big), "--db", str(tmp_path / "s.sqlite"))
    assert result.returncode == 0, result.stderr
    assert "checked 2000 rows" in result.stderr
    assert "2500 booking(s) imported" in result.stdout


# --- every earlier dose: the prior_doses column -----------------------------------------------

HISTORY_HEADER = HEADER.rstrip("\n") + ",prior_doses,prior_dose_date,prior_product\n"


def history_row(code: str, n: int, prior: str, legacy: str = "", legacy_product: str = "") -> str:
    quoted = '"' + prior.replace('"', '""') + '"'
    return row(code, n, dose_number="2").rstrip("\n") + f",{quoted},{legacy},{legacy_product}\n"


def test_any_number_of_earlier_doses_with_any_manufacturer(settings: Settings) -> None:
    text = HISTORY_HEADER + history_row(
        "B1", 1, "2021-03-01:ZF2001:Anhui Zhifei Longcom;2021-04-01:ZF2001:Anhui Zhifei Longcom"
    )
    text += history_row(
        "B2", 2, "2026-10-01:CORONAVAC", legacy="2021-01-05", legacy_product="BBIBP"
    )
    text += history_row("B3", 3, "2026-10-01:CORONAVAC:Sinovac", legacy="2026-10-01")
    checked = check_csv(text.encode(), settings, today=DAY)
    assert checked.problems == []
    first, second, third = (b.prior_doses for b in checked.bookings)
    assert [(d.given_on, d.product, d.manufacturer, d.source) for d in first] == [
        (date(2021, 3, 1), "ZF2001", "Anhui Zhifei Longcom", "booking"),
        (date(2021, 4, 1), "ZF2001", "Anhui Zhifei Longcom", "booking"),
    ]
    # the older one-dose columns are one more dose; the site file names a known product's maker
    assert [(d.given_on, d.manufacturer) for d in second] == [
        (date(2026, 10, 1), "Sinovac"),
        (date(2021, 1, 5), "Sinopharm Beijing"),
    ]
    assert len(third) == 1  # the same dose in both forms is one dose


@pytest.mark.parametrize(
    ("bad_row", "words"),
    [
        (history_row("B9", 9, "2021-3-1:CORONAVAC"), "prior_doses: earlier dose 1: '2021-3-1' is"),
        (history_row("B9", 9, "2021-03-01:CORONAVAC;2026-11-21:CORONAVAC"), "dose 2: 2026-11-21"),
        (history_row("B9", 9, "2026-11-20:CORONAVAC"), "is in the future"),
        (history_row("B9", 9, "2021-03-01::Sinovac"), "earlier dose 1: the product is empty"),
        (history_row("B9", 9, "2021-03-01:MRNA-1273"), "MRNA-1273 is not in the site file"),
        (
            history_row("B9", 9, "2021-03-01:CORONAVAC;2021-03-01:CoronaVac:sinovac"),
            "earlier dose 2 repeats earlier dose 1",
        ),
        (
            history_row("B9", 9, ";".join(f"2021-01-{d:02d}:CORONAVAC" for d in range(1, 12))),
            "more than 10 earlier doses",
        ),
        (
            history_row(
                "B9", 9, ";".join(f"2021-01-{d:02d}:CORONAVAC" for d in range(1, 11)), "2021-02-01"
            ),
            "more than 10 earlier doses",
        ),
        (
            history_row("B9", 9, "", legacy="2021-02-30"),
            "prior_dose_date: '2021-02-30' is not a date",
        ),
        (
            history_row("B9", 9, "", legacy="2026-11-20"),
            "prior_dose_date: 2026-11-20 is in the future",
        ),
        (history_row("B9", 9, "", legacy_product="CORONAVAC"), "need prior_dose_date"),
        (history_row("B9", 9, "2021-03-01:C" + "x" * 2000), "prior_doses is longer than 2000"),
    ],
)
def test_each_bad_history_is_reported_with_its_line(
    settings: Settings, bad_row: str, words: str
) -> None:
    good = "".join(history_row(f"B{n}", n, "2021-03-01:CORONAVAC") for n in (1, 2, 3))
    checked = check_csv(
        (HISTORY_HEADER + good + bad_row).encode(), settings, today=DAY - timedelta(days=2)
    )
    assert [(p.line, p.code) for p in checked.problems] == [(5, "B9")]
    assert words in checked.problems[0].message, checked.problems[0].message
    assert len(checked.bookings) == 3


_history_cells = st.one_of(
    st.text(max_size=120),
    st.lists(
        st.tuples(
            st.dates(date(2019, 1, 1), date(2027, 1, 1)),
            st.text(max_size=12),
            st.text(max_size=12),
        ),
        max_size=12,
    ).map(lambda items: ";".join(f"{d}:{p}:{m}" for d, p, m in items)),
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_history_cells)
def test_arbitrary_history_columns_give_a_booking_or_a_reason(cell: str) -> None:
    import csv
    import io

    out = io.StringIO()
    fields = row("B1", 1, dose_number="2").rstrip("\n").split(",")
    csv.writer(out).writerow([*fields, cell, "", ""])
    checked = check_csv((HISTORY_HEADER + out.getvalue()).encode(), _SITE, today=DAY)
    if checked.problems:
        (problem,) = checked.problems
        assert problem.line >= 2 and problem.message.startswith(("prior_doses", "a field"))
    else:
        (booking,) = checked.bookings
        assert all(d.given_on < DAY and d.product and d.manufacturer for d in booking.prior_doses)


def test_the_documented_example_file_checks_clean(settings: Settings) -> None:
    example = Path(__file__).parents[2] / "config" / "bookings.example.csv"
    checked = check_csv(example.read_bytes(), settings, today=DAY)
    assert checked.problems == []
    assert [len(b.prior_doses) for b in checked.bookings] == [0, 1, 3, 1]
