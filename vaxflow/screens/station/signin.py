"""Kivy staff sign-in before the station console, and the bar that shows who is signed in.

Both bind to a `StaffSignIn` view-model (vaxflow/queue/client/staff_signin.py); no I/O here.
Kept apart from the console screen so the console's own widgets stay as they are.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kivy.factory import Factory
from kivy.lang import Builder
from kivy.properties import BooleanProperty, NumericProperty, StringProperty
from kivy.uix.boxlayout import BoxLayout

from vaxflow.queue.client.staff_signin import StaffSignIn
from vaxflow.queue.client.words import words

Builder.load_file(str(Path(__file__).with_suffix(".kv")))

KEYS = ("1", "2", "3", "4", "5", "6", "7", "8", "9", "clear", "0", "back")
#: The keypad's keys that are words (message ids of the catalogue); the rest are digits.
KEY_LABELS = {"clear": "signin.clear", "back": "signin.back"}


class StaffSignInScreen(BoxLayout):  # type: ignore[misc]
    """Staff number, a PIN keypad (the PIN is shown only as dots), errors from the server."""

    font = StringProperty("Roboto")
    language = StringProperty("zh-CN")
    u = NumericProperty(16)
    title_text = StringProperty("")
    pin_dots = StringProperty("")
    error_text = StringProperty("")
    busy = BooleanProperty(False)

    def __init__(
        self,
        model: StaffSignIn,
        *,
        title: str,
        signed_in: Callable[[], None],
        font: str = "Roboto",
        **kwargs: Any,
    ) -> None:
        self.model = model
        super().__init__(language=model.language, **kwargs)
        self.font = font
        self.title_text = title
        self.signed_in = signed_in
        self.tasks: set[asyncio.Task[None]] = set()
        for key in KEYS:
            label = KEY_LABELS.get(key)
            button = Factory.PadButton(text=words(label, self.language) if label else key)
            button.bind(on_release=lambda _b, k=key: model.press(k))
            self.ids.keypad.add_widget(button)
        self.ids.staff_id.bind(on_text_validate=lambda *_a: self.submit())
        self.bind(size=lambda *_a: self._scale())
        model.changed = self.redraw
        self.redraw()

    def _scale(self) -> None:
        width, height = self.size
        self.u = max(12.0, min(width / 40.0, height / 34.0))

    def redraw(self) -> None:
        v = self.model.view
        self.pin_dots = v.pin_dots
        self.error_text = v.error
        self.busy = v.busy

    def submit(self) -> None:
        async def run() -> None:
            if await self.model.submit():
                self.signed_in()

        task = asyncio.ensure_future(run())
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)


class StaffBar(BoxLayout):  # type: ignore[misc]
    """Who is signed in, and the sign-out button."""

    font = StringProperty("Roboto")
    language = StringProperty("zh-CN")
    u = NumericProperty(16)
    name_text = StringProperty("")

    def __init__(
        self, model: StaffSignIn, *, signed_out: Callable[[], None], font: str = "Roboto", **kw: Any
    ) -> None:
        super().__init__(language=model.language, **kw)
        self.model = model
        self.font = font
        self.signed_out = signed_out
        person = model.view.person
        self.name_text = person.label if person else ""
        self.tasks: set[asyncio.Task[None]] = set()

    def sign_out(self) -> None:
        async def run() -> None:
            await self.model.sign_out()
            self.signed_out()

        task = asyncio.ensure_future(run())
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
