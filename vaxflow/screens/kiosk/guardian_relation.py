"""How the guardian is related to the child: one big button each."""

from __future__ import annotations

from pathlib import Path

from kivy.lang import Builder

from vaxflow.screens.kiosk.widgets import KioskScreen


class GuardianRelationScreen(KioskScreen):
    """How the guardian is related to the child: one big button each."""


Builder.load_file(str(Path(__file__).with_suffix(".kv")))
