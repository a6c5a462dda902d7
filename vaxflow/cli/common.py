"""What the subcommands share: the site file read one way, and one way for a command to stop."""

from __future__ import annotations

import argparse
from pathlib import Path

from vaxflow.config import DEMO_NAME, ConfigError, Settings, demo_settings, load_settings

DEMO_HELP = f"the demo site built into vaxflow, {DEMO_NAME}"
"""How a `--config` help text names its default."""


class CommandError(Exception):
    """A problem the operator can fix (bad file, bad date, no database): `main` prints the
    message without a traceback and exits with `status`."""

    def __init__(self, message: str, status: int = 1) -> None:
        super().__init__(message)
        self.status = status


def site_settings(path: str | Path | None, *, status: int = 1) -> Settings:
    """The site file's settings (None: the built-in demo site); a missing or invalid file stops
    the command with its problems."""
    try:
        return demo_settings() if path is None else load_settings(path)
    except ConfigError as err:
        raise CommandError(str(err), status) from err


def shared_tokens_problem(settings: Settings, file: str | Path) -> str | None:
    """Why a real site's file may not be served or passed as checked: machines sharing a
    token (`[tokens] kiosk = [...]`) name no device, so every station could read every
    person's data as the station it claims to be. None when the file is fine (or a demo)."""
    shared = settings.shared_device_tokens()
    if not shared or settings.is_demo:
        return None
    return (
        f"{file}: shared device tokens for {', '.join(shared)}: on a real site every kiosk, "
        "station, observer console and board has its own [device_tokens.<name>] "
        "(kind, and station for a station), so the server knows which device asks "
        '(`vaxflow init-site` writes them; a rehearsal site\'s id starts with "demo")'
    )


def port_number(text: str) -> int:
    """argparse type: a TCP port, 0 (any free one) to 65535, said in one line when not."""
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{port} is not a port (0-65535)")
    return port
