"""Waiting for the server (checking the booking, issuing the ticket)."""

from __future__ import annotations

from pathlib import Path

from kivy.lang import Builder

from vaxflow.screens.kiosk.widgets import KioskScreen


class CheckingScreen(KioskScreen):
    """Waiting for the server (checking the booking, issuing the ticket)."""


Builder.load_file(str(Path(__file__).with_suffix(".kv")))
