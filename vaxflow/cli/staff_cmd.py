"""`vaxflow staff hash-pin [--stdin]`, `vaxflow staff hash-badge --site ID [--stdin]`.

Prints the salted scrypt hash for a [[staff]] entry of the site file. The PIN or badge code is
read without echo (asked twice), or as one line from standard input with --stdin; it is never
taken from the command line, where other users and the shell history would see it.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from collections.abc import Callable
from typing import Any

from vaxflow.cli.common import site_settings
from vaxflow.config.pins import WeakSecret, check_badge, check_pin, hash_badge, hash_pin


def register(sub: Any) -> None:
    parser = sub.add_parser("staff", help="staff sign-in: hash PINs and badge codes")
    commands = parser.add_subparsers(dest="staff_command", required=True, metavar="COMMAND")
    pin = commands.add_parser(
        "hash-pin",
        help="print the pin_hash of a PIN (4-12 digits), read without echo",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    pin.add_argument("--stdin", action="store_true", help="read the PIN as one line of stdin")
    pin.set_defaults(func=_hash_pin)
    badge = commands.add_parser(
        "hash-badge",
        help="print the badge_hash of a badge code for one site",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    site = badge.add_mutually_exclusive_group(required=True)
    site.add_argument("--site", help="the site id (site.id in the site file)")
    site.add_argument("--config", help="take the site id from this site file")
    badge.add_argument("--stdin", action="store_true", help="read the code as one line of stdin")
    badge.set_defaults(func=_hash_badge)


def _read(args: argparse.Namespace, what: str, check: Callable[[str], str]) -> str | None:
    """The secret, checked; None after telling the person what is wrong."""
    try:
        if args.stdin:
            secret = check(sys.stdin.readline().rstrip("\r\n"))
        else:
            secret = check(getpass.getpass(f"{what}: "))
            if getpass.getpass(f"再输入一次 Again, {what}: ") != secret:
                print("两次输入不一致 The two entries differ", file=sys.stderr)
                return None
    except WeakSecret as err:
        print(str(err), file=sys.stderr)
        return None
    except (EOFError, KeyboardInterrupt):
        print("", file=sys.stderr)
        return None
    return secret


def _hash_pin(args: argparse.Namespace) -> int:
    pin = _read(args, "PIN", check_pin)
    if pin is None:
        return 2
    print(hash_pin(pin))
    print('put it in the site file\'s [[staff]] entry: pin_hash = "..."', file=sys.stderr)
    return 0


def _hash_badge(args: argparse.Namespace) -> int:
    site_id = args.site
    if args.config:
        site_id = site_settings(args.config).site.id
    badge = _read(args, "工牌码 Badge code", check_badge)
    if badge is None:
        return 2
    print(hash_badge(badge, site_id))
    print('put it in the site file\'s [[staff]] entry: badge_hash = "..."', file=sys.stderr)
    return 0
