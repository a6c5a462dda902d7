"""What the subcommands share: the site file read one way, and one way for a command to stop."""

from __future__ import annotations

from pathlib import Path

from vaxflow.config import ConfigError, Settings, load_settings


class CommandError(Exception):
    """A problem the operator can fix (bad file, bad date, no database): `main` prints the
    message without a traceback and exits with `status`."""

    def __init__(self, message: str, status: int = 1) -> None:
        super().__init__(message)
        self.status = status


def site_settings(path: str | Path, *, status: int = 1) -> Settings:
    """The site file's settings; a missing or invalid file stops the command with its problems."""
    try:
        return load_settings(path)
    except ConfigError as err:
        raise CommandError(str(err), status) from err
