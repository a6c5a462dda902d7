"""No booking: offer a walk-in ticket while the day's places last."""

from __future__ import annotations

from pathlib import Path

from kivy.lang import Builder

from vaxflow.screens.kiosk.widgets import KioskScreen


class WalkInScreen(KioskScreen):
    """No booking."""


Builder.load_file(str(Path(__file__).with_suffix(".kv")))
