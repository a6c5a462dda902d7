"""`vaxflow region dev-cluster|serve|report daily`: the city's region tier."""

from __future__ import annotations

import argparse
import json
import signal
import threading
from pathlib import Path
from typing import Any

from vaxflow.cli.common import CommandError


def register(sub: Any) -> None:
    parser = sub.add_parser("region", help="the region tier: dev cluster, server, daily report")
    commands = parser.add_subparsers(dest="region_command", required=True, metavar="COMMAND")
    dev = commands.add_parser(
        "dev-cluster",
        help="3 etcd + 2 PostgreSQL under Patroni on loopback, until Ctrl-C (tests, rehearsals)",
    )
    dev.add_argument("--dir", required=True, help="folder for the data and logs (created)")
    dev.set_defaults(func=_dev_cluster)
    serve = commands.add_parser("serve", help="the region server: site ingest, dashboard, history")
    serve.add_argument(
        "--config", required=True, help="the region file (config/region.example.toml)"
    )
    serve.add_argument("--host", help="listen address (default: the file's)")
    serve.add_argument("--port", type=int, help="listen port (default: the file's)")
    serve.set_defaults(func=_serve)
    report = commands.add_parser("report", help="the district's reports from the region")
    kinds = report.add_subparsers(dest="report_kind", required=True, metavar="KIND")
    daily = kinds.add_parser("daily", help="every site's doses of one day: CSV and HTML")
    daily.add_argument("--config", required=True, help="the region file")
    daily.add_argument("--date", required=True, help="the day, YYYY-MM-DD (the city's time zone)")
    daily.add_argument("--out", required=True, help="folder for region-daily-DATE.csv and .html")
    daily.set_defaults(func=_daily)


def _dev_cluster(args: argparse.Namespace) -> int:
    from vaxflow.region.devcluster import ClusterError, DevCluster, missing_programs

    missing = missing_programs()
    if missing:
        raise CommandError(f"install the Debian packages {' '.join(missing)} first (./dev setup)")
    cluster = DevCluster(Path(args.dir))
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    try:
        cluster.start()
    except ClusterError as err:
        raise CommandError(str(err)) from err
    try:
        print(json.dumps(cluster.describe(), indent=1), flush=True)
        print("running; Ctrl-C stops it", flush=True)
        stop.wait()
    finally:
        cluster.stop()
    return 0


def _region_settings(path: str) -> Any:
    from vaxflow.config import ConfigError
    from vaxflow.config.region import load_region_settings

    try:
        return load_region_settings(path)
    except ConfigError as err:
        raise CommandError(str(err)) from err


def _serve(args: argparse.Namespace) -> int:
    from aiohttp import web

    from vaxflow.region.server import create_app

    settings = _region_settings(args.config)
    host = args.host or settings.host
    port = settings.port if args.port is None else args.port
    web.run_app(create_app(settings), host=host, port=port, print=None, handle_signals=True)
    return 0


def _daily(args: argparse.Namespace) -> int:
    from datetime import date

    from vaxflow.region.report import daily_report, write_daily
    from vaxflow.region.store import RegionStore, RegionUnavailable

    settings = _region_settings(args.config)
    try:
        day = date.fromisoformat(args.date)
    except ValueError as err:
        raise CommandError(f"--date: not a date like 2026-12-05: {args.date}") from err
    store = RegionStore(settings.database, deadline=settings.retry_deadline_seconds)
    try:
        written = write_daily(daily_report(store, settings, day), Path(args.out))
    except RegionUnavailable as err:
        raise CommandError(f"the region database did not answer: {err}") from err
    finally:
        store.close()
    for path in written:
        print(path)
    return 0
