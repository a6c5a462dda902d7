"""The ticket is being printed; its number is already shown."""

from __future__ import annotations

from pathlib import Path

from kivy.lang import Builder

from vaxflow.screens.kiosk.widgets import KioskScreen


class PrintingScreen(KioskScreen):
    """The ticket is being printed; its number is already shown."""


Builder.load_file(str(Path(__file__).with_suffix(".kv")))
