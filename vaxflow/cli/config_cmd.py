"""`vaxflow config check FILE`; `vaxflow config demo` prints the built-in demo site file."""

from __future__ import annotations

import argparse
import sys
from datetime import date
from typing import Any

from vaxflow.cli.common import shared_tokens_problem
from vaxflow.config import ConfigError, Settings, demo_text, load_settings

_DEMO_TOKEN_PREFIX = "demo-"


def register(sub: Any) -> None:
    config = sub.add_parser("config", help="site configuration files")
    config_sub = config.add_subparsers(dest="config_command", required=True, metavar="ACTION")
    check = config_sub.add_parser("check", help="validate a site file and summarise it")
    check.add_argument("file")
    check.set_defaults(func=_check)
    demo = config_sub.add_parser(
        "demo", help="print the built-in demo site file (a starting point for a site's own)"
    )
    demo.set_defaults(func=_demo)


def _demo(args: argparse.Namespace) -> int:
    """The demo site ships inside the package; an installed vaxflow has no source tree to copy
    it from."""
    sys.stdout.write(demo_text())
    return 0


def _check(args: argparse.Namespace) -> int:
    try:
        settings = load_settings(args.file)
    except ConfigError as err:
        print(f"{args.file}: {len(err.problems)} problem(s)", file=sys.stderr)
        print(err, file=sys.stderr)
        return 1
    lanes = ", ".join(f"{lane.prefix} {lane.name}" for lane in settings.lanes)
    print(f"{args.file}: OK — {settings.site.name} ({settings.site.id})")
    print(f"  lanes: {lanes}")
    print(f"  stations: {len(settings.stations)}, products: {len(settings.products)}")
    print(f"  walk-in capacity: {settings.walk_in.daily_capacity}/day")
    print(f"  observation seats: {settings.observation.seats}")
    for line in _policy(settings):
        print(f"  {line}")
    demo_roles = [
        role
        for role, tokens in settings.tokens.items()
        if any(t.startswith(_DEMO_TOKEN_PREFIX) for t in tokens)
    ]
    if demo_roles:
        roles = ", ".join(demo_roles)
        print(f"  warning: demo tokens in use for {roles}; replace them on a real site")
    print(f"  device tokens: {len(settings.device_tokens)}")
    problem = shared_tokens_problem(settings, args.file)
    if problem is not None:
        print(problem, file=sys.stderr)
        return 1
    return 0


def _policy(settings: Settings, today: date | None = None) -> list[str]:
    """The schedule policy as an operator checks it: series, and what is in effect today."""
    day = today or date.today()
    given = {code for station in settings.stations for code in station.products}
    lines = []
    for p in settings.products:
        series = f"{p.doses_in_series} dose(s)"
        if p.doses_in_series > 1:
            most = f"-{p.max_interval_days}" if p.max_interval_days is not None else "+"
            series += f", {p.min_interval_days}{most} days apart"
        if p.series_window_days is not None:
            series += f", all within {p.series_window_days} days of dose 1"
        where = "" if p.code in given else " (history only: no station gives it)"
        lines.append(f"product {p.code}: {p.platform or 'platform not stated'}, {series}{where}")
    if settings.age_bands:
        open_now = [b for b in settings.age_bands if b.in_effect(day)]
        spans = ", ".join(
            f"{b.min_age_years}-{b.max_age_years if b.max_age_years is not None else ''}"
            + (f" ({', '.join(b.products)})" if b.products else "")
            for b in open_now
        )
        lines.append(f"age bands open on {day}: {spans or 'none'}")
    boosters = [r for r in settings.boosters if r.in_effect(day)]
    lines.append(
        f"booster rules in effect on {day}: {len(boosters)}"
        f"; overdue doses: {settings.schedule.overdue}"
    )
    return lines
