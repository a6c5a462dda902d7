"""A minimal Kivy app fed by real X key events: the kiosk's own `hid://` wiring, nothing else.

Run as `python tests/kiosk/wedge_window.py URL`: it opens a window titled "wedge-test", binds
`HidScanner(URL)` with `vaxflow.kiosk.wedge.bind_window_scanner` (the function the kiosk app
uses), prints `READY`, then one line per outcome: `SCAN <json text>`, `BAD <reason>` for a
rejected read, `TYPED <json text>` for typing handed back. It stops on stdin EOF.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from typing import cast


async def main(url: str) -> None:
    os.environ.setdefault("KIVY_NO_ARGS", "1")
    from kivy.config import Config

    Config.set("graphics", "maxfps", "30")  # as the kiosk: keys come one batch a frame
    Config.set("graphics", "width", "320")
    Config.set("graphics", "height", "200")
    from kivy.app import App
    from kivy.core.window import Window
    from kivy.uix.label import Label

    from vaxflow.hardware.scan_text import InvalidScan
    from vaxflow.hardware.urls import open_device
    from vaxflow.kiosk.wedge import bind_window_scanner, feeds_from_window

    scanner = open_device("scanner", url)
    assert feeds_from_window(cast(object, scanner))  # kept a HidScanner, not narrowed
    scanner.on_release = lambda text: print("TYPED", json.dumps(text), flush=True)
    await scanner.open()
    bind_window_scanner(Window, scanner)

    class WedgeApp(App):  # type: ignore[misc]
        title = "wedge-test"

        def build(self) -> Label:
            return Label(text="wedge")

    app = WedgeApp()
    started = asyncio.Event()
    app.bind(on_start=lambda *_a: started.set())
    task = asyncio.ensure_future(app.async_run(async_lib="asyncio"))
    await started.wait()
    await asyncio.sleep(0.5)
    print("READY", flush=True)

    async def reads() -> None:
        while True:
            try:
                scan = await scanner.read(0.5)
            except InvalidScan as err:
                print("BAD", err.reason, flush=True)
                continue
            if scan is not None:
                print("SCAN", json.dumps(scan.text), flush=True)

    reader = asyncio.ensure_future(reads())
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, sys.stdin.read)
    health = await scanner.health()
    print("HEALTH", json.dumps([health.state.value, health.reason, health.detail]), flush=True)
    reader.cancel()
    app.stop()
    await task


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1] if len(sys.argv) > 1 else "hid://"))
