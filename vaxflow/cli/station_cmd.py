"""`vaxflow station`: the injection station's console on a tablet (Kivy).

vaxflow station --config FILE --server URL --station S05 [--token T] [--vaccinator NAME]
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
import asyncio
import contextlib
import logging
import os
import sys
import time
from pathlib import Path
from typing import Any

from vaxflow.cli.common import site_settings
from vaxflow.config import load_settings
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
    parser.add_argument(
        "--id-reader",
        metavar="URL",
        help="the station's ID-card reader (serial:///dev/ttyUSB0, sim://?card=zhang)",
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
    configure_window(args.size, windowed=bool(args.windowed or args.screenshot), hide_cursor=False)
    from kivy.config import Config

    Config.set("input", "mouse", "mouse,disable_multitouch")
    return asyncio.run(_console(args))


async def _console(args: argparse.Namespace) -> int:
    from kivy.app import App
    from kivy.clock import Clock
    from kivy.core.text import LabelBase
    from kivy.core.window import Window
    from kivy.uix.boxlayout import BoxLayout
    from kivy.uix.button import Button
    from kivy.uix.label import Label
    from kivy.uix.textinput import TextInput

    from vaxflow.cli.station_reader import StationIdReader
    from vaxflow.hardware.fonts import cjk_font_path
    from vaxflow.queue.client.site import SiteClient
    from vaxflow.queue.client.staff_signin import StaffSignIn
    from vaxflow.queue.client.station_console import StationConsole
    from vaxflow.screens.station.console import StationScreen
    from vaxflow.screens.station.signin import StaffBar, StaffSignInScreen

    path = cjk_font_path()
    font = FONT if path else "Roboto"
    if path is not None:
        LabelBase.register(FONT, fn_regular=str(path), fn_bold=str(path))
    client = SiteClient(args.server, args.token, device=f"station-{args.station}")
    ready = asyncio.Event()
    holder: dict[str, StationConsole] = {}
    readers: list[StationIdReader] = []  # the ID-card reader, once a console exists
    reading: list[asyncio.Task[None]] = []
    settings = load_settings(args.config)
    staff = StaffSignIn(client, now=time.monotonic)
    signing_in: dict[str, Any] = {}  # the sign-in screen while it is shown
    asked = asyncio.Event()
    background: set[asyncio.Future[None]] = set()
    people_sign_in = settings.staff_sign_in.required or (
        any("station" in person.roles for person in settings.staff) and not args.vaccinator
    )

    class StationApp(App):  # type: ignore[misc]
        title = f"vaxflow station {args.station}"

        def __init__(self, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self.font = font
            self.u = 20.0

        def build(self) -> Any:
            if people_sign_in:
                return self._staff_frame()
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

        # --- staff sign-in (vaxflow/screens/station/signin.py) -----------------------------

        def _staff_frame(self) -> Any:
            """A frame that holds the sign-in screen, or the staff bar over the console."""
            self.frame = BoxLayout(orientation="vertical")
            Window.bind(
                on_touch_down=lambda *_a: staff.touch(), on_key_down=lambda *_a: staff.touch()
            )
            Clock.schedule_interval(lambda _dt: self._idle_check(), 5)
            self._later(staff.load_rules())
            self._ask_staff()
            return self.frame

        def _ask_staff(self) -> None:
            for reader in readers:
                reader.enabled = False
            self.frame.clear_widgets()
            holder.pop("console", None)
            ready.clear()
            screen = StaffSignInScreen(
                staff,
                title=f"接种台 {args.station} 工作人员登录 Staff sign-in",
                signed_in=self._staff_signed_in,
                font=font,
            )
            signing_in["screen"] = screen
            asked.set()
            self.frame.add_widget(screen)

        def _staff_signed_in(self) -> None:
            person = staff.view.person or {}
            console = self._console(str(person.get("label", "")))
            bar = StaffBar(staff, signed_out=self._ask_staff, font=font)
            console.bind(u=bar.setter("u"))
            signing_in.clear()
            asked.clear()
            self.frame.clear_widgets()
            self.frame.add_widget(bar)
            self.frame.add_widget(console)

        def _idle_check(self) -> None:
            if staff.idle():
                self._later(staff.sign_out())
                self._ask_staff()

        def _later(self, work: Any) -> None:
            task = asyncio.ensure_future(work)
            background.add(task)
            task.add_done_callback(background.discard)

        def _console(self, vaccinator: str) -> Any:
            console = StationConsole(client, args.station, vaccinator)
            holder["console"] = console
            screen = StationScreen(console, font=font)
            if args.id_reader and not readers:
                readers.append(StationIdReader(console, args.id_reader))
                reading.append(asyncio.ensure_future(readers[0].run()))
            for reader in readers:
                reader.console, reader.enabled = console, True
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
                await asyncio.sleep(1.0)  # the closed station with today's lots: NAME-open.png
                closed = args.screenshot.with_name(
                    f"{args.screenshot.stem}-open{args.screenshot.suffix}"
                )
                made = Path(Window.screenshot(name=str(closed)))
                await asyncio.to_thread(made.replace, closed)
                lot = view.lots[0]["lot"] if view.lots else "LOT-SHOT-01"
                await console.open(view.products[0], lot)
            if view.can_call:
                await console.call_next()
            if view.called and readers:  # the reader verifies: wait for it (or its words)
                for _ in range(100):
                    if view.person or view.device_warning:
                        break
                    await asyncio.sleep(0.1)
            elif view.called:
                await console.verify(view.called["ticket"])
            await asyncio.sleep(1.0)
            made = Path(Window.screenshot(name=str(args.screenshot)))
            await asyncio.to_thread(made.replace, args.screenshot)
            print(f"screenshot {args.screenshot}", flush=True)
            app.stop()

        shot = asyncio.create_task(take())
    signing: asyncio.Task[None] | None = None
    if args.screenshot_sign_in:
        staff_id = sys.stdin.readline().strip()
        pin = sys.stdin.readline().strip()

        async def sign_in_shot() -> None:
            """A wrong PIN on the keypad, a picture of the screen, then the right PIN."""
            await asked.wait()
            screen = signing_in["screen"]
            screen.ids.staff_id.text = staff_id
            for digit in "0000" if pin != "0000" else "1111":
                staff.press(digit)
            await staff.submit()
            await asyncio.sleep(1.0)
            made = Path(Window.screenshot(name=str(args.screenshot_sign_in)))
            await asyncio.to_thread(made.replace, args.screenshot_sign_in)
            print(f"sign-in screenshot {args.screenshot_sign_in}: {staff.view.error}", flush=True)
            for digit in pin:
                staff.press(digit)
            screen.submit()
            await ready.wait()
            print(f"signed in {(staff.view.person or {}).get('label')}", flush=True)
            if not args.screenshot:
                app.stop()

        signing = asyncio.create_task(sign_in_shot())
    try:
        await app.async_run(async_lib="asyncio")
    finally:
        for task in (shot, signing, *reading):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        await client.close()
    return 0
