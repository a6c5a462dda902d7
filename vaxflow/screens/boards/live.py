"""What every native board shares: its font and unit size, the feed's status line, the clock,
and a redraw twice a second and whenever the window changes size."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from kivy.clock import Clock
from kivy.properties import BooleanProperty, NumericProperty, StringProperty
from kivy.uix.boxlayout import BoxLayout

from vaxflow.queue.client.board_feed import site_time
from vaxflow.queue.client.words import words


class LiveBoard(BoxLayout):  # type: ignore[misc]
    """A board drawn from `model`; `now` is this display's clock (epoch seconds)."""

    font = StringProperty("Roboto")
    language = StringProperty("zh-CN")
    u = NumericProperty(16)
    status = StringProperty("")
    clock = StringProperty("")
    online = BooleanProperty(False)
    refused = BooleanProperty(False)

    def __init__(
        self,
        model: Any,
        *,
        font: str = "Roboto",
        language: str = "zh-CN",
        now: Callable[[], float] = time.time,
        **kwargs: Any,
    ) -> None:
        super().__init__(language=language, **kwargs)
        self.model = model
        self.font = font
        self.now = now
        self.bind(size=lambda *_a: self.refresh())
        Clock.schedule_interval(lambda _dt: self.refresh(), 0.5)

    def refresh(self) -> None:
        raise NotImplementedError

    def show_refused(self) -> bool:
        """When the server refused the token: the whole board becomes one large message (the
        feed has stopped; nothing will change until someone fixes the token). Returns whether
        the board is in that state."""
        if not getattr(self.model, "refused", False):
            return False
        if not self.refused:
            from kivy.uix.label import Label

            self.refused = True
            self.clear_widgets()
            message = Label(
                text=words("board.refused", self.language),
                font_name=self.font,
                color=(1, 0.45, 0.45, 1),
                halign="center",
                valign="middle",
            )
            message.bind(size=lambda label, size: setattr(label, "text_size", size))
            self.bind(u=lambda _w, u: setattr(message, "font_size", u * 2.2))
            message.font_size = self.u * 2.2
            self.add_widget(message)
        self.u = max(12.0, min(self.width / 56.0, self.height / 30.0))
        return True

    def t(self, key: str, **params: Any) -> str:
        """The board's words for `key` in its language."""
        return words(key, self.language, **params)

    def status_text(self) -> str:
        """The feed's state in a few words: live, or offline and reconnecting."""
        return self.t("board.live" if self.model.online else "board.offline")

    def clock_text(self) -> str:
        """The server's time of day in the site's zone (this display's zone until known)."""
        return site_time(self.now() + self.model.offset, self.model.zone)
