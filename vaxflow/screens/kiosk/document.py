"""The document choice for people without a resident ID card: passport or permit."""

from __future__ import annotations

from pathlib import Path

from kivy.lang import Builder

from vaxflow.screens.kiosk.widgets import KioskScreen


class DocumentScreen(KioskScreen):
    """The document screen."""


Builder.load_file(str(Path(__file__).with_suffix(".kv")))
