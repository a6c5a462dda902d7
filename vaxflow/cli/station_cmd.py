"""`vaxflow station`: the injection station's console on a tablet (Kivy).

vaxflow station --config FILE --server URL --station S05 [--token T] [--vaccinator NAME]
    [--windowed --size WxH] [--screenshot PNG]   # one picture of a served person, then quit
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import sys
from pathlib import Path
from typing import Any

from vaxflow.config import ConfigError, load_settings
from vaxflow.screens.kivy_window import configure_window

log = logging.getLogger(__name__)

FONT = "VaxflowStation"


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
    parser.add_argument("--windowed", action="store_true", help="a window, not fullscreen")
    parser.add_argument("--size", default="1280x800", help="window size WxH when windowed")
    parser.add_argument("--screenshot", type=Path, help=argparse.SUPPRESS)
    parser.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    try:
        settings = load_settings(args.config)
    except ConfigError as err:
        print(err, file=sys.stderr)
        return 1
    if settings.station(args.station) is None:
        print(f"the site file has no station {args.station}", file=sys.stderr)
        return 2
    if not args.token:
        print("give the station token with --token or $VAXFLOW_STATION_TOKEN", file=sys.stderr)
        return 2
    configure_window(args.size, windowed=bool(args.windowed or args.screenshot), hide_cursor=False)
    from kivy.config import Config

    Config.set("input", "mouse", "mouse,disable_multitouch")
    return asyncio.run(_console(args))


async def _console(args: argparse.Namespace) -> int:
    from kivy.app import App
    from kivy.core.text import LabelBase
    from kivy.core.window import Window
    from kivy.uix.boxlayout import BoxLayout
    from kivy.uix.button import Button
    from kivy.uix.label import Label
    from kivy.uix.textinput import TextInput

    from vaxflow.hardware.fonts import cjk_font_path
    from vaxflow.queue.client import SiteClient
    from vaxflow.queue.station_console import StationConsole
    from vaxflow.screens.station.console import StationScreen

    path = cjk_font_path()
    font = FONT if path else "Roboto"
    if path is not None:
        LabelBase.register(FONT, fn_regular=str(path), fn_bold=str(path))
    client = SiteClient(args.server, args.token, device=f"station-{args.station}")
    ready = asyncio.Event()
    holder: dict[str, StationConsole] = {}

    class StationApp(App):  # type: ignore[misc]
        title = f"vaxflow station {args.station}"

        def __init__(self, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self.font = font
            self.u = 20.0

        def build(self) -> Any:
            if args.vaccinator:
                return self._console(args.vaccinator)
            root = BoxLayout(orientation="vertical", padding=80, spacing=20)
            name = TextInput(
                hint_text="接种人员 Vaccinator name", multiline=False, font_name=font, font_size=32
            )
            go = Button(text="登录 Sign in", font_name=font, font_size=32, size_hint_y=0.4)
            root.add_widget(Label(text=f"接种台 {args.station}", font_name=font, font_size=44))
            root.add_widget(name)
            root.add_widget(go)

            def sign_in(*_a: Any) -> None:
                if name.text.strip():
                    self.root.clear_widgets()
                    self.root.add_widget(self._console(name.text.strip()))

            go.bind(on_release=sign_in)
            name.bind(on_text_validate=sign_in)
            return root

        def _console(self, vaccinator: str) -> Any:
            console = StationConsole(client, args.station, vaccinator)
            holder["console"] = console
            screen = StationScreen(console, font=font)
            ready.set()
            screen.act("refresh")
            return screen

    app = StationApp()
    shot: asyncio.Task[None] | None = None
    if args.screenshot:

        async def take() -> None:
            """Open, call, verify: a picture of the console with a person to vaccinate."""
            await ready.wait()
            console = holder["console"]
            await console.refresh()
            view = console.view
            if view.station and view.station["state"] == "closed":
                await console.open(view.products[0], "LOT-SHOT-01")
            if view.can_call:
                await console.call_next()
            if view.called:
                await console.verify(view.called["ticket"])
            await asyncio.sleep(1.0)
            made = Path(Window.screenshot(name=str(args.screenshot)))
            await asyncio.to_thread(made.replace, args.screenshot)
            print(f"screenshot {args.screenshot}", flush=True)
            app.stop()

        shot = asyncio.create_task(take())
    try:
        await app.async_run(async_lib="asyncio")
    finally:
        if shot is not None:
            shot.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await shot
        await client.close()
    return 0
