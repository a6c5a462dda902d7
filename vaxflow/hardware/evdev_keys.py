"""A wedge scanner's own Linux input device, decoded: `struct input_event` records to codes.

Pure: bytes in, `Code`/`Fragment` out, no I/O. The records are parsed with `struct` rather
than the `evdev` package: that package builds a C extension against the kernel headers
(absent on a kiosk image), and its key names still need a keymap to become characters; the
record is a fixed native struct (`timeval` seconds and microseconds, type, code, value: 24
bytes on 64-bit Linux, 16 on 32-bit with a 32-bit time_t), so `struct` reads it exactly.

The kernel stamps every event, so here (unlike in a window, see `key_burst`) each key's own
time is known and a per-key gap test is sound: a code is the key presses from an idle device
to Enter, each within `max_gap` of the last. What is not a whole code is a fragment:

- a pause longer than `max_gap` inside the code: the keys so far (NO_ENTER), and the keys up
  to the next Enter (START_LOST) unless they start after `pause` (a new scan);
- a key released that was never seen pressed, or the reader opened within `max_gap` of the
  first key: the reader joined mid-code (START_LOST);
- SYN_DROPPED (the kernel's buffer overflowed), a key with no character in the layout or
  pressed with Ctrl/Alt (BROKEN); fewer than `min_length` characters (TOO_SHORT).

Auto-repeat events (value 2) add nothing: a scanner never holds a key, and a held key shows
as a pause. Layouts (`layout=` in the URL; the scanner must be set to the same one): `us`
(US English, the factory default of nearly every scanner) and `de` (German QWERTZ, with
AltGr), plus the keypad, which is the same in every layout.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from vaxflow.hardware.key_burst import Code, Fragment, FragmentReason

#: `struct input_event` in the machine's native layout: long tv_sec, long tv_usec, __u16 type,
#: __u16 code, __s32 value.
EVENT = struct.Struct("@llHHi")

EV_SYN, EV_KEY = 0x00, 0x01
SYN_REPORT, SYN_DROPPED = 0, 3
KEY_ENTER, KEY_KPENTER = 28, 96
KEY_LEFTSHIFT, KEY_RIGHTSHIFT = 42, 54
KEY_LEFTCTRL, KEY_RIGHTCTRL, KEY_LEFTALT, KEY_RIGHTALT = 29, 97, 56, 100
KEY_LEFTMETA, KEY_RIGHTMETA, KEY_CAPSLOCK, KEY_NUMLOCK = 125, 126, 58, 69
SHIFT_KEYS = frozenset({KEY_LEFTSHIFT, KEY_RIGHTSHIFT})
#: Ctrl, Alt and Meta: a key pressed with one of them is a command, not text.
COMMAND_MODIFIERS = frozenset(
    {KEY_LEFTCTRL, KEY_RIGHTCTRL, KEY_LEFTALT, KEY_LEFTMETA, KEY_RIGHTMETA}
)
ENTER_KEYS = frozenset({KEY_ENTER, KEY_KPENTER})


@dataclass(frozen=True)
class InputEvent:
    """One `struct input_event`; `time` in seconds on the device's clock."""

    sec: int
    usec: int
    type: int
    code: int
    value: int

    @property
    def time(self) -> float:
        return self.sec + self.usec / 1_000_000

    def pack(self) -> bytes:
        """The record's bytes, as the kernel writes them (for recordings and tests)."""
        return EVENT.pack(self.sec, self.usec, self.type, self.code, self.value)


def parse_events(data: bytes) -> tuple[list[InputEvent], bytes]:
    """Whole records in `data`, and the bytes of an incomplete one left over."""
    whole = len(data) - len(data) % EVENT.size
    events = [InputEvent(*fields) for fields in EVENT.iter_unpack(data[:whole])]
    return events, data[whole:]


def _rows(codes: list[int], plain: str, shifted: str) -> dict[int, tuple[str, str]]:
    if not len(codes) == len(plain) == len(shifted):
        raise ValueError("keymap rows of unequal length")
    return {code: (p, s) for code, p, s in zip(codes, plain, shifted, strict=True)}


_ROW1 = list(range(2, 14))  # 1 2 ... 0, and the two keys right of 0
_ROW2 = list(range(16, 28))  # Q W E R T Y ... and the two keys right of P
_ROW3 = list(range(30, 42))  # A S D ... L, the two keys right of L, and the key left of 1
_ROW4 = list(range(44, 54))  # Z X C V B N M and the three keys right of M

#: Keypad keys (NumLock on, as scanners send them): the same in every layout.
KEYPAD = {
    71: "7", 72: "8", 73: "9", 74: "-", 75: "4", 76: "5", 77: "6", 78: "+",
    79: "1", 80: "2", 81: "3", 82: "0", 83: ".", 55: "*", 98: "/",
}  # fmt: skip

# A "\0" marks a dead key (it composes with the next key): not text a scanner sends.
LAYOUTS: dict[str, dict[int, tuple[str, str]]] = {
    "us": {
        **_rows(_ROW1, "1234567890-=", "!@#$%^&*()_+"),
        **_rows(_ROW2, "qwertyuiop[]", "QWERTYUIOP{}"),
        **_rows(_ROW3, "asdfghjkl;'`", 'ASDFGHJKL:"~'),
        **_rows(_ROW4, "zxcvbnm,./", "ZXCVBNM<>?"),
        43: ("\\", "|"),
        57: (" ", " "),
    },
    "de": {
        **_rows(_ROW1, "1234567890ß\0", '!"§$%&/()=?\0'),
        **_rows(_ROW2, "qwertzuiopü+", "QWERTZUIOPÜ*"),
        **_rows(_ROW3, "asdfghjklöä\0", "ASDFGHJKLÖÄ°"),
        **_rows(_ROW4, "yxcvbnm,.-", "YXCVBNM;:_"),
        43: ("#", "'"),
        86: ("<", ">"),
        57: (" ", " "),
    },
}
#: AltGr (right Alt) characters per layout.
ALTGR: dict[str, dict[int, str]] = {
    "us": {},
    "de": {16: "@", 8: "{", 9: "[", 10: "]", 11: "}", 12: "\\", 27: "~", 86: "|", 18: "€"},
}


def key_char(layout: str, code: int, *, shift: bool, altgr: bool, caps: bool) -> str | None:
    """The character a key makes in a layout, or None (no character, a dead key)."""
    if code in KEYPAD:
        return KEYPAD[code]
    if altgr:
        return ALTGR[layout].get(code)
    pair = LAYOUTS[layout].get(code)
    if pair is None:
        return None
    plain, shifted = pair
    if caps and plain.isalpha() and shifted == plain.upper():
        shift = not shift
    char = shifted if shift else plain
    return None if char == "\0" else char


class EvdevDecoder:
    """Key events to whole codes and fragments (see the module docstring); times in seconds."""

    def __init__(
        self,
        layout: str = "us",
        *,
        max_gap: float = 0.1,
        pause: float = 1.0,
        min_length: int = 4,
    ) -> None:
        if layout not in LAYOUTS:
            raise ValueError(
                f"unknown keyboard layout {layout!r}; use one of: {', '.join(LAYOUTS)}"
            )
        if max_gap <= 0 or pause < max_gap or min_length < 1:
            raise ValueError("max_gap must be positive, pause at least max_gap, min_length >= 1")
        self.layout = layout
        self.max_gap = max_gap
        self.pause = pause
        self.min_length = min_length
        self._down: set[int] = set()
        self._caps = False
        self._chars: list[str] = []
        self._last: float | None = None  # the last key press (or sign of a lost key)
        self._taint: FragmentReason | None = None
        self._opened_at: float | None = None

    def reset(self, opened_at: float | None = None) -> None:
        """Forget everything (the device was (re)opened at `opened_at`, on the event clock)."""
        self._down.clear()
        self._chars.clear()
        self._last = None
        self._taint = None
        self._opened_at = opened_at

    @property
    def holding(self) -> bool:
        return bool(self._chars) or self._taint is not None

    def feed(self, event: InputEvent) -> list[Code | Fragment]:
        """One event; what it completed."""
        if event.type == EV_SYN:
            if event.code == SYN_DROPPED:
                self._down.clear()
                self._taint = self._taint or FragmentReason.BROKEN
                self._last = event.time  # the idle that clears the taint starts now
            return []
        if event.type != EV_KEY:
            return []  # EV_MSC scan codes, LEDs: nothing to do with text
        if event.value == 0:
            self._release(event.code, event.time)
            return []
        if event.value != 1:
            return []  # auto-repeat (2): see the module docstring
        return self._press(event.code, event.time)

    def flush(self) -> list[Code | Fragment]:
        """Nothing came for a while: a burst without Enter is a fragment; taints end."""
        out = self._cut(FragmentReason.NO_ENTER)
        self._taint = None
        return out

    def _release(self, code: int, now: float) -> None:
        if code in self._down:
            self._down.discard(code)
        elif code not in ENTER_KEYS:
            # Its press came before we were reading: the start of this code is gone.
            self._taint = self._taint or FragmentReason.START_LOST
            self._last = now

    def _press(self, code: int, now: float) -> list[Code | Fragment]:
        out: list[Code | Fragment] = []
        if self._last is not None and now - self._last > self.max_gap:
            out += self._cut(FragmentReason.NO_ENTER)
            if now - self._last <= self.pause:
                self._taint = FragmentReason.START_LOST if out else self._taint
            else:
                self._taint = None  # an idle device: whatever was broken is over
        if self._opened_at is not None:
            if not self._chars and now - self._opened_at <= self.max_gap:
                self._taint = self._taint or FragmentReason.START_LOST
            self._opened_at = None
        self._last = now
        self._down.add(code)
        if code == KEY_CAPSLOCK:
            self._caps = not self._caps
            return out
        if code in SHIFT_KEYS or code in COMMAND_MODIFIERS or code in (KEY_RIGHTALT, KEY_NUMLOCK):
            return out
        if code in ENTER_KEYS:
            return out + self._enter()
        if self._down & COMMAND_MODIFIERS:
            self._taint = self._taint or FragmentReason.BROKEN
        char = key_char(
            self.layout,
            code,
            shift=bool(self._down & SHIFT_KEYS),
            altgr=KEY_RIGHTALT in self._down and self.layout != "us",
            caps=self._caps,
        )
        if char is None:
            self._taint = self._taint or FragmentReason.BROKEN
        else:
            self._chars.append(char)
        return out

    def _enter(self) -> list[Code | Fragment]:
        text = "".join(self._chars)
        taint, self._taint = self._taint, None
        self._chars.clear()
        if taint is not None:
            return [Fragment(text, taint)] if text else []
        if not text:
            return []
        if len(text) < self.min_length:
            return [Fragment(text, FragmentReason.TOO_SHORT)]
        return [Code(text)]

    def _cut(self, reason: FragmentReason) -> list[Code | Fragment]:
        text = "".join(self._chars)
        self._chars.clear()
        return [Fragment(text, self._taint or reason)] if text else []
