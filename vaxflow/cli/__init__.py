"""The `vaxflow` command: thin shells over the areas, one module per subcommand group."""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence
from typing import Any

from vaxflow import __version__
from vaxflow.cli.common import CommandError

#: Subcommands and their modules; each module has `register(subparsers)` adding its command
#: with a `func`.
_COMMANDS = {
    "config": "vaxflow.cli.config_cmd",
    "bookings": "vaxflow.cli.bookings_cmd",
    "server": "vaxflow.cli.server_cmd",
    "demo": "vaxflow.cli.demo_cmd",
    "decode": "vaxflow.cli.decode_cmd",
    "idcard": "vaxflow.cli.idcard_cmd",
    "ticket": "vaxflow.cli.ticket_cmd",
    "devices": "vaxflow.cli.devices_cmd",
    "report": "vaxflow.cli.report_cmd",
    "export": "vaxflow.cli.export_cmd",
    "db": "vaxflow.cli.db_cmd",
    "simulate": "vaxflow.cli.simulate_cmd",
    "kiosk": "vaxflow.cli.kiosk_cmd",
    "board": "vaxflow.cli.board_cmd",
    "station": "vaxflow.cli.station_cmd",
    "staff": "vaxflow.cli.staff_cmd",
    "init-site": "vaxflow.cli.init_site_cmd",
    "doctor": "vaxflow.cli.doctor_cmd",
    "region": "vaxflow.cli.region_cmd",
    "tls": "vaxflow.cli.tls_cmd",
    "uplink": "vaxflow.cli.uplink_cmd",
    "certificate": "vaxflow.cli.certificate_cmd",
}

#: Optional dependencies (top-level import names) and the extra of pyproject.toml that
#: installs them: a server machine installs neither Kivy nor OpenCV.
EXTRAS = {
    "kivy": "kiosk",
    "cv2": "kiosk",
    "numpy": "kiosk",
    "zxingcpp": "kiosk",
    "pyzbar": "kiosk",
    "serial": "kiosk",
    "escpos": "kiosk",
    "psycopg": "postgres",
}


def _commands_for(argv: Sequence[str] | None) -> dict[str, str]:
    """Only the named command's module when the command line names one, else all of them.

    Every module imports its area (the server, reports with matplotlib, decoders with
    OpenCV), so importing all of them costs each `vaxflow` process a second or two."""
    words = [a for a in argv or () if not a.startswith("-")]
    if not words and "--version" in (argv or ()):
        return {}  # nothing to import to say the version
    if words and words[0] in _COMMANDS:
        return {words[0]: _COMMANDS[words[0]]}
    return _COMMANDS


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The parser for `argv`'s command (all commands when `argv` names none we know)."""
    parser = argparse.ArgumentParser(prog="vaxflow", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    parser.add_argument("--version", action="version", version=f"vaxflow {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command, name in _commands_for(argv).items():
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as err:
            extra = EXTRAS.get((err.name or "").partition(".")[0])
            if extra is not None:
                _needs_extra(sub, command, extra, err)
            elif err.name != name:
                raise
            continue
        module.register(sub)
    return parser


def _needs_extra(sub: Any, command: str, extra: str, err: ModuleNotFoundError) -> None:
    """A command whose optional dependencies are not installed: listed, and when run it says
    which extra to install instead of failing every other command with a traceback."""
    parser = sub.add_parser(command, help=f"(needs vaxflow[{extra}])", add_help=False)
    parser.add_argument("args", nargs=argparse.REMAINDER)

    def refuse(_args: argparse.Namespace) -> int:
        raise CommandError(
            f"vaxflow {command} needs the {extra} extra ({err}): pip install 'vaxflow[{extra}]'",
            2,
        )

    parser.set_defaults(func=refuse)


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
