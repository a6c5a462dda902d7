"""Give freed memory back to the system after a burst (glibc's malloc_trim), where there is one.

A flood of replays allocates and frees many frames; CPython and glibc keep the freed pages
for reuse, so RSS stays at the burst's peak. After the last replay of a burst ends, the feed
asks glibc to return what it can. Elsewhere (musl, macOS) this does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
from collections.abc import Callable

log = logging.getLogger(__name__)


def _malloc_trim() -> Callable[[int], int] | None:
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        libc = ctypes.CDLL(name)
        trim = libc.malloc_trim
    except (OSError, AttributeError):
        return None
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    return trim


_TRIM = _malloc_trim()


def release() -> bool:
    """Return free heap pages to the system; whether anything could be asked."""
    if _TRIM is None:
        return False
    _TRIM(0)
    return True
