"""What the subcommands share: the site file read one way, and one way for a command to stop."""

from __future__ import annotations

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
