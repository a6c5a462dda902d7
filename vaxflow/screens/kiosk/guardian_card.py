"""The guardian's own ID card, for a child under 18."""

from __future__ import annotations

from pathlib import Path

from kivy.lang import Builder

from vaxflow.screens.kiosk.widgets import KioskScreen


class GuardianCardScreen(KioskScreen):
    """The guardian's own ID card, for a child under 18."""


Builder.load_file(str(Path(__file__).with_suffix(".kv")))
