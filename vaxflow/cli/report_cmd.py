"""`vaxflow report daily --date D [--db PATH|URL] [--site S | --region] --out DIR`."""

from __future__ import annotations

import argparse
import csv
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from vaxflow.cli.common import DEMO_HELP, CommandError, site_settings
from vaxflow.config import ConfigError, Settings
from vaxflow.csv_cells import safe_dict
from vaxflow.private_files import open_private, write_private_bytes, write_private_text
from vaxflow.queue.core import engine as rules
from vaxflow.queue.core.report import CSV_COLUMNS, DailyReport, build, csv_rows
from vaxflow.queue.records.report_html import render_charts, render_html
from vaxflow.queue.store import Conn
from vaxflow.queue.store.db import NotADatabase, read_snapshot
from vaxflow.queue.store.records import day_bounds, day_rows, sites_on

log = logging.getLogger(__name__)

EXIT_MISMATCH = 3


def register(sub: Any) -> None:
    parser = sub.add_parser("report", help="reports from a site database")
    commands = parser.add_subparsers(dest="report", required=True, metavar="REPORT")
    daily = commands.add_parser(
        "daily",
        help="the daily report: CSV and an HTML page with charts",
        description="Write DIR/daily-DATE.csv, DIR/daily-DATE.html and the charts as SVG. "
        f"Exits {EXIT_MISMATCH} when a figure disagrees with the event log.",
    )
    add_database_options(daily)
    where = daily.add_mutually_exclusive_group()
    where.add_argument("--site", help="site id (default: the site of the first --config)")
    where.add_argument("--region", action="store_true", help="every site in the database")
    daily.add_argument("--out", required=True, help="folder to write the report into")
    daily.set_defaults(func=_daily)


def add_database_options(parser: argparse.ArgumentParser) -> None:
    """--date, --db and --config, shared by the report and the exports."""
    parser.add_argument("--date", help="site day, YYYY-MM-DD (default: today at the site)")
    parser.add_argument(
        "--db", help="SQLite file or postgresql:// URL (default: the site file's database)"
    )
    parser.add_argument(
        "--config",
        action="append",
        help="site file (time zone, seats, names); repeat for each site of a region "
        f"(default: {DEMO_HELP})",
    )


def load_configs(args: argparse.Namespace) -> list[Settings]:
    """The --config site files' settings, or the built-in demo site's."""
    return [site_settings(path) for path in (args.config or [None])]


def site_day(args: argparse.Namespace, settings: Settings) -> date:
    if not args.date:
        return rules.site_day(datetime.now(UTC), settings.site.timezone, settings.site.day_turns_at)
    try:
        return date.fromisoformat(args.date)
    except ValueError:
        raise CommandError(f"--date {args.date!r} is not a date like 2026-11-21") from None


@contextmanager
def reading(db: str) -> Iterator[Conn]:
    """A read-only snapshot of a site database; refuse a SQLite path that does not exist."""
    try:
        with read_snapshot(db) as conn:
            yield conn
    except NotADatabase as err:
        raise CommandError(str(err)) from None


def run(func: Any, args: argparse.Namespace) -> int:
    """Run a command body; operator errors print one line and exit 1."""
    try:
        code: int = func(args)
    except (ConfigError, CommandError) as err:
        print(f"vaxflow: {err}", file=sys.stderr)
        return err.status if isinstance(err, CommandError) else 1
    return code


def _daily(args: argparse.Namespace) -> int:
    return run(_write_daily, args)


def _write_daily(args: argparse.Namespace) -> int:
    configs = load_configs(args)
    main = configs[0]
    day = site_day(args, main)
    start, end = day_bounds(day, main.site.timezone, main.site.day_turns_at)
    as_of = min(datetime.now(UTC), end)
    with reading(args.db or main.server.db) as conn:
        sites = sites_on(conn, day) if args.region else [args.site or main.site.id]
        rows = day_rows(
            conn,
            day,
            sites,
            timezone=main.site.timezone,
            as_of=max(as_of, start),
            seats={c.site.id: c.observation.seats for c in configs},
            site_names={c.site.id: c.site.name for c in configs},
        )
    report = build(rows)
    written = write_report(report, Path(args.out))
    for path in written:
        print(path)
    if not report.reconciled:
        bad = ", ".join(c.name for c in report.checks if not c.ok)
        print(f"vaxflow: figures disagree with the event log: {bad}", file=sys.stderr)
        return EXIT_MISMATCH
    return 0


def write_report(report: DailyReport, folder: Path) -> list[Path]:
    """The CSV, the HTML page and each chart as SVG; returns the files written."""
    folder.mkdir(parents=True, exist_ok=True)
    stem = f"daily-{report.day.isoformat()}"
    csv_path = folder / f"{stem}.csv"
    with open_private(csv_path, "w", encoding="utf-8", newline="") as out:
        writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS)
        writer.writeheader()
        writer.writerows(safe_dict(row) for row in csv_rows(report))
    charts = render_charts(report)
    written = [csv_path]
    for name, svg in charts.items():
        path = folder / f"{stem}-{name}.svg"
        write_private_bytes(path, svg)
        written.append(path)
    html_path = folder / f"{stem}.html"
    write_private_text(html_path, render_html(report, charts))
    written.insert(1, html_path)
    log.info(
        "daily report for %s: %d doses, %d sites",
        report.day,
        report.totals["doses"],
        len(report.sites),
    )
    return written
