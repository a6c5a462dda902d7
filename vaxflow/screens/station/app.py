"""The injection station's console on a tablet: the Kivy app that `vaxflow station` runs.

One asyncio loop runs the window, the server client, staff sign-in and the station's ID-card
reader (`vaxflow.kiosk.station_reader`). The console's logic is the view-model
`vaxflow.queue.client.station_console`; the screens are `console.py` and `signin.py` here.
`--screenshot` and `--screenshot-sign-in` (tests, docs) drive the running app and take pictures.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vaxflow.config import Settings
from vaxflow.hardware.fonts import cjk_font_path
from vaxflow.kiosk.station_reader import StationIdReader
from vaxflow.queue.client.site import SiteClient
from vaxflow.queue.client.staff_signin import StaffSignIn
from vaxflow.queue.client.station_console import StationConsole
from vaxflow.queue.client.words import SiteNames, words
from vaxflow.screens.kivy_window import configure_window

log = logging.getLogger(__name__)

FONT = "VaxflowStation"


@dataclass(frozen=True)
class StationOptions:
    """What `vaxflow station` was asked for; checked by the command before the app starts."""

    settings: Settings
    server: str
    station: str
    token: str
    vaccinator: str | None = None
    language: str = "zh-CN"  # what the console says (`--lang`, else the site's first language)
    id_reader: str | None = None  # the ID-card reader's device URL
    windowed: bool = False
    size: str = "1280x800"  # WxH when windowed
    screenshot: Path | None = None
    screenshot_sign_in: Path | None = None


def run_station(options: StationOptions) -> int:
    """Configure Kivy's window (before it exists), then run the console."""
    windowed = bool(options.windowed or options.screenshot)
    configure_window(options.size, windowed=windowed, hide_cursor=False)
    from kivy.config import Config

    Config.set("input", "mouse", "mouse,disable_multitouch")
    return asyncio.run(run_console(options))


async def run_console(options: StationOptions) -> int:
    """Run the console until its window closes (or a screenshot driver has its picture)."""
    from kivy.app import App
    from kivy.clock import Clock
    from kivy.core.text import LabelBase
    from kivy.core.window import Window
    from kivy.uix.boxlayout import BoxLayout
    from kivy.uix.button import Button
    from kivy.uix.label import Label
    from kivy.uix.textinput import TextInput

    from vaxflow.screens.station.console import StationScreen
    from vaxflow.screens.station.signin import StaffBar, StaffSignInScreen

    path = cjk_font_path()
    font = FONT if path else "Roboto"
    if path is not None:
        LabelBase.register(FONT, fn_regular=str(path), fn_bold=str(path))
    client = SiteClient(
        options.server,
        options.token,
        device=f"station-{options.station}",
        ca=options.settings.server.tls_ca,
    )
    ready = asyncio.Event()
    holder: dict[str, StationConsole] = {}
    readers: list[StationIdReader] = []  # the ID-card reader, once a console exists
    reading: list[asyncio.Task[None]] = []
    settings = options.settings
    lang = options.language
    names = SiteNames(options.settings, lang)
    staff = StaffSignIn(client, now=time.monotonic, language=lang)
    signing_in: dict[str, Any] = {}  # the sign-in screen while it is shown
    asked = asyncio.Event()
    background: set[asyncio.Future[None]] = set()
    people_sign_in = settings.staff_sign_in.required or (
        any("station" in person.roles for person in settings.staff) and not options.vaccinator
    )

    class StationApp(App):  # type: ignore[misc]
        title = f"vaxflow station {options.station}"

        def __init__(self, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self.font = font
            self.u = 20.0

        def build(self) -> Any:
            if people_sign_in:
                return self._staff_frame()
            if options.vaccinator:
                return self._console(options.vaccinator)
            root = BoxLayout(orientation="vertical", padding=80, spacing=20)
            name = TextInput(
                hint_text=words("station.vaccinator", lang),
                multiline=False,
                font_name=font,
                font_size=32,
            )
            go = Button(
                text=words("station.sign_in", lang), font_name=font, font_size=32, size_hint_y=0.4
            )
            heading = words("station.heading", lang, id=names.station(options.station))
            root.add_widget(Label(text=heading, font_name=font, font_size=44))
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
                title=words("signin.title", lang, id=names.station(options.station)),
                signed_in=self._staff_signed_in,
                font=font,
            )
            signing_in["screen"] = screen
            asked.set()
            self.frame.add_widget(screen)

        def _staff_signed_in(self) -> None:
            person = staff.view.person
            console = self._console(person.label if person else "")
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
            console = StationConsole(client, options.station, vaccinator, language=lang)
            holder["console"] = console
            screen = StationScreen(console, font=font, names=names)
            if options.id_reader and not readers:
                readers.append(StationIdReader(console, options.id_reader))
                reading.append(asyncio.ensure_future(readers[0].run()))
            for reader in readers:
                reader.console, reader.enabled = console, True
            ready.set()
            screen.act("refresh")
            return screen

    app = StationApp()
    shot: asyncio.Task[None] | None = None
    if options.screenshot:
        picture = options.screenshot

        async def take() -> None:
            """Open, call, verify: a picture of the console with a person to vaccinate."""
            await ready.wait()
            console = holder["console"]
            await console.refresh()
            view = console.view
            if view.station and view.station.state == "closed":
                await asyncio.sleep(1.0)  # the closed station with today's lots: NAME-open.png
                closed = picture.with_name(f"{picture.stem}-open{picture.suffix}")
                made = Path(Window.screenshot(name=str(closed)))
                await asyncio.to_thread(made.replace, closed)
                lot = view.lots[0].lot if view.lots else "LOT-SHOT-01"
                await console.open(view.products[0], lot)
            if view.can_call:
                await console.call_next()
            if view.called and readers:  # the reader verifies: wait for it (or its words)
                for _ in range(100):
                    if view.person or view.device_warning:
                        break
                    await asyncio.sleep(0.1)
            elif view.called:
                await console.verify(view.called.ticket)
            await asyncio.sleep(1.0)
            made = Path(Window.screenshot(name=str(picture)))
            await asyncio.to_thread(made.replace, picture)
            print(f"screenshot {picture}", flush=True)
            app.stop()

        shot = asyncio.create_task(take())
    signing: asyncio.Task[None] | None = None
    if options.screenshot_sign_in:
        sign_in_picture = options.screenshot_sign_in
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
            made = Path(Window.screenshot(name=str(sign_in_picture)))
            await asyncio.to_thread(made.replace, sign_in_picture)
            print(f"sign-in screenshot {sign_in_picture}: {staff.view.error}", flush=True)
            for digit in pin:
                staff.press(digit)
            screen.submit()
            await ready.wait()
            signed_in = staff.view.person
            print(f"signed in {signed_in.label if signed_in else None}", flush=True)
            if not options.screenshot:
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
