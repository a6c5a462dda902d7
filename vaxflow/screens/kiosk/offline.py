"""The server cannot be reached: a clear message while the kiosk retries."""

from __future__ import annotations

from pathlib import Path

from kivy.lang import Builder

from vaxflow.screens.kiosk.widgets import KioskScreen


class OfflineScreen(KioskScreen):
    """The server cannot be reached."""


Builder.load_file(str(Path(__file__).with_suffix(".kv")))
