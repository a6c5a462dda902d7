"""ID card read first: scan the booking, or choose a walk-in."""

from __future__ import annotations

from pathlib import Path

from kivy.lang import Builder

from vaxflow.screens.kiosk.widgets import KioskScreen


class WaitBookingScreen(KioskScreen):
    """ID card read first."""


Builder.load_file(str(Path(__file__).with_suffix(".kv")))
