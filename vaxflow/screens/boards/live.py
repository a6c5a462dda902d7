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

#: What a board shows when the server refuses its token: stop, and say what to fix.
REFUSED_TEXT = (
    "看板令牌被拒绝\n看板令牌被拒絕\nThis board's token is refused\n\n"
    "请检查 --token 或 VAXFLOW_BOARD_TOKEN\nCheck --token or VAXFLOW_BOARD_TOKEN"
)


class LiveBoard(BoxLayout):  # type: ignore[misc]
    """A board drawn from `model`; `now` is this display's clock (epoch seconds)."""

    font = StringProperty("Roboto")
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
        now: Callable[[], float] = time.time,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
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
                text=REFUSED_TEXT,
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

    def clock_text(self) -> str:
        """The server's time of day in the site's zone (this display's zone until known)."""
        return site_time(self.now() + self.model.offset, self.model.zone)
