"""The `vaxflow` command: thin shells over the areas, one module per subcommand group."""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

from vaxflow.cli.common import CommandError

#: Subcommand modules; each has `register(subparsers)` adding the command named as the module
#: (`vaxflow.cli.NAME_cmd` adds `vaxflow NAME`) with a `func`.
_MODULES = (
    "vaxflow.cli.config_cmd",
    "vaxflow.cli.bookings_cmd",
    "vaxflow.cli.server_cmd",
    "vaxflow.cli.demo_cmd",
    "vaxflow.cli.decode_cmd",
    "vaxflow.cli.idcard_cmd",
    "vaxflow.cli.ticket_cmd",
    "vaxflow.cli.devices_cmd",
    "vaxflow.cli.report_cmd",
    "vaxflow.cli.export_cmd",
    "vaxflow.cli.db_cmd",
    "vaxflow.cli.simulate_cmd",
    "vaxflow.cli.kiosk_cmd",
    "vaxflow.cli.board_cmd",
    "vaxflow.cli.station_cmd",
    "vaxflow.cli.staff_cmd",
)


def _modules_for(argv: Sequence[str] | None) -> tuple[str, ...]:
    """Only the named command's module when the command line names one, else all of them.

    Every module imports its area (the server, reports with matplotlib, decoders with
    OpenCV), so importing all of them costs each `vaxflow` process a second or two."""
    words = [a for a in argv or () if not a.startswith("-")]
    wanted = f"vaxflow.cli.{words[0]}_cmd" if words else ""
    return (wanted,) if wanted in _MODULES else _MODULES


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The parser for `argv`'s command (all commands when `argv` names none we know)."""
    parser = argparse.ArgumentParser(prog="vaxflow", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in _modules_for(argv):
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as err:
            if err.name != name:
                raise
            continue
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        code: int = args.func(args)
    except CommandError as err:
        print(err, file=sys.stderr)
        return err.status
    return code


if __name__ == "__main__":
    sys.exit(main())
