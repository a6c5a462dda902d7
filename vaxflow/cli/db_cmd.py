"""`vaxflow db backup --db PATH --out FILE`, `vaxflow db restore --from FILE --db PATH`."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from vaxflow.cli.common import DEMO_HELP, CommandError
from vaxflow.cli.report_cmd import load_configs, run
from vaxflow.queue.store.backup import BackupError, backup, restore


def register(sub: Any) -> None:
    parser = sub.add_parser("db", help="back up and restore a SQLite site database")
    commands = parser.add_subparsers(dest="db_command", required=True, metavar="COMMAND")
    save = commands.add_parser(
        "backup",
        help="a consistent copy of a live database; check-ins go on meanwhile",
    )
    save.add_argument("--out", required=True, help="backup file to write")
    back = commands.add_parser(
        "restore",
        help="replace a database with a backup (refused while a server holds it)",
    )
    back.add_argument("--from", dest="source", required=True, help="backup file")
    back.add_argument("--force", action="store_true", help="replace an existing database")
    for command, func in ((save, _backup), (back, _restore)):
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
    try:
        copied = backup(_db(args), Path(args.out))
    except BackupError as err:
        raise CommandError(str(err)) from err
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
