"""`vaxflow board observation --server URL`: the observation board on a native (Kivy) display.

vaxflow board observation --server http://10.0.0.2:8080 [--token T] [--windowed --size WxH]
    [--screenshot PNG --after SECONDS]    # take one picture after a while, then quit
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
from pathlib import Path
from typing import Any

from vaxflow.screens.kivy_window import configure_window

log = logging.getLogger(__name__)

FONT = "VaxflowBoard"


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "board",
        help="run a board on a native display (Kivy)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("which", choices=("observation",), help="which board")
    parser.add_argument("--server", required=True, help="site server URL")
    parser.add_argument(
        "--token",
        default=os.environ.get("VAXFLOW_BOARD_TOKEN"),
        help="board token (default: $VAXFLOW_BOARD_TOKEN)",
    )
    parser.add_argument("--windowed", action="store_true", help="a window, not fullscreen")
    parser.add_argument("--size", default="1920x1080", help="window size WxH when windowed")
    parser.add_argument("--screenshot", type=Path, help="save one PNG and quit")
    parser.add_argument("--after", type=float, default=3.0, help="seconds before --screenshot")
    parser.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    if not args.token:
        print("give the board token with --token or $VAXFLOW_BOARD_TOKEN", flush=True)
        return 2
    configure_window(args.size, windowed=bool(args.windowed or args.screenshot), hide_cursor=True)
    return asyncio.run(_board(args))


async def _board(args: argparse.Namespace) -> int:
    from kivy.app import App
    from kivy.core.text import LabelBase
    from kivy.core.window import Window

    from vaxflow.hardware.fonts import cjk_font_path
    from vaxflow.queue.board_feed import ObservationModel, follow
    from vaxflow.screens.boards.observation import ObservationBoard

    font = cjk_font_path()
    if font is None:
        log.warning("no CJK font found (install fonts-wqy-microhei): Chinese will not show")
    else:
        LabelBase.register(FONT, fn_regular=str(font), fn_bold=str(font))
    model = ObservationModel()
    board: list[ObservationBoard] = []

    class BoardApp(App):  # type: ignore[misc]
        title = "vaxflow observation board"

        def build(self) -> ObservationBoard:
            board.append(ObservationBoard(model, font=FONT if font else "Roboto"))
            return board[0]

    app = BoardApp()

    def changed() -> None:
        if board:
            board[0].refresh()

    feed = asyncio.create_task(follow(args.server.rstrip("/"), args.token, model, changed))
    shot: asyncio.Task[None] | None = None
    if args.screenshot:

        async def take() -> None:
            await asyncio.sleep(args.after)
            args.screenshot.parent.mkdir(parents=True, exist_ok=True)
            made = Path(Window.screenshot(name=str(args.screenshot)))
            await asyncio.to_thread(made.replace, args.screenshot)
            print(f"screenshot {args.screenshot}", flush=True)
            app.stop()

        shot = asyncio.create_task(take())
    try:
        await app.async_run(async_lib="asyncio")
    finally:
        for task in (feed, shot):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
    return 0
