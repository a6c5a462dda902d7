"""The ticket: big number, lane, where to go, estimated wait, the ticket QR."""

from __future__ import annotations

from pathlib import Path

from kivy.lang import Builder

from vaxflow.screens.kiosk.widgets import KioskScreen


class TicketScreen(KioskScreen):
    """The ticket."""


Builder.load_file(str(Path(__file__).with_suffix(".kv")))
