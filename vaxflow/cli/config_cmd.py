"""`vaxflow config check FILE`."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from vaxflow.config import ConfigError, load_settings

_DEMO_TOKEN_PREFIX = "demo-"


def register(sub: Any) -> None:
    config = sub.add_parser("config", help="site configuration files")
    config_sub = config.add_subparsers(dest="config_command", required=True, metavar="ACTION")
    check = config_sub.add_parser("check", help="validate a site file and summarise it")
    check.add_argument("file")
    check.set_defaults(func=_check)


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
    demo_roles = [
        role
        for role, tokens in settings.tokens.items()
        if any(t.startswith(_DEMO_TOKEN_PREFIX) for t in tokens)
    ]
    if demo_roles:
        roles = ", ".join(demo_roles)
        print(f"  warning: demo tokens in use for {roles}; replace them on a real site")
    return 0
