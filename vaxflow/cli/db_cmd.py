"""`vaxflow db backup --out FILE | --dir DIR --keep M`, `vaxflow db restore --from FILE`,
`vaxflow db check`: a site database's copies, and whether it is sound."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from vaxflow.cli.common import DEMO_HELP, CommandError
from vaxflow.cli.report_cmd import load_configs, run
from vaxflow.queue.store.backup import (
    BackupError,
    backup,
    backup_rotating,
    check_database,
    restore,
)


def register(sub: Any) -> None:
    parser = sub.add_parser("db", help="back up and restore a SQLite site database")
    commands = parser.add_subparsers(dest="db_command", required=True, metavar="COMMAND")
    save = commands.add_parser(
        "backup",
        help="a consistent copy of a live database; check-ins go on meanwhile",
    )
    where = save.add_mutually_exclusive_group(required=True)
    where.add_argument("--out", help="backup file to write")
    where.add_argument(
        "--dir", type=Path, help="folder of time-stamped backups (the backup timer's)"
    )
    save.add_argument(
        "--keep",
        type=int,
        default=96,
        help="with --dir: how many backups to keep, newest first (default 96: a day at 15 min)",
    )
    back = commands.add_parser(
        "restore",
        help="replace a database with a backup (refused while a server holds it)",
    )
    back.add_argument("--from", dest="source", required=True, help="backup file")
    back.add_argument("--force", action="store_true", help="replace an existing database")
    check = commands.add_parser(
        "check", help="integrity, size and last event of a database (a live one too)"
    )
    for command, func in ((save, _backup), (back, _restore), (check, _check)):
        command.add_argument(
            "--db", help="the site's SQLite file (default: the site file's database)"
        )
        command.add_argument("--config", action="append", help=f"site file (default: {DEMO_HELP})")
        command.set_defaults(func=lambda args, f=func: run(f, args))


def _db(args: argparse.Namespace) -> Path:
    db: str = args.db or load_configs(args)[0].server.db
    if "://" in db:
        raise CommandError(
            "backup and restore are for SQLite files; back up PostgreSQL with pg_dump "
            "or pg_basebackup"
        )
    return Path(db)


def _backup(args: argparse.Namespace) -> int:
    removed: list[Path] = []
    try:
        if args.dir is not None:
            now = datetime.now(UTC)
            copied, removed = backup_rotating(_db(args), args.dir, args.keep, now)
        else:
            copied = backup(_db(args), Path(args.out))
    except BackupError as err:
        raise CommandError(str(err)) from err
    for path in removed:
        print(f"{path}: removed (keeping the newest {args.keep})")
    print(
        f"{copied.path}: {copied.bytes} bytes in {copied.seconds:.2f} s, "
        f"last event {copied.last_event}"
    )
    return 0


def _restore(args: argparse.Namespace) -> int:
    try:
        copied = restore(Path(args.source), _db(args), force=args.force)
    except BackupError as err:
        raise CommandError(str(err)) from err
    print(f"{copied.path}: restored from {args.source}, last event {copied.last_event}")
    return 0


def _check(args: argparse.Namespace) -> int:
    try:
        facts = check_database(_db(args))
    except BackupError as err:
        raise CommandError(str(err)) from err
    print(
        f"{facts.path}: {facts.bytes} bytes, write-ahead log {facts.wal_bytes} bytes, "
        f"last event {facts.last_event}"
    )
    if facts.problems:
        print(f"{facts.path}: integrity check failed: {'; '.join(facts.problems[:5])}")
        print("stop the server and restore the newest backup (vaxflow db restore --force)")
        return 1
    print(f"{facts.path}: integrity OK")
    return 0
