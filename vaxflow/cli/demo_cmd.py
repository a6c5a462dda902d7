"""`vaxflow demo`: the demo site — server on the built-in demo site file plus simulated
traffic."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import errno
import random
import sys
from dataclasses import replace
from datetime import date, datetime, time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from vaxflow.cli.common import port_number, site_settings
from vaxflow.cli.site_app import site_app
from vaxflow.clock import ScaledClock
from vaxflow.config import Settings, demo_text
from vaxflow.queue.bookings import signed_qr
from vaxflow.queue.bookings.csv_import import check_csv, to_csv
from vaxflow.queue.core import engine
from vaxflow.queue.demo.demo_data import make_people
from vaxflow.queue.demo.demo_day import DemoPerson, make_day
from vaxflow.queue.demo.simulated_site import Arrivals, SimulatedSite, Traffic
from vaxflow.queue.server.appkeys import STORE
from vaxflow.queue.server.serve import run_loop, serve
from vaxflow.queue.store.bookings import import_bookings

_BOOKING_URL = "https://booking.vaxflow.invalid/b"
#: Why a server cannot listen, said in one line instead of a traceback.
LISTEN_ERRORS = frozenset({errno.EADDRINUSE, errno.EADDRNOTAVAIL, errno.EACCES})
#: Arrivals as a share of what the stations can serve: a good day (waits of minutes) ...
GOOD_DAY_SHARE = 0.6
#: ... and a hard day (`--busy`: the queue grows all day).
BUSY_SHARE = 1.3


def demo_arrivals(stations: int, traffic: Traffic, share: float) -> float:
    """People per site hour at `share` of what `stations` serve: one person takes the walk
    to the station (0.9 walk_minutes on average) and the service (lognormal, mean 1.08 ×
    service_minutes)."""
    per_person = 0.9 * traffic.walk_minutes + 1.083 * traffic.service_minutes
    return round(share * stations * 60 / per_person, 1)


def register(sub: Any) -> None:
    parser = sub.add_parser("demo", help="run the demo site with simulated traffic")
    parser.add_argument("--config", help=argparse.SUPPRESS)  # default: the built-in demo site
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=port_number, default=8080, help="TCP port (0: any free one)")
    parser.add_argument(
        "--speed",
        type=float,
        default=10.0,
        help="site minutes per real minute (60: an hour a minute)",
    )
    parser.add_argument("--headless", action="store_true", help="open no windows, only serve")
    parser.add_argument("--db", help="SQLite file (default: var/demo.sqlite)")
    parser.add_argument(
        "--arrivals",
        type=float,
        default=None,
        help="people arriving per site hour (default: 60%% of what the stations can serve)",
    )
    parser.add_argument(
        "--busy",
        action="store_true",
        help="a hard day: arrivals at 130%% of what the stations can serve",
    )
    parser.add_argument("--no-traffic", action="store_true", help="serve only, simulate nobody")
    parser.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    settings = site_settings(args.config)
    if args.speed <= 0:
        print("--speed must be positive", file=sys.stderr)
        return 2
    try:
        run_loop(_demo(settings, args))
    except OSError as err:  # the port in use, an address not on this machine, a low port
        if err.errno not in LISTEN_ERRORS:
            raise
        print(f"cannot listen on {args.host}:{args.port}: {err.strerror or err}", file=sys.stderr)
        return 2
    return 0


def _demo_people(settings: Settings, day: date, count: int) -> tuple[Settings, Arrivals, str]:
    """The day's people: a CSV day list (second doses, boosters, children with a guardian,
    someone whose earlier dose is another manufacturer's, card-only people: `demo_day`),
    signed booking QRs (a key made for this run), walk-ins.

    Returns the settings with the run's public key added, the arrivals, and the CSV text.
    """
    listed = make_day(settings, day, count)
    private, public = signed_qr.new_key()
    booking = settings.booking.model_copy(
        update={"public_keys": {**settings.booking.public_keys, "demo-run": public}}
    )
    settings = settings.model_copy(update={"booking": booking})
    zone = ZoneInfo(settings.site.timezone)
    opens = datetime.combine(day, time(0, 0), zone)
    closes = datetime.combine(day, time(23, 59), zone)
    signed = [
        replace(person, code=f"SQR{n:04d}", window_start=opens, window_end=closes)
        for n, person in enumerate(make_people(settings, day, count // 4, seed=11), start=1)
    ]
    rng = random.Random(5)
    booked = [
        (person, code if rng.random() < 0.7 else f"{_BOOKING_URL}?code={code}")
        for person, code in ((p, p.booking.code) for p in listed)
    ]
    booked += [
        (DemoPerson(person, "adult"), signed_qr.sign(person, private, "demo-run", zone.key))
        for person in signed
    ]
    rng.shuffle(booked)
    walk_ins = make_people(settings, day, count // 5, seed=23)
    day_list = to_csv([p.booking for p in listed], settings.site.timezone)
    return settings, Arrivals(booked, walk_ins), day_list


async def _demo(settings: Settings, args: argparse.Namespace) -> None:
    clock = ScaledClock(args.speed)
    day = settings.demo.visit_date or engine.site_day(
        clock.now(), settings.site.timezone, settings.site.day_turns_at
    )
    settings, people, day_list = _demo_people(settings, day, settings.demo.bookings)
    app = site_app(settings, db=args.db, clock=clock)
    traffic = Traffic()
    traffic.arrivals_per_hour = args.arrivals or demo_arrivals(
        len(settings.stations), traffic, BUSY_SHARE if args.busy else GOOD_DAY_SHARE
    )
    args.arrivals_per_hour = traffic.arrivals_per_hour
    tasks: list[asyncio.Task[None]] = []

    async def started(url: str) -> None:
        store = app[STORE]
        checked = check_csv(day_list.encode("utf-8"), settings, day)
        assert not checked.problems, checked.problems[:3]
        result = await store.write(
            lambda tx: import_bookings(tx, checked.bookings), actor="demo:import"
        )
        _banner(settings, url, args, result.added + result.unchanged, len(people.booked))
        if not args.no_traffic:
            site = SimulatedSite(url, settings, clock, traffic, people)
            tasks.append(asyncio.create_task(site.run()))

    try:
        await serve(
            app,
            args.host,
            args.port,
            started=started,
            header_timeout=settings.server.header_timeout_seconds,
        )
    finally:
        for task in tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task


def _demo_file(args: argparse.Namespace) -> bool:
    """Whether the demo runs on the built-in demo site (the default, or a file with its text),
    whose staff PINs are all 1234."""
    config = getattr(args, "config", None)
    if config is None:
        return True
    try:
        return Path(config).read_text(encoding="utf-8") == demo_text()
    except (OSError, UnicodeDecodeError):
        return False


def _banner(
    settings: Settings, url: str, args: argparse.Namespace, listed: int, booked: int
) -> None:
    lines = [
        f"vaxflow demo — {settings.site.name}",
        f"  server      {url}/",
        f"  marshal     {url}/marshal          boards  {url}/board/calls  {url}/board/observation",
        f"  consoles    {url}/station/S01  {url}/observer  {url}/exit",
        f"  health      {url}/api/health",
        f"  stats       {url}/api/stats      (Authorization: Bearer <marshal token>)",
        f"  API         {url}/api/openapi.json",
        f"  events      {url.replace('http', 'ws', 1)}/ws/events?since=0",
        f"  speed       {args.speed:g} site minutes per minute",
        f"  arrivals    {args.arrivals_per_hour:g} people per site hour"
        + (" (--busy: a hard day)" if args.busy else ""),
        f"  bookings    {listed} on the imported day list (DEMO0001...), "
        f"{booked - listed} as signed QR codes (SQR0001...)",
        "  tokens:",
        *(f"    {role:9} {tokens[0]}" for role, tokens in settings.tokens.items()),
        *(
            ["  staff sign-in" + (" (every demo PIN is 1234):" if _demo_file(args) else ":")]
            + [f"    {p.id:9} {p.name} ({', '.join(p.roles)})" for p in settings.staff]
            if settings.staff
            else []
        ),
        "  Ctrl-C stops the demo.",
    ]
    print("\n".join(lines), flush=True)
