"""The booking's answers on one screen: nothing changed (go on) or something did (ask again)."""

from __future__ import annotations

from pathlib import Path

from kivy.lang import Builder

from vaxflow.screens.kiosk.widgets import KioskScreen


class ConfirmAnswersScreen(KioskScreen):
    """The confirm answers screen."""


Builder.load_file(str(Path(__file__).with_suffix(".kv")))
