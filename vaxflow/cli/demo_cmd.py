"""`vaxflow demo`: the demo site — server on config/demo.toml plus simulated traffic."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
from pathlib import Path
from typing import Any

from vaxflow.clock import ScaledClock
from vaxflow.config import ConfigError, Settings, load_settings
from vaxflow.queue import engine
from vaxflow.queue.appkeys import STORE
from vaxflow.queue.demo_data import seed_bookings
from vaxflow.queue.serve import serve
from vaxflow.queue.server import create_app
from vaxflow.queue.simulated_site import SimulatedSite, Traffic

DEMO_CONFIG = Path(__file__).resolve().parents[2] / "config" / "demo.toml"


def register(sub: Any) -> None:
    parser = sub.add_parser("demo", help="run the demo site with simulated traffic")
    parser.add_argument("--config", default=str(DEMO_CONFIG), help=argparse.SUPPRESS)
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=8080, help="TCP port (0: any free one)")
    parser.add_argument(
        "--speed",
        type=float,
        default=10.0,
        help="site minutes per real minute (60: an hour a minute)",
    )
    parser.add_argument("--headless", action="store_true", help="open no windows, only serve")
    parser.add_argument("--db", help="SQLite file (default: var/demo.sqlite)")
    parser.add_argument(
        "--arrivals", type=float, default=600.0, help="people arriving per site hour"
    )
    parser.add_argument("--no-traffic", action="store_true", help="serve only, simulate nobody")
    parser.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    try:
        settings = load_settings(args.config)
    except ConfigError as err:
        print(err, file=sys.stderr)
        return 1
    if args.speed <= 0:
        print("--speed must be positive", file=sys.stderr)
        return 2
    asyncio.run(_demo(settings, args))
    return 0


async def _demo(settings: Settings, args: argparse.Namespace) -> None:
    clock = ScaledClock(args.speed)
    app = create_app(settings, db=args.db, clock=clock)
    traffic = Traffic(arrivals_per_hour=args.arrivals, bookings=settings.demo.bookings)
    tasks: list[asyncio.Task[None]] = []

    async def started(url: str) -> None:
        store = app[STORE]
        day = settings.demo.visit_date or engine.site_day(clock.now(), settings.site.timezone)
        added = await store.write(
            lambda tx: seed_bookings(tx, settings, day, settings.demo.bookings), actor="demo"
        )
        _banner(settings, url, args, added)
        if not args.no_traffic:
            site = SimulatedSite(url, settings, clock, traffic)
            tasks.append(asyncio.create_task(site.run()))

    try:
        await serve(app, args.host, args.port, started=started)
    finally:
        for task in tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task


def _banner(settings: Settings, url: str, args: argparse.Namespace, added: int) -> None:
    lines = [
        f"vaxflow demo — {settings.site.name}",
        f"  server      {url}/",
        f"  health      {url}/api/health",
        f"  stats       {url}/api/stats      (Authorization: Bearer <marshal token>)",
        f"  API         {url}/api/openapi.json",
        f"  events      {url.replace('http', 'ws', 1)}/ws/events?since=0",
        f"  speed       {args.speed:g} site minutes per minute; {added} demo bookings added "
        f"(codes DEMO0001...)",
        "  tokens:",
        *(f"    {role:9} {tokens[0]}" for role, tokens in settings.tokens.items()),
        "  Ctrl-C stops the demo.",
    ]
    print("\n".join(lines), flush=True)
