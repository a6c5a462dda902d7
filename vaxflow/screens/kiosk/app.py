"""The Kivy kiosk app: one asyncio loop for the UI, the devices and the server client.

`run_app` configures Kivy (kiosk mode: fullscreen, no cursor, Escape does not exit,
rotation), builds the shell from the site file and device URLs, and runs
`App.async_run(async_lib="asyncio")` next to the shell. A `driver` coroutine (the tour,
the GUI tests) may drive the running app and take screenshots. The shell itself is wired
Kivy-free in `vaxflow.kiosk.wiring`; `kiosk_shell` gives it these screens' words.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from vaxflow.config import Settings
from vaxflow.hardware.fonts import cjk_font_path
from vaxflow.kiosk.shell import KioskShell
from vaxflow.kiosk.wiring import AppOptions, make_shell
from vaxflow.queue.client.site import SiteClient
from vaxflow.screens.kiosk.texts import spoken_words, ticket_view

log = logging.getLogger(__name__)

Snap = Callable[[Path], Awaitable[Path]]
Driver = Callable[[KioskShell, Snap], Awaitable[int]]


def configure_kivy(options: AppOptions) -> None:
    """Kivy settings that must be made before its window exists."""
    os.environ.setdefault("KIVY_NO_ARGS", "1")
    os.environ.setdefault("KIVY_LOG_MODE", "MIXED")
    from kivy.config import Config

    Config.set("kivy", "exit_on_escape", "0")
    Config.set("kivy", "log_level", "warning")
    Config.set("graphics", "maxfps", "30")  # enough for the animations; leaves the loop free
    Config.set("graphics", "rotation", str(options.rotation))
    Config.set("input", "mouse", "mouse,disable_multitouch")
    if options.fullscreen:
        Config.set("graphics", "fullscreen", "auto")
        Config.set("graphics", "borderless", "1")
        Config.set("graphics", "show_cursor", "0")
    else:
        Config.set("graphics", "fullscreen", "0")
        Config.set("graphics", "width", str(options.size[0]))
        Config.set("graphics", "height", str(options.size[1]))
        Config.set("graphics", "resizable", "0")


_FONT_REGISTERED = False


def register_font() -> str:
    """Register the kiosk font once: a CJK font from the system, else Kivy's own (Latin)."""
    global _FONT_REGISTERED
    from kivy.core.text import LabelBase
    from kivy.resources import resource_find

    from vaxflow.screens.kiosk.widgets import FONT_NAME

    path = cjk_font_path()
    if path is None:
        log.warning("no CJK font found (install fonts-wqy-microhei): Chinese will not show")
        fallback = resource_find("data/fonts/Roboto-Regular.ttf")
        source = str(fallback)
    else:
        source = str(path)
    if not _FONT_REGISTERED:
        LabelBase.register(FONT_NAME, fn_regular=source, fn_bold=source)
        _FONT_REGISTERED = True
    return source


def unit_for(size: tuple[float, float]) -> float:
    """The size unit (pixels) for a window: about 1/40 of a portrait screen's height."""
    width, height = size
    return max(12.0, min(width / 22.0, height / 40.0))


def kiosk_shell(
    settings: Settings, options: AppOptions, client: SiteClient | None = None
) -> KioskShell:
    """The shell as `vaxflow kiosk` runs it: the kiosk's wiring given these screens' words."""
    return make_shell(settings, options, client, ticket_view=ticket_view, spoken_words=spoken_words)


def _kiosk_app_class() -> type[Any]:
    from kivy.app import App
    from kivy.core.window import Window

    from vaxflow.kiosk.flow import State
    from vaxflow.screens.kiosk.registry import build_manager, screen_name
    from vaxflow.screens.kiosk.viewmodel import KioskViewModel

    class KioskApp(App):  # type: ignore[misc]
        """Renders the shell's state; touches go back to the shell."""

        title = "vaxflow kiosk"

        def __init__(self, shell: KioskShell, kiosk_mode: bool, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self.shell = shell
            self.kiosk_mode = kiosk_mode
            self.vm: KioskViewModel | None = None

        def build(self) -> Any:
            register_font()
            vm = KioskViewModel(send=self.shell.touch)
            self.vm = vm
            vm.set_unit(unit_for(Window.size))
            Window.bind(size=lambda _w, size: vm.set_unit(unit_for(size)))
            Window.bind(on_touch_down=self._touched)
            if self.kiosk_mode:
                Window.bind(on_request_close=lambda *_a, **_k: True)
            self._bind_hid_scanner()

            def show(state: State) -> None:
                vm.update(state, screen_name(state.screen))

            self.shell.listeners.append(show)
            show(self.shell.state)
            return build_manager(vm)

        def _touched(self, *_args: Any) -> None:
            self.shell.activity()

        def _bind_hid_scanner(self) -> None:
            from vaxflow.kiosk.wedge import bind_window_scanner, feeds_from_window

            scanner = self.shell.devices.scanner
            if feeds_from_window(scanner):
                bind_window_scanner(Window, scanner)

    return KioskApp


async def _running(within: float = 30.0) -> None:
    """Wait until Kivy's loop runs and has drawn a frame (a stop before that is lost)."""
    from kivy.clock import Clock

    drawn = asyncio.Event()
    Clock.schedule_once(lambda _dt: Clock.schedule_once(lambda _dt2: drawn.set(), 0), 0)
    async with asyncio.timeout(within):
        await drawn.wait()


async def screenshot(path: Path) -> Path:
    """Save the window as a PNG after the next frames are drawn; say on stdout each label
    whose words do not fit its box or the window (`OVERFLOW <file>: ...`, for the tests)."""
    await asyncio.sleep(0.35)
    _grab(path)
    from kivy.core.window import Window

    from vaxflow.screens.fit import overflowing

    for root in Window.children:
        for cut in overflowing(root, (float(Window.width), float(Window.height))):
            print(f"OVERFLOW {path.parent.name}/{path.name}: {cut}", flush=True)
    return path


def _grab(path: Path) -> None:
    """Kivy names the file `<stem>0001.png`; move it to `path`. Must run on the UI thread."""
    from kivy.core.window import Window

    path.parent.mkdir(parents=True, exist_ok=True)
    made = Path(Window.screenshot(name=str(path)))
    made.replace(path)


async def run_app(shell: KioskShell, options: AppOptions, driver: Driver | None = None) -> int:
    """Run the Kivy app and the shell on the current loop until the app stops."""
    configure_kivy(options)
    app = _kiosk_app_class()(shell, kiosk_mode=options.fullscreen)
    started = asyncio.Event()
    app.bind(on_start=lambda *_a: started.set())
    app_task = asyncio.ensure_future(app.async_run(async_lib="asyncio"))
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, app.stop)
    code = 0
    try:
        waiter = asyncio.ensure_future(started.wait())
        await asyncio.wait({waiter, app_task}, return_when=asyncio.FIRST_COMPLETED)
        if app_task.done():
            waiter.cancel()
            await app_task
            return 1
        await _running()
        await shell.start()
        if driver is not None:
            try:
                code = await driver(shell, screenshot)
            finally:
                app.stop()
        await app_task
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.remove_signal_handler(sig)
        await shell.stop()
    return code
