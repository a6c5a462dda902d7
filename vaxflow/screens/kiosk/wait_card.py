"""Booking read: place the ID card on the reader."""

from __future__ import annotations

from pathlib import Path

from kivy.lang import Builder

from vaxflow.screens.kiosk.widgets import KioskScreen


class WaitCardScreen(KioskScreen):
    """Booking read."""


Builder.load_file(str(Path(__file__).with_suffix(".kv")))
