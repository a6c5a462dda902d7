"""One health question per screen, answered yes or no."""

from __future__ import annotations

from pathlib import Path

from kivy.lang import Builder

from vaxflow.screens.kiosk.widgets import KioskScreen


class QuestionScreen(KioskScreen):
    """One health question per screen, answered yes or no."""


Builder.load_file(str(Path(__file__).with_suffix(".kv")))
