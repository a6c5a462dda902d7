"""The attract screen: language, the elderly switch, "scan your booking QR" with an animation."""

from __future__ import annotations

from pathlib import Path

from kivy.lang import Builder

from vaxflow.screens.kiosk.widgets import KioskScreen


class AttractScreen(KioskScreen):
    """The attract screen."""


Builder.load_file(str(Path(__file__).with_suffix(".kv")))
