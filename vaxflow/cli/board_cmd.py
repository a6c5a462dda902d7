"""`vaxflow board observation|calls --server URL`: a board on a native (Kivy) display.

vaxflow board observation --server http://10.0.0.2:8080 [--token T] [--windowed --size WxH]
    [--lang zh-CN|zh-TW|en] [--config FILE]  # the board's language (default: the site file's
                                             # first language, else zh-CN)
    [--screenshot PNG --after SECONDS]    # one picture after a while (or on SIGUSR1), then quit
vaxflow board calls --server URL [--token T] [--keep N] [--sound auto|off] [--player CMD]
    # the call board: chime and spoken call through pw-play/paplay/aplay when there is a
    # sound device (--player "CMD ARGS" names the program; the WAV file is its last argument)
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import shlex
import signal
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vaxflow.config.languages import DEFAULT_LANGUAGE, LANGUAGES
from vaxflow.screens.kivy_window import configure_window

if TYPE_CHECKING:
    from vaxflow.queue.client.board_feed import CallsModel

log = logging.getLogger(__name__)

FONT = "VaxflowBoard"


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "board",
        help="run a board on a native display (Kivy)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("which", choices=("observation", "calls"), help="which board")
    parser.add_argument("--server", required=True, help="site server URL")
    parser.add_argument(
        "--token",
        default=os.environ.get("VAXFLOW_BOARD_TOKEN"),
        help="board token (default: $VAXFLOW_BOARD_TOKEN)",
    )
    parser.add_argument(
        "--ca", help="the site CA file (server.tls_ca) an https server's certificate must match"
    )
    parser.add_argument(
        "--lang", choices=LANGUAGES, help="the board's language (default: the site's first)"
    )
    parser.add_argument("--config", help="the site file, for its first language (optional)")
    parser.add_argument("--windowed", action="store_true", help="a window, not fullscreen")
    parser.add_argument("--size", default="1920x1080", help="window size WxH when windowed")
    parser.add_argument("--keep", type=int, default=8, help="calls board: calls kept per zone")
    parser.add_argument(
        "--sound",
        choices=("auto", "off"),
        default="auto",
        help="calls board: chime and spoken call when a sound device is there (default auto)",
    )
    parser.add_argument("--player", help='calls board: the WAV player command, e.g. "aplay -q"')
    parser.add_argument("--screenshot", type=Path, help="save one PNG and quit")
    parser.add_argument("--after", type=float, default=3.0, help="seconds before --screenshot")
    parser.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    if not args.token:
        print("give the board token with --token or $VAXFLOW_BOARD_TOKEN", flush=True)
        return 2
    if args.lang is None:
        from vaxflow.cli.common import site_settings

        site = site_settings(args.config).site if args.config else None
        args.lang = site.languages[0] if site else DEFAULT_LANGUAGE
    configure_window(args.size, windowed=bool(args.windowed or args.screenshot), hide_cursor=True)
    return asyncio.run(_board(args))


async def _board(args: argparse.Namespace) -> int:
    from kivy.app import App
    from kivy.core.text import LabelBase
    from kivy.core.window import Window

    from vaxflow.hardware.fonts import cjk_font_path

    font = cjk_font_path()
    if font is None:
        log.warning("no CJK font found (install fonts-wqy-microhei): Chinese will not show")
    else:
        LabelBase.register(FONT, fn_regular=str(font), fn_bold=str(font))
    font_name = FONT if font else "Roboto"
    base = args.server.rstrip("/")
    widget, tasks = (
        _observation(args, base, font_name)
        if args.which == "observation"
        else (_calls(args, base, font_name))
    )

    class BoardApp(App):  # type: ignore[misc]
        title = f"vaxflow {args.which} board"

        def build(self) -> Any:
            return widget()

    app = BoardApp()
    running = [asyncio.create_task(t) for t in tasks]
    if args.screenshot:
        now = asyncio.Event()  # SIGUSR1 takes the picture at once (tests, a site's support)
        asyncio.get_running_loop().add_signal_handler(signal.SIGUSR1, now.set)

        async def take() -> None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(now.wait(), args.after)
            args.screenshot.parent.mkdir(parents=True, exist_ok=True)
            made = Path(Window.screenshot(name=str(args.screenshot)))
            await asyncio.to_thread(made.replace, args.screenshot)
            print(f"screenshot {args.screenshot}", flush=True)
            app.stop()

        running.append(asyncio.create_task(take()))
    try:
        await app.async_run(async_lib="asyncio")
    finally:
        for task in running:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
    return 0


Built = tuple[Callable[[], Any], list[Any]]


def _observation(args: argparse.Namespace, base: str, font: str) -> Built:
    """The observation board's widget factory and the feed that keeps it current."""
    from vaxflow.queue.client.board_feed import ObservationModel, follow
    from vaxflow.screens.boards.observation import ObservationBoard

    model = ObservationModel()
    board: list[ObservationBoard] = []

    def build() -> ObservationBoard:
        board.append(ObservationBoard(model, font=font, language=args.lang))
        return board[0]

    def changed() -> None:
        if board:
            board[0].refresh()

    return build, [follow(base, args.token, model, changed, ca=args.ca)]


def _calls(args: argparse.Namespace, base: str, font: str) -> Built:
    """The call board's widget factory, its feed and (with a sound device) its announcer."""
    from vaxflow.hardware.audio import find_player
    from vaxflow.queue.client.board_feed import CallsModel, follow
    from vaxflow.screens.boards.calls import CallBoard

    model = CallsModel(keep_per_zone=max(1, args.keep))
    board: list[CallBoard] = []
    wake = asyncio.Event()
    player = None
    if args.sound == "auto":
        player = shlex.split(args.player) if args.player else find_player()
        if player is None:
            log.warning("no sound device or player (pw-play, paplay, aplay): calls are silent")

    def build() -> CallBoard:
        board.append(CallBoard(model, font=font, language=args.lang))
        return board[0]

    shown: list[tuple[str, int] | None] = [None]
    was_online = [False]

    def changed() -> None:
        if board:
            board[0].refresh()
            latest = model.latest()
            now_shown = (latest.ticket, latest.call_count) if latest else None
            if now_shown != shown[0] and board[0].latest_ticket == (
                latest.ticket if latest else ""
            ):
                shown[0] = now_shown
                if latest is not None:  # a line for operators' logs and the tests
                    print(
                        f"SHOWN {latest.ticket} {latest.station_id} {latest.call_count}", flush=True
                    )
        if model.online != was_online[0]:
            was_online[0] = model.online
            print("LIVE" if model.online else "OFFLINE", flush=True)
        if model.announcements:
            wake.set()

    tasks: list[Any] = [
        follow(base, args.token, model, changed, snapshot="/api/boards/calls", ca=args.ca)
    ]
    if player is not None:
        tasks.append(_announce(base, args.token, model, wake, player))
    return build, tasks


async def _announce(
    base: str, token: str, model: CallsModel, wake: asyncio.Event, player: list[str]
) -> None:
    """Chime, then the server's spoken call, for each live call in turn; never blocks the board."""
    import aiohttp

    from vaxflow.hardware.audio import chime_wav, play_wav
    from vaxflow.queue.client.board_feed import fetch_announcement

    chime = chime_wav()
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=15)) as http:
        while True:
            await wake.wait()
            wake.clear()
            for call in model.take_announcements():
                await play_wav(chime, player)
                wav = await fetch_announcement(http, base, token, call)
                if wav is not None:
                    await play_wav(wav, player)
                    print(f"announced {call.ticket}", flush=True)
