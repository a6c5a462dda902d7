"""Feed a keyboard-wedge scanner from a Kivy window: its text input for characters, Enter keys.

The one place that wires `hid://` (`HidScanner`) to Kivy, used by the kiosk app and by the
tests that drive a real window with real X key events. Characters come from the window's
`on_textinput` (the character the keyboard layout and any input method made: capitals,
':' and '?', full-width digits); `on_key_down` only reports Enter and the keys that are not
text (Backspace, Tab, arrows), which end a burst. Modifiers (Shift, which Kivy reports as
key 304) and printable keys' codes are ignored: their characters come as text.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol, TypeGuard

#: Kivy key codes: Enter and keypad Enter.
ENTER_KEYS = frozenset({13, 271})
#: Kivy key codes of keys that are not text: Backspace, Tab, Escape, Delete, arrows, Insert,
#: Home, End, Page Up/Down and F1-F12.
OTHER_KEYS = frozenset({8, 9, 27, 127, *range(273, 294)})


class WindowFed(Protocol):
    """What a scanner fed by a window offers (`HidScanner`)."""

    def feed_text(self, text: str, timestamp: float | None = None) -> bool: ...

    def feed_enter(self, timestamp: float | None = None) -> bool: ...

    def feed_other(self, timestamp: float | None = None) -> None: ...


def bind_window_scanner(window: Any, scanner: WindowFed) -> Callable[[], None]:
    """Bind the scanner to a Kivy window's key and text events; returns the unbind call."""

    def key_down(_window: Any, key: int, _scancode: int, _codepoint: Any, _mods: Any) -> bool:
        if key in ENTER_KEYS:
            return scanner.feed_enter()
        if key in OTHER_KEYS:
            scanner.feed_other()
        return False

    def text_input(_window: Any, text: str) -> bool:
        return scanner.feed_text(text)

    window.bind(on_key_down=key_down, on_textinput=text_input)

    def unbind() -> None:
        window.unbind(on_key_down=key_down, on_textinput=text_input)

    return unbind


def feeds_from_window(scanner: object) -> TypeGuard[WindowFed]:
    """Is this scanner one the window must feed (`hid://` without a device path)?"""
    return all(hasattr(scanner, name) for name in ("feed_text", "feed_enter", "feed_other"))
