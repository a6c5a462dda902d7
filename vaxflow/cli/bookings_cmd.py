"""`vaxflow bookings import|keygen|sign`: the day's list, and signed booking QR codes."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from datetime import date, datetime, time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from vaxflow.cli.common import DEMO_HELP, site_settings
from vaxflow.clock import SystemClock
from vaxflow.config import Settings
from vaxflow.queue.bookings import signed_qr
from vaxflow.queue.bookings.csv_import import BadFile, check_csv
from vaxflow.queue.core.booking import Booking, parse_answers
from vaxflow.queue.core.errors import QueueError
from vaxflow.queue.core.history import BadHistory, parse_history
from vaxflow.queue.core.identity import parse_id_type, validate_id
from vaxflow.queue.store.bookings import ImportResult, import_bookings
from vaxflow.queue.store.db import database_url
from vaxflow.queue.store.writer import Store


def register(sub: Any) -> None:
    parser = sub.add_parser("bookings", help="import bookings, issue signed booking QR codes")
    actions = parser.add_subparsers(dest="bookings_command", required=True, metavar="ACTION")

    imp = actions.add_parser("import", help="import the day's bookings from a CSV file")
    imp.add_argument("file", help="CSV file (see vaxflow/queue/bookings/csv_import.py)")
    imp.add_argument("--site-day", type=date.fromisoformat, help="the day (YYYY-MM-DD)")
    imp.add_argument("--skip-bad", action="store_true", help="import the good rows anyway")
    imp.add_argument("--config", help=f"site file (default: {DEMO_HELP})")
    imp.add_argument("--db", help="database (default: the site file's)")
    imp.set_defaults(func=_import)

    keygen = actions.add_parser("keygen", help="make an Ed25519 key pair for booking QR codes")
    keygen.add_argument("--out", required=True, help="file for the private key (kept secret)")
    keygen.add_argument("--kid", default="k1", help="key id to list in [booking].public_keys")
    keygen.set_defaults(func=_keygen)

    sign = actions.add_parser("sign", help="issue a signed booking QR code")
    sign.add_argument("--key", required=True, help="private key file from keygen")
    sign.add_argument("--kid", required=True)
    sign.add_argument("--code", required=True, help="booking id")
    sign.add_argument("--name", required=True)
    sign.add_argument("--id-type", default="cn_resident")
    sign.add_argument("--id-number", required=True)
    sign.add_argument("--date", type=date.fromisoformat, required=True)
    sign.add_argument("--window", required=True, help="HH:MM-HH:MM, site time")
    sign.add_argument("--product", required=True)
    sign.add_argument("--dose", type=int, default=1)
    sign.add_argument(
        "--prior-doses",
        default="",
        help="earlier doses: YYYY-MM-DD:PRODUCT:MANUFACTURER items separated by ';'",
    )
    sign.add_argument(
        "--answers",
        default="",
        help="health questions answered in the booking app: id=yes|no items separated by ';'",
    )
    sign.add_argument("--config", help=f"site file: site id, time zone (default: {DEMO_HELP})")
    sign.add_argument("--png", help="also write the QR code as a PNG")
    sign.set_defaults(func=_sign)


def _import(args: argparse.Namespace) -> int:
    settings = site_settings(args.config)
    try:
        data = Path(args.file).read_bytes()
    except OSError as err:
        print(f"{args.file}: cannot be read: {err.strerror}", file=sys.stderr)
        return 1

    def progress(rows: int) -> None:
        print(f"  checked {rows} rows...", file=sys.stderr, flush=True)

    try:
        today = SystemClock().now().astimezone(ZoneInfo(settings.site.timezone)).date()
        checked = check_csv(data, settings, args.site_day, progress, today=today)
    except BadFile as err:
        print(f"{args.file}: {err}; nothing imported", file=sys.stderr)
        return 1
    for problem in checked.problems:
        print(f"{args.file}: {problem}", file=sys.stderr)
    if checked.problems and not args.skip_bad:
        print(
            f"{len(checked.problems)} bad row(s); nothing imported "
            "(fix them, or use --skip-bad to import the good rows)",
            file=sys.stderr,
        )
        return 1
    result = asyncio.run(_store_bookings(settings, args.db, checked.bookings))
    if result.conflicts:
        for code in result.conflicts:
            print(f"{args.file}: {code}: already imported with different details", file=sys.stderr)
        print("nothing imported", file=sys.stderr)
        return 1
    print(
        f"{result.added} booking(s) imported, {result.unchanged} already there"
        + (f", {len(checked.problems)} bad row(s) skipped" if checked.problems else "")
    )
    return 0


async def _store_bookings(
    settings: Settings, db: str | None, bookings: list[Booking]
) -> ImportResult:
    store = Store(
        database_url(db or settings.server.db), site_id=settings.site.id, clock=SystemClock()
    )
    await store.start()
    try:
        return await store.write(lambda tx: import_bookings(tx, bookings), actor="cli:import")
    finally:
        await store.stop()


def _keygen(args: argparse.Namespace) -> int:
    private, public = signed_qr.new_key()
    out = Path(args.out)
    if out.exists():
        print(f"{out} exists; not overwriting a key", file=sys.stderr)
        return 1
    fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(private + "\n")
    print(f"private key written to {out} (keep it secret)")
    print("add to the site file:")
    print("[booking]")
    print(f'public_keys = {{ {args.kid} = "{public}" }}')
    return 0


def _sign(args: argparse.Namespace) -> int:
    settings = site_settings(args.config)
    try:
        start_text, end_text = args.window.split("-")
        zone = ZoneInfo(settings.site.timezone)
        start = datetime.combine(args.date, time.fromisoformat(start_text), zone)
        end = datetime.combine(args.date, time.fromisoformat(end_text), zone)
        key = Path(args.key).read_text().strip()
    except ValueError:
        print(f"--window {args.window!r} is not HH:MM-HH:MM", file=sys.stderr)
        return 2
    except OSError as err:
        print(f"{args.key}: cannot be read: {err.strerror}", file=sys.stderr)
        return 1

    def maker(code: str) -> str | None:
        product = settings.product(code)
        return product.manufacturer if product is not None else None

    try:
        prior = parse_history(args.prior_doses, visit_date=args.date, manufacturer_of=maker)
    except BadHistory as err:
        print(f"--prior-doses: {err}", file=sys.stderr)
        return 2
    try:
        answers = parse_answers(args.answers)
    except ValueError as err:
        print(f"--{err}", file=sys.stderr)
        return 2
    booking = Booking(
        code=args.code,
        person_name=args.name,
        id_type=args.id_type,
        id_number=args.id_number,
        site_id=settings.site.id,
        visit_date=args.date,
        product=args.product,
        dose_number=args.dose,
        window_start=start,
        window_end=end,
        prior_doses=prior,
        answers=answers,
    )
    try:
        validate_id(parse_id_type(args.id_type), args.id_number)
        text = signed_qr.sign(booking, key, args.kid, settings.site.timezone)
    except QueueError as err:
        print(err.message, file=sys.stderr)
        return 1
    print(text)
    if args.png:
        import qrcode

        qrcode.make(text).save(args.png)
    return 0
