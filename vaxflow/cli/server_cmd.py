"""`vaxflow server --config FILE [--host H] [--port P] [--db PATH] [--speed N --start T]`."""

from __future__ import annotations

import argparse
import ssl
import sys
from datetime import UTC, datetime
from typing import Any

from vaxflow.cli.common import shared_tokens_problem, site_settings
from vaxflow.cli.site_app import site_app
from vaxflow.clock import Clock, ScaledClock, SteadyClock
from vaxflow.queue.core import engine
from vaxflow.queue.server.serve import run_loop, serve
from vaxflow.site_tls import server_context


def register(sub: Any) -> None:
    parser = sub.add_parser("server", help="run a site server")
    parser.add_argument("--config", required=True, help="site TOML file")
    parser.add_argument("--host", help="address to listen on (default: from the site file)")
    parser.add_argument("--port", type=int, help="TCP port, 0 for any free one")
    parser.add_argument("--db", help="SQLite file or database URL (default: from the site file)")
    parser.add_argument(
        "--tls-cert", help="PEM certificate: serve HTTPS (default: the site file's)"
    )
    parser.add_argument("--tls-key", help="PEM private key for --tls-cert")
    parser.add_argument(
        "--insecure",
        action="store_true",
        help="serve plain HTTP on a real site (tokens and personal data in clear on the LAN); "
        "without it a real site refuses to start without a certificate",
    )
    parser.add_argument(
        "--speed",
        type=float,
        default=1.0,
        help="site minutes per real minute, for rehearsals and soak tests (default 1: real time)",
    )
    parser.add_argument(
        "--start",
        help="the site time the clock starts from, ISO 8601 with offset (default: now); "
        "a server restarted in a rehearsal is given where the day had got to",
    )
    parser.set_defaults(func=_run)


def site_clock(speed: float, start: str | None) -> Clock:
    """Steady served time, or a rehearsal's clock running `speed` times faster from `start`
    (on the monotonic clock too, so a wall-clock step moves neither)."""
    if speed <= 0:
        raise ValueError("--speed must be positive")
    if speed == 1 and start is None:
        return SteadyClock()  # served time: a wall-clock step never shortens observation
    begin = None
    if start is not None:
        try:
            begin = datetime.fromisoformat(start)
        except ValueError:
            raise ValueError(f"--start {start!r} is not an ISO 8601 time") from None
        if begin.tzinfo is None:
            raise ValueError(f"--start {start!r} needs a UTC offset, e.g. +08:00")
        begin = begin.astimezone(UTC)
    return ScaledClock(speed, start=begin)


def plain_http_allowed(demo: bool, host: str, *, insecure: bool) -> bool:
    """Plain HTTP only when asked for (--insecure), or for a demo site on loopback."""
    return insecure or (demo and host in LOOPBACK)


#: Addresses only this machine reaches.
LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})


def _run(args: argparse.Namespace) -> int:
    settings = site_settings(args.config)
    # no override, not even --insecure (which is about the wire): a shared station token can
    # act as any station and read every person's full number; a rehearsal uses a "demo" id
    problem = shared_tokens_problem(settings, args.config)
    if problem is not None:
        print(problem, file=sys.stderr)
        return 1
    host = args.host or settings.server.host
    port = settings.server.port if args.port is None else args.port
    cert = args.tls_cert or settings.server.tls_cert
    key = args.tls_key or settings.server.tls_key
    context = None
    if cert or key:
        if not (cert and key):
            print("give both a TLS certificate and its key", file=sys.stderr)
            return 2
        try:
            context = server_context(cert, key)
        except (OSError, ssl.SSLError) as err:
            print(f"cannot use the TLS certificate {cert}: {err}", file=sys.stderr)
            return 1
    elif not plain_http_allowed(settings.is_demo, host, insecure=args.insecure):
        print(
            f"{settings.site.name} is a real site: it serves HTTPS only. Make its certificate "
            "with `vaxflow tls init DIR` and set server.tls_cert and server.tls_key, or give "
            "--insecure to serve plain HTTP anyway (the demo may use HTTP on loopback).",
            file=sys.stderr,
        )
        return 2
    try:
        clock = site_clock(args.speed, args.start)
    except ValueError as err:
        print(err, file=sys.stderr)
        return 2
    app = site_app(settings, db=args.db, clock=clock)

    async def started(url: str) -> None:
        if isinstance(clock, ScaledClock):
            now, site = clock.now(), settings.site
            day = engine.site_day(now, site.timezone, site.day_turns_at)
            turn = engine.next_turn(day, site.timezone, site.day_turns_at)
            print(
                f"rehearsal clock: {clock.speed:g}x from {now.isoformat()}; by the schedule the "
                f"site day is {day.isoformat()}, turning at {turn.isoformat()}",
                flush=True,
            )
        print(f"vaxflow server for {settings.site.name} listening on {url}", flush=True)

    run_loop(
        serve(
            app,
            host,
            port,
            started=started,
            ssl_context=context,
            header_timeout=settings.server.header_timeout_seconds,
        )
    )
    return 0
