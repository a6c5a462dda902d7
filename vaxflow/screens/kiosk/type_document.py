"""Typing a passport or permit: the field, what is typed so far, a large on-screen keyboard."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kivy.lang import Builder
from kivy.properties import DictProperty, ObjectProperty, StringProperty
from kivy.uix.gridlayout import GridLayout

from vaxflow.screens.kiosk.widgets import BigButton, KioskScreen

#: Keys per row: digits first, then the letters in keyboard order.
ROWS = ("1234567890", "QWERTYUIOP", "ASDFGHJKL", "ZXCVBNM", " -'")


class KeyBoard(GridLayout):  # type: ignore[misc]
    """Big keys for the characters of `keys` only (the field's keyboard); each sends `key`."""

    vm = ObjectProperty(None, allownone=True, rebind=True)
    keys = StringProperty("")
    t = DictProperty({})

    def on_t(self, *_args: Any) -> None:
        self.on_keys()

    def on_keys(self, *_args: Any) -> None:
        self.clear_widgets()
        rows = [
            [c for c in row if c in self.keys] for row in ROWS if any(c in self.keys for c in row)
        ]
        self.cols = max((len(row) for row in rows), default=1)
        for row in rows:
            for char in row + [""] * (self.cols - len(row)):
                label = (self.t or {}).get("b_space", " ") if char == " " else char
                key = BigButton(vm=self.vm, text=label, kind="primary" if char else "quiet")
                key.disabled = not char
                key.opacity = 1 if char else 0
                key.size_hint_y = 1  # the row's height (row_force_default), in elderly mode too
                key.bind(on_release=lambda _b, c=char: self.vm.act("key", c) if self.vm else None)
                self.add_widget(key)


class TypingScreen(KioskScreen):
    """The typing screen."""


Builder.load_file(str(Path(__file__).with_suffix(".kv")))
