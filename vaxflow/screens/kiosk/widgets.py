"""Shared kiosk widgets: words sized by the view-model, big buttons, the language bar,
the scanning animation and the busy spinner. Their look is in widgets.kv."""

from __future__ import annotations

from pathlib import Path

from kivy.animation import Animation
from kivy.lang import Builder
from kivy.properties import NumericProperty, ObjectProperty
from kivy.uix.button import Button
from kivy.uix.label import Label
from kivy.uix.screenmanager import Screen
from kivy.uix.togglebutton import ToggleButton
from kivy.uix.widget import Widget

#: The font every kiosk text uses; the app registers it once (a CJK font, or Kivy's default).
FONT_NAME = "KioskFont"


class Words(Label):  # type: ignore[misc]
    """Wrapped, centred text `scale` units tall."""

    vm = ObjectProperty(None, allownone=True, rebind=True)
    scale = NumericProperty(1.0)


class BigButton(Button):  # type: ignore[misc]
    """A touch target at least 2.6 units tall (larger in elderly mode)."""

    vm = ObjectProperty(None, allownone=True, rebind=True)
    kind = ObjectProperty("primary")


class LanguageButton(ToggleButton):  # type: ignore[misc]
    vm = ObjectProperty(None, allownone=True, rebind=True)
    code = ObjectProperty("zh-CN")


class LanguageBar(Widget):  # type: ignore[misc]
    vm = ObjectProperty(None, allownone=True, rebind=True)


class ScanGuide(Widget):  # type: ignore[misc]
    """A phone with a QR code and a scan line sweeping over it: "hold your QR here"."""

    phase = NumericProperty(0.0)

    def on_kv_post(self, base_widget: Widget) -> None:
        sweep = Animation(phase=1.0, duration=1.4, t="in_out_sine") + Animation(
            phase=0.0, duration=1.4, t="in_out_sine"
        )
        sweep.repeat = True
        sweep.start(self)


class Busy(Widget):  # type: ignore[misc]
    """A turning arc while the kiosk waits for the server or the printer."""

    angle = NumericProperty(0.0)

    def on_kv_post(self, base_widget: Widget) -> None:
        turn = Animation(angle=360.0, duration=1.2)
        turn.repeat = True
        turn.bind(on_progress=self._wrap)
        turn.start(self)

    def _wrap(self, *_args: object) -> None:
        if self.angle >= 360.0:
            self.angle = 0.0


class KioskScreen(Screen):  # type: ignore[misc]
    """A kiosk screen: it binds to the view-model it is given and does no I/O."""

    vm = ObjectProperty(None, allownone=True, rebind=True)


Builder.load_file(str(Path(__file__).with_suffix(".kv")))
