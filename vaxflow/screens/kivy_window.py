"""Kivy window settings for the native boards and consoles, set before Kivy opens a window."""

from __future__ import annotations

import os


def configure_window(size: str, *, windowed: bool, hide_cursor: bool) -> None:
    """Fullscreen for the site (optionally without a cursor), or a window of `size` (WxH)."""
    width, _, height = size.partition("x")
    os.environ.setdefault("KIVY_NO_ARGS", "1")
    os.environ.setdefault("KIVY_LOG_MODE", "MIXED")
    from kivy.config import Config

    Config.set("kivy", "log_level", "warning")
    if windowed:
        Config.set("graphics", "fullscreen", "0")
        Config.set("graphics", "width", width)
        Config.set("graphics", "height", height)
    else:
        Config.set("graphics", "fullscreen", "auto")
        if hide_cursor:
            Config.set("graphics", "show_cursor", "0")
