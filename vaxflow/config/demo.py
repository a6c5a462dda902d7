"""The demo site shipped inside the package, read as package data so that an installed
vaxflow (a wheel, not only this source tree) runs `vaxflow demo` and the other commands'
defaults."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from importlib.resources import as_file, files
from pathlib import Path

from vaxflow.config.load import load_settings_text
from vaxflow.config.schema import Settings

DEMO_NAME = "vaxflow/config/demo.toml"
"""How messages and help texts name the built-in demo site."""


def demo_text() -> str:
    """The built-in demo site file's TOML text (to read, or to copy as a starting point)."""
    return files("vaxflow.config").joinpath("demo.toml").read_text(encoding="utf-8")


def demo_settings() -> Settings:
    """The built-in demo site's settings."""
    return load_settings_text(demo_text(), DEMO_NAME)


@contextlib.contextmanager
def demo_path() -> Iterator[Path]:
    """A file path of the built-in demo site, for a child process's `--config`; valid only
    inside the `with` (an installation from a zip gets a temporary copy)."""
    with as_file(files("vaxflow.config").joinpath("demo.toml")) as path:
        yield path
