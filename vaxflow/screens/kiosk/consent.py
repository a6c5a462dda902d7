"""The informed consent text, agree or not."""

from __future__ import annotations

from pathlib import Path

from kivy.lang import Builder

from vaxflow.screens.kiosk.widgets import KioskScreen


class ConsentScreen(KioskScreen):
    """The informed consent text, agree or not."""


Builder.load_file(str(Path(__file__).with_suffix(".kv")))
