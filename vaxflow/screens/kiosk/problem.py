"""A refusal: the reason in plain words and which desk to go to."""

from __future__ import annotations

from pathlib import Path

from kivy.lang import Builder

from vaxflow.screens.kiosk.widgets import KioskScreen


class ProblemScreen(KioskScreen):
    """A refusal."""


Builder.load_file(str(Path(__file__).with_suffix(".kv")))
