"""`vaxflow uplink status`: what waits to leave the site; `vaxflow uplink retry [ID]`: put
rows that needed fixing back in line (after the record or the registry was fixed);
`vaxflow uplink reconcile [--date]`: the day's doses against what each registry acknowledged
(exit status 3 while some are not acknowledged); `vaxflow uplink summary [--date] --out DIR`:
the daily summary for the 10:00 deadline, CSV and JSON (the previous site day by default)."""

from __future__ import annotations

import argparse
import csv
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from vaxflow.cli.common import DEMO_HELP, CommandError
from vaxflow.cli.report_cmd import load_configs, run, site_day
from vaxflow.csv_cells import safe_row
from vaxflow.private_files import open_private, write_private_text
from vaxflow.queue.core import engine as rules
from vaxflow.queue.core.outbox import OutboxState, overdue
from vaxflow.queue.ops import uplink_summary
from vaxflow.queue.ops.outbox_rows import registry_targets
from vaxflow.queue.store import outbox
from vaxflow.queue.store.db import NotADatabase, read_snapshot


def register(sub: Any) -> None:
    parser = sub.add_parser("uplink", help="records leaving the site: backlog, rows to fix")
    commands = parser.add_subparsers(dest="uplink_command", required=True, metavar="COMMAND")
    status = commands.add_parser(
        "status", help="per target: pending, sent, needing fixing, the oldest pending"
    )
    status.add_argument("--json", action="store_true", help="print JSON")
    again = commands.add_parser(
        "retry", help="send rows that needed fixing again (one by its id, or all)"
    )
    again.add_argument("id", nargs="?", type=int, help="the row's id (default: every one)")
    check = commands.add_parser(
        "reconcile", help="a day's doses against what each registry acknowledged"
    )
    check.add_argument("--date", help="site day YYYY-MM-DD (default: today)")
    check.add_argument("--json", action="store_true", help="print JSON")
    daily = commands.add_parser(
        "summary",
        help="the daily summary for the 10:00 deadline: doses by product × dose × lot, "
        "reconciled with what each registry acknowledged (CSV and JSON, exit 3 if not all)",
    )
    daily.add_argument("--date", help="site day YYYY-MM-DD (default: the previous site day)")
    daily.add_argument("--out", required=True, help="folder the CSV and JSON files go to")
    commands_and_bodies = ((status, _status), (again, _retry), (check, _reconcile))
    for command, func in (*commands_and_bodies, (daily, _summary)):
        command.add_argument("--db", help="the site's database (default: the site file's)")
        command.add_argument("--config", action="append", help=f"site file (default: {DEMO_HELP})")
        command.set_defaults(func=lambda args, f=func: run(f, args))


def _status(args: argparse.Namespace) -> int:
    settings = load_configs(args)[0]
    db = args.db or settings.server.db
    site_id, now = settings.site.id, datetime.now(UTC)
    try:
        with read_snapshot(db) as conn:
            counts = outbox.summary(conn, site_id)
            fixing = outbox.rows(conn, site_id, OutboxState.NEEDS_FIXING)
    except NotADatabase as err:
        raise CommandError(str(err)) from err
    report: dict[str, Any] = {"targets": {}, "needs_fixing": [r.to_json() for r in fixing]}
    for target, figures in sorted(counts.items()):
        oldest = figures["oldest_pending"]
        report["targets"][target] = {
            **{k: v for k, v in figures.items() if k != "oldest_pending"},
            "oldest_pending": oldest.isoformat() if oldest else None,
            "oldest_pending_minutes": round((now - oldest).total_seconds() / 60, 1)
            if oldest
            else None,
            "past_alert": bool(oldest and overdue(oldest, now, settings.uplink.alert_after_hours)),
        }
    if args.json:
        print(json.dumps(report, ensure_ascii=False, indent=2))
        return 0
    if not counts:
        print("nothing has been written to the outbox")
    for target, shown in report["targets"].items():
        age = shown["oldest_pending_minutes"]
        print(
            f"{target:8} pending {shown['pending']:6}  sent {shown['sent']:7}  "
            f"needs fixing {shown['needs_fixing']:4}"
            + (f"  oldest pending {age:g} min" if age is not None else "")
            + ("  PAST THE ALERT" if shown["past_alert"] else "")
        )
    for row in fixing:
        print(f"  #{row.id} {row.target} {row.kind} {row.record_key}: {row.last_error}")
    return 0


def _retry(args: argparse.Namespace) -> int:
    settings = load_configs(args)[0]
    db = args.db or settings.server.db
    site_id, now, row_id = settings.site.id, datetime.now(UTC), args.id
    try:
        count = outbox.write_once(db, lambda conn: outbox.retry(conn, site_id, now, row_id))
    except NotADatabase as err:
        raise CommandError(str(err)) from err
    if row_id is not None and count == 0:
        raise CommandError(f"row {row_id} is not waiting to be fixed")
    print(f"{count} row(s) put back in line")
    return 0


def _reconcile(args: argparse.Namespace) -> int:
    settings = load_configs(args)[0]
    db = args.db or settings.server.db
    day = site_day(args, settings)
    targets = [t.value for t in registry_targets(settings)] or ["fhir", "hl7"]
    try:
        with read_snapshot(db) as conn:
            found = outbox.reconcile(conn, settings.site.id, day, targets)
    except NotADatabase as err:
        raise CommandError(str(err)) from err
    if args.json:
        print(json.dumps({"date": day.isoformat(), "targets": found}, indent=2))
        return 0
    for target, counts in found.items():
        print(f"{day} {target:6} " + "  ".join(f"{k} {v}" for k, v in counts.items()))
    complete = all(
        c["acknowledged"] == c["doses"] and c["struck_acknowledged"] == c["struck"]
        for c in found.values()
    )
    return 0 if complete else 3


def _summary(args: argparse.Namespace) -> int:
    settings = load_configs(args)[0]
    db = args.db or settings.server.db
    now = datetime.now(UTC)
    if args.date:
        day = site_day(args, settings)
    else:
        day = rules.site_day(now, settings.site.timezone) - timedelta(days=1)
    try:
        with read_snapshot(db) as conn:
            summary = uplink_summary.daily_summary(conn, settings, day, now)
    except NotADatabase as err:
        raise CommandError(str(err)) from err
    folder = Path(args.out)
    folder.mkdir(parents=True, exist_ok=True)
    stem = folder / f"uplink-summary-{settings.site.id}-{day.isoformat()}"
    with open_private(Path(f"{stem}.csv"), "w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(uplink_summary.csv_header(summary))
        for row in uplink_summary.csv_rows(summary):
            writer.writerow(safe_row(row))
    text = json.dumps(summary, ensure_ascii=False, indent=2) + "\n"
    write_private_text(Path(f"{stem}.json"), text)
    print(
        f"{day} {summary['doses']} doses in {len(summary['groups'])} groups "
        f"({summary['struck']} struck out): {stem}.csv, {stem}.json"
    )
    for target, counts in summary["reconciliation"].items():
        print(f"{day} {target:6} " + "  ".join(f"{k} {v}" for k, v in counts.items()))
    return 0 if summary["complete"] else 3
