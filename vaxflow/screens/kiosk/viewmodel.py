"""The view-model every kiosk screen binds to: the flow's state turned into Kivy properties.

Screens read `t` (their translated words), `u` (the size unit in pixels, larger in elderly
mode), `elderly`, `language` and `qr` (the ticket QR texture), and call `act(action, value)`
for a touch. The app shell sets `send` and calls `update(state)`; nothing here does I/O.
"""

from __future__ import annotations

from collections.abc import Callable

from kivy.event import EventDispatcher
from kivy.graphics.texture import Texture
from kivy.properties import (
    BooleanProperty,
    DictProperty,
    NumericProperty,
    ObjectProperty,
    StringProperty,
)

from vaxflow.hardware.png_render import qr_image
from vaxflow.kiosk.flow import Action, State
from vaxflow.screens.kiosk.texts import screen_texts

#: Elderly mode makes every text and touch target this much larger.
ELDERLY_SCALE = 1.3


class KioskViewModel(EventDispatcher):  # type: ignore[misc]
    """What the screens show; `update` is the only writer."""

    t = DictProperty({})
    screen = StringProperty("attract")
    language = StringProperty("zh-CN")
    elderly = BooleanProperty(False)
    speaking = BooleanProperty(False)  # the voice is on (asked for, or elderly mode)
    u = NumericProperty(24.0)
    base_u = NumericProperty(24.0)
    qr = ObjectProperty(None, allownone=True)
    shown = ObjectProperty(("attract", {}))  # (screen name, its words): what the manager shows

    def __init__(self, send: Callable[[Action, str], None], **kwargs: object) -> None:
        super().__init__(**kwargs)
        self.send = send
        self._qr_payload = ""

    def act(self, action: str, value: str = "") -> None:
        """A touch on a screen."""
        self.send(Action(action), value)

    def set_unit(self, base: float) -> None:
        self.base_u = base
        self.u = base * (ELDERLY_SCALE if self.elderly else 1.0)

    def update(self, state: State, screen_name: str) -> None:
        self.t = screen_texts(state)
        self.language = state.language
        self.elderly = state.elderly
        self.speaking = state.speaking
        self.u = self.base_u * (ELDERLY_SCALE if state.elderly else 1.0)
        payload = state.ticket.qr if state.ticket is not None else ""
        if payload != self._qr_payload:
            self._qr_payload = payload
            self.qr = qr_texture(payload) if payload else None
        self.screen = screen_name
        self.shown = (screen_name, self.t)


def qr_texture(payload: str) -> Texture:
    """The ticket QR as a texture, drawn by the same renderer as printed tickets."""
    image = qr_image(payload, 8).convert("L")
    texture = Texture.create(size=image.size, colorfmt="luminance")
    texture.blit_buffer(image.tobytes(), colorfmt="luminance", bufferfmt="ubyte")
    texture.flip_vertical()
    texture.mag_filter = "nearest"
    return texture
