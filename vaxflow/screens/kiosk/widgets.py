"""Shared kiosk widgets: words sized by the view-model, big buttons, the language bar,
the scanning animation and the busy spinner. Their look is in widgets.kv."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kivy.animation import Animation
from kivy.clock import Clock
from kivy.core.text import Label as CoreLabel
from kivy.lang import Builder
from kivy.properties import DictProperty, NumericProperty, ObjectProperty
from kivy.uix.button import Button
from kivy.uix.label import Label
from kivy.uix.screenmanager import Screen
from kivy.uix.togglebutton import ToggleButton
from kivy.uix.widget import Widget

from vaxflow.screens.kiosk.wrap import wrap

#: The font every kiosk text uses; the app registers it once (a CJK font, or Kivy's default).
FONT_NAME = "KioskFont"


class Wrapping:
    """Text broken into lines by `wrap` (CJK rules, glued numbers) before Kivy lays it out."""

    _raw: str
    _wrapped: str

    def _start_wrapping(self: Any) -> None:
        self._raw = self.text
        self._wrapped = ""
        for name in ("width", "font_size", "padding", "bold", "font_name"):
            self.fbind(name, self._rewrap)
        self.fbind("text", self._text_changed)

    def _text_changed(self: Any, _widget: Any, value: str) -> None:
        if value != self._wrapped:  # new words from the screen, not our own line breaks
            self._raw = value
            # Not while `text` is being dispatched: Label's own observer would then get the
            # unwrapped value after ours. Before the next frame is drawn instead.
            Clock.schedule_once(self._rewrap, -1)

    def _room(self: Any) -> float:
        padding = list(self.padding)
        return float(self.width - (padding[0] + padding[2 if len(padding) == 4 else 0]))

    def _rewrap(self: Any, *_args: Any) -> None:
        room = self._room()
        if room <= 1 or not self._raw:
            return
        measure = CoreLabel(font_name=self.font_name, font_size=self.font_size, bold=self.bold)

        def fits(line: str) -> bool:
            return bool(measure.get_extents(line)[0] <= room * 0.97)

        self._wrapped = wrap(self._raw, fits)
        self.text = self._wrapped


class Words(Wrapping, Label):  # type: ignore[misc]
    """Wrapped, centred text `scale` units tall; lines broken by `wrap` (CJK rules), not Kivy."""

    vm = ObjectProperty(None, allownone=True, rebind=True)
    scale = NumericProperty(1.0)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._start_wrapping()


class BigButton(Wrapping, Button):  # type: ignore[misc]
    """A touch target at least 2.6 units tall (larger in elderly mode); its words wrapped."""

    vm = ObjectProperty(None, allownone=True, rebind=True)
    kind = ObjectProperty("primary")

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._start_wrapping()

    def _room(self) -> float:
        return float(self.width - 16)  # the text_size of widgets.kv


class LanguageButton(ToggleButton):  # type: ignore[misc]
    vm = ObjectProperty(None, allownone=True, rebind=True)
    code = ObjectProperty("zh-CN")


class LanguageBar(Widget):  # type: ignore[misc]
    vm = ObjectProperty(None, allownone=True, rebind=True)


class Animated(Widget):  # type: ignore[misc]
    """A widget that animates only while its screen is shown (each frame costs GPU time),
    starting `delay` seconds after the screen appears."""

    delay = NumericProperty(0.0)

    def animation(self) -> Animation:
        raise NotImplementedError

    def animate(self, running: bool) -> None:
        Clock.unschedule(self._start)
        Animation.cancel_all(self)
        if running:
            Clock.schedule_once(self._start, self.delay)

    def _start(self, *_args: object) -> None:
        self.animation().start(self)


class ScanGuide(Animated):
    """A phone with a QR code and a scan line sweeping over it: "hold your QR here"."""

    phase = NumericProperty(0.0)

    def animation(self) -> Animation:
        sweep = Animation(phase=1.0, duration=1.4, t="in_out_sine") + Animation(
            phase=0.0, duration=1.4, t="in_out_sine"
        )
        sweep.repeat = True
        return sweep


class Busy(Animated):
    """A turning arc while the kiosk waits for the server or the printer; it starts turning
    only when the wait is long enough to notice."""

    angle = NumericProperty(0.0)
    delay = NumericProperty(0.6)

    def animation(self) -> Animation:
        self.angle = 0.0
        turn = Animation(angle=360.0, duration=1.2)
        turn.repeat = True
        return turn


class KioskScreen(Screen):  # type: ignore[misc]
    """A kiosk screen: it binds to the view-model it is given and does no I/O.

    `t` holds the screen's words; only the screen on show gets new ones, so a change of
    state re-renders one screen's labels, not every screen's.
    """

    vm = ObjectProperty(None, allownone=True, rebind=True)
    t = DictProperty({})

    def on_pre_enter(self, *_args: object) -> None:
        self._animate(True)

    def on_leave(self, *_args: object) -> None:
        self._animate(False)

    def _animate(self, running: bool) -> None:
        for widget in self.walk(restrict=True):
            if isinstance(widget, Animated):
                widget.animate(running)


Builder.load_file(str(Path(__file__).with_suffix(".kv")))
