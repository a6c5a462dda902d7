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


class LiveBoard(BoxLayout):  # type: ignore[misc]
    """A board drawn from `model`; `now` is this display's clock (epoch seconds)."""

    font = StringProperty("Roboto")
    u = NumericProperty(16)
    status = StringProperty("")
    clock = StringProperty("")
    online = BooleanProperty(False)

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

    def clock_text(self) -> str:
        """The server's time of day in the site's zone (this display's zone until known)."""
        return site_time(self.now() + self.model.offset, self.model.zone)
