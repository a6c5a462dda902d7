"""`vaxflow kiosk`: the check-in kiosk (Kivy), its tour of every screen, and its test scripts.

vaxflow kiosk --config FILE --server URL [--devices sim] [--token T]
vaxflow kiosk --tour DIR [--lang L] [--elderly]  # demo server + simulated devices, PNG per
                                         # screen (--elderly: every screen in large text)
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from vaxflow.cli.common import DEMO_HELP, site_settings
from vaxflow.config.languages import LANGUAGES

_URL = re.compile(r"server\s+(http://\S+?)/?$")


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "kiosk",
        help="run the check-in kiosk (Kivy), or its tour of every screen",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--config", help=f"site file (TOML; default: {DEMO_HELP})")
    parser.add_argument(
        "--server",
        default=os.environ.get("VAXFLOW_SERVER_URL"),
        help="site server URL, e.g. http://10.0.0.2:8080 (default: $VAXFLOW_SERVER_URL)",
    )
    parser.add_argument(
        "--token",
        default=os.environ.get("VAXFLOW_KIOSK_TOKEN"),
        help="kiosk bearer token (default: $VAXFLOW_KIOSK_TOKEN, else the site file's first)",
    )
    parser.add_argument(
        "--device-id",
        default=os.environ.get("VAXFLOW_DEVICE_ID", "kiosk-1"),
        help="this kiosk's name on the site (default: $VAXFLOW_DEVICE_ID)",
    )
    parser.add_argument(
        "--devices", choices=("config", "sim"), default="config", help="real or simulated"
    )
    parser.add_argument("--printer-dir", type=Path, help="where the simulated printer writes")
    parser.add_argument("--windowed", action="store_true", help="a window, not kiosk mode")
    parser.add_argument("--size", default="1080x1920", help="window size WxH when windowed")
    parser.add_argument("--rotation", type=int, choices=(0, 90, 180, 270), default=0)
    parser.add_argument(
        "--speak", action="store_true", help="voice on from the start (espeak-ng; the voice button)"
    )
    parser.add_argument("--tour", type=Path, metavar="DIR", help="photograph every screen")
    parser.add_argument("--lang", choices=LANGUAGES, help="tour one language")
    parser.add_argument(
        "--elderly", action="store_true", help="tour every screen in elderly mode (large text)"
    )
    parser.add_argument("--script", help=argparse.SUPPRESS)  # GUI tests: tour.SCRIPTS
    parser.add_argument("--out", type=Path, default=Path("."), help=argparse.SUPPRESS)
    parser.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    settings = site_settings(args.config)
    try:
        width, height = (int(v) for v in args.size.lower().split("x"))
    except ValueError:
        print("--size: use WxH, e.g. 1080x1920", file=sys.stderr)
        return 2
    own = settings.device_tokens.get(args.device_id)
    token = (
        args.token
        or (own.token if own is not None and own.kind == "kiosk" else "")
        or (settings.tokens.get("kiosk") or [""])[0]
    )
    if not token:
        print(
            f"no kiosk token: give --token or [device_tokens.{args.device_id}] (kind kiosk)",
            file=sys.stderr,
        )
        return 2
    touring = args.tour is not None or args.script is not None
    with contextlib.ExitStack() as stack:
        server = args.server
        if server is None:
            if not touring:
                print("give --server URL (the site server)", file=sys.stderr)
                return 2
            server = stack.enter_context(_demo_server(args.config))
        if touring and not os.environ.get("DISPLAY"):
            stack.enter_context(_virtual_display(width, height))
        printer_dir = args.printer_dir
        if touring and printer_dir is None:
            printer_dir = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        from vaxflow.kiosk.wiring import AppOptions

        options = AppOptions(
            server=server,
            token=token,
            device_id=args.device_id,
            sim_devices=touring or args.devices == "sim",
            printer_dir=printer_dir,
            fullscreen=not (touring or args.windowed),
            rotation=args.rotation,
            size=(width, height),
            speak=args.speak,
        )
        return asyncio.run(_kiosk(settings, options, args))
    return 0


async def _kiosk(settings: Any, options: Any, args: argparse.Namespace) -> int:
    from vaxflow.screens.kiosk import tour
    from vaxflow.screens.kiosk.app import kiosk_shell, run_app

    if args.tour is not None:
        client = tour.GatedClient(options.server, options.token, device=options.device_id)
        shell = kiosk_shell(settings, options, client)
        shell.devices.printer = tour.GatedPrinter(shell.devices.printer)  # type: ignore[arg-type]
        shell.print_queue.printer = shell.devices.printer
        languages = (args.lang,) if args.lang else LANGUAGES
        driver = tour.tour(settings, args.tour, languages, elderly=args.elderly)
        return await run_app(shell, options, driver)
    shell = kiosk_shell(settings, options)
    if args.script is not None:
        if args.script not in tour.SCRIPTS:
            print(f"unknown script; use one of: {', '.join(tour.SCRIPTS)}", file=sys.stderr)
            return 2
        return await run_app(shell, options, tour.run_script(args.script, settings, args.out))
    return await run_app(shell, options)


@contextlib.contextmanager
def _demo_server(config: str | None) -> Iterator[str]:
    """A throw-away demo server (no traffic) on the kiosk's site file, for the tour; its URL."""
    with tempfile.TemporaryDirectory(prefix="vaxflow-tour-") as tmp:
        command = [sys.executable, "-m", "vaxflow", "demo", "--port", "0", "--no-traffic"]
        if config is not None:
            command += ["--config", str(config)]
        command += ["--speed", "1", "--headless", "--db", str(Path(tmp) / "demo.sqlite")]
        process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
        try:
            url = _read_url(process)
            yield url
        finally:
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            if process.stdout is not None:
                process.stdout.close()


def _read_url(process: subprocess.Popen[str]) -> str:
    assert process.stdout is not None
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        found = _URL.search(line.strip())
        if found:
            return found.group(1)
    raise SystemExit("the demo server did not start")


@contextlib.contextmanager
def _virtual_display(width: int, height: int) -> Iterator[None]:
    """An Xvfb display for the tour when there is no screen."""
    xvfb = shutil.which("Xvfb")
    if xvfb is None:
        raise SystemExit("no DISPLAY and no Xvfb: install xvfb or run on a desktop")
    for number in range(90, 140):
        if (
            not Path(f"/tmp/.X11-unix/X{number}").exists()
            and not Path(f"/tmp/.X{number}-lock").exists()
        ):
            break
    else:
        raise SystemExit("no free X display number")
    process = subprocess.Popen(
        [xvfb, f":{number}", "-screen", "0", f"{width}x{height}x24", "-nolisten", "tcp"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while not Path(f"/tmp/.X11-unix/X{number}").exists():
        if time.monotonic() > deadline or process.poll() is not None:
            raise SystemExit("Xvfb did not start")
        time.sleep(0.05)
    os.environ["DISPLAY"] = f":{number}"
    try:
        yield
    finally:
        process.terminate()
        process.wait(10)
