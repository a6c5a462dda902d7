"""`vaxflow station`: the injection station's console on a tablet (Kivy).

vaxflow station --config FILE --server URL --station S05 [--token T] [--vaccinator NAME]
    [--lang zh-CN|zh-TW|en]   # the console's language (default: the site file's first)
    [--id-reader URL] [--windowed --size WxH] [--screenshot PNG]   # PNG: one picture, then quit

--id-reader URL opens the station's ID-card reader (serial:///dev/ttyUSB0?baudrate=115200,
or sim://?card=zhang for a demo): a card placed on it while someone is called is checked
against the call, like a scanned ticket. An absent or failing reader is said in plain words on
the console and reopened by itself; typing or scanning the ID number still works.

When the site file lists [[staff]], the vaccinator signs in first with a staff number and PIN
(on-screen keypad); the console then shows who is signed in, with a sign-out button, and signs
out by itself after the site's idle minutes. --vaccinator NAME skips that only where the site
does not require staff sign-in.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from vaxflow.cli.common import site_settings
from vaxflow.config.languages import LANGUAGES


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "station",
        help="run an injection station's console (Kivy)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--config", required=True, help="site file (TOML)")
    parser.add_argument("--server", required=True, help="site server URL")
    parser.add_argument("--station", required=True, help="station id, e.g. S05")
    parser.add_argument(
        "--token",
        default=os.environ.get("VAXFLOW_STATION_TOKEN"),
        help="station token (default: $VAXFLOW_STATION_TOKEN)",
    )
    parser.add_argument("--vaccinator", help="who signs the doses (asked on screen if not given)")
    parser.add_argument(
        "--id-reader",
        metavar="URL",
        help="the station's ID-card reader (serial:///dev/ttyUSB0, sim://?card=zhang)",
    )
    parser.add_argument(
        "--lang", choices=LANGUAGES, help="the console's language (default: the site's first)"
    )
    parser.add_argument("--windowed", action="store_true", help="a window, not fullscreen")
    parser.add_argument("--size", default="1280x800", help="window size WxH when windowed")
    parser.add_argument("--screenshot", type=Path, help=argparse.SUPPRESS)
    # Tests: a picture of the sign-in screen after a wrong PIN, then sign in; stdin gives the
    # staff number and the PIN on two lines (never the command line).
    parser.add_argument("--screenshot-sign-in", type=Path, help=argparse.SUPPRESS)
    parser.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    settings = site_settings(args.config)
    if settings.station(args.station) is None:
        print(f"the site file has no station {args.station}", file=sys.stderr)
        return 2
    if not args.token:
        print("give the station token with --token or $VAXFLOW_STATION_TOKEN", file=sys.stderr)
        return 2
    if args.id_reader:
        from vaxflow.hardware.urls import UnknownDeviceScheme, open_device

        try:
            open_device("idcard", args.id_reader)  # constructed only: the URL makes sense
        except (UnknownDeviceScheme, ValueError) as err:
            print(f"--id-reader: {err}", file=sys.stderr)
            return 2
    from vaxflow.screens.station.app import StationOptions, run_station

    return run_station(
        StationOptions(
            settings=settings,
            server=args.server,
            station=args.station,
            token=args.token,
            vaccinator=args.vaccinator,
            language=args.lang or settings.site.languages[0],
            id_reader=args.id_reader,
            windowed=args.windowed,
            size=args.size,
            screenshot=args.screenshot,
            screenshot_sign_in=args.screenshot_sign_in,
        )
    )
