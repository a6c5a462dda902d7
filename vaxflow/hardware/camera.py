"""A camera as a QR scanner: `camera://0` (device index) or `camera:///dev/video2`, or a video file.

A capture thread keeps only the newest frame (never the UI thread, never the event loop);
read() decodes that frame in a worker thread, so a slow decoder skips frames instead of
falling behind, and the same code seen in frame after frame is reported once. Frames go through
a SequenceDecoder: unchanged frames cost a thumbnail, and the slow fallbacks run where the fast
decoder located a code (see frame_gate).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import cv2
import numpy as np
import numpy.typing as npt

from vaxflow.hardware.decoders import Decoder, DecoderUnavailable, make_decoder
from vaxflow.hardware.dedupe import Deduper
from vaxflow.hardware.errors import DeviceUnavailable
from vaxflow.hardware.interfaces import DeviceHealth, DeviceState, Scan
from vaxflow.hardware.scan_text import normalize_scan
from vaxflow.hardware.sequence_decoder import SequenceDecoder
from vaxflow.hardware.threads import stop_thread

log = logging.getLogger(__name__)

#: Consecutive failed grabs after which a live camera counts as unplugged.
MAX_FAILED_GRABS = 10

_OPTIONS = {
    "width",
    "height",
    "fps",
    "decoder",
    "dedupe_seconds",
    "loop",
    "reconnect_interval",
    "gate",
}


class CameraScanner:
    """Scans QR codes seen by an OpenCV capture source.

    Options (URL query or keywords): width, height (pixels, asked of the camera); decoder
    (a decoders.make_decoder name, default "default"; a chain is written zxing,zbar in a URL);
    dedupe_seconds (default 3.0: a code is reported again only after it was out of sight that
    long); fps (pace for video files, default 15); loop (replay a video file, default false);
    reconnect_interval (seconds, default 1.0); gate (default true: skip unchanged frames and
    ration the fallbacks; false decodes every frame with the whole chain, as before).
    `clock()` gives monotonic seconds for dedupe.
    """

    def __init__(
        self,
        url: str,
        *,
        clock: Callable[[], float] = time.monotonic,
        decoder: Decoder | str | None = None,
        **options: Any,
    ) -> None:
        parts = urlsplit(url)
        query: dict[str, Any] = dict(parse_qsl(parts.query))
        unknown = (set(query) | set(options)) - _OPTIONS
        if unknown:
            raise ValueError(f"{url}: unknown option {sorted(unknown)[0]!r}")
        query.update(options)
        self.url = url
        target = parts.netloc + parts.path
        if not target:
            raise ValueError(f"{url}: name a camera index (camera://0) or a path")
        self.source: int | str = int(target) if target.isdigit() else target
        self.is_file = isinstance(self.source, str) and not self.source.startswith("/dev/")
        try:
            self.width = int(query["width"]) if "width" in query else None
            self.height = int(query["height"]) if "height" in query else None
            self.fps = float(query.get("fps", 15.0))
            self.reconnect_interval = float(query.get("reconnect_interval", 1.0))
            dedupe_seconds = float(query.get("dedupe_seconds", 3.0))
        except ValueError as err:
            raise ValueError(f"{url}: {err}") from None
        self.loop_file = str(query.get("loop", "false")).lower() in ("1", "true", "yes")
        gate = str(query.get("gate", "true")).lower() not in ("0", "false", "no")
        name = decoder if decoder is not None else query.get("decoder", "default")
        self._owns_decoder = isinstance(name, str)
        try:
            self.decoder: Decoder = make_decoder(name) if isinstance(name, str) else name
        except DecoderUnavailable as err:  # a config problem on this machine, like a bad URL
            raise ValueError(f"{url}: {err}") from err
        self._frames: Decoder = SequenceDecoder.around(self.decoder) if gate else self.decoder
        self._clock = clock
        self._dedupe = Deduper(dedupe_seconds)
        self._state = (DeviceState.UNKNOWN, "not_open", "")
        self._frame: npt.NDArray[np.uint8] | None = None
        self._frame_seq = 0
        self._decoded_seq = 0
        self._new_frame = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        #: Longest wait in open() for the camera to answer and in close() for the thread.
        self.call_timeout = 5.0

    async def open(self) -> None:
        """Start capturing; a camera that is missing now is retried in the background."""
        if self._thread is not None:
            return
        # Warm the decoder first (the isolated zbar worker takes ~0.4 s to start), so the
        # first person's scan is not the one that waits for it.
        blank = np.full((64, 64), 255, dtype=np.uint8)
        try:
            async with asyncio.timeout(self.call_timeout):
                await asyncio.to_thread(self.decoder.decode, blank)
        except TimeoutError:
            log.warning("%s: decoder warm-up took over %.1f s", self.url, self.call_timeout)
        self._loop = asyncio.get_running_loop()
        self._new_frame = asyncio.Event()
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name=f"camera {self.url}", daemon=True)
        self._thread.start()
        try:
            async with asyncio.timeout(self.call_timeout):
                await self._wait_for(lambda: self._state[0] is not DeviceState.UNKNOWN)
        except TimeoutError:
            log.warning("%s: camera did not answer within %.1f s", self.url, self.call_timeout)

    async def _wait_for(self, condition: Callable[[], bool]) -> None:
        """Wait until the capture thread has made `condition` true (it notifies every change)."""
        while True:
            self._new_frame.clear()
            if condition():
                return
            await self._new_frame.wait()

    def _has_new_frame(self) -> bool:
        return self._frame is not None and self._frame_seq != self._decoded_seq

    async def close(self) -> None:
        thread, self._thread = self._thread, None
        if thread is None:
            return
        await stop_thread(thread, self._stop, self.call_timeout)
        self._state = (DeviceState.UNKNOWN, "not_open", "")
        self._frame = None
        if isinstance(self._frames, SequenceDecoder):
            self._frames.reset()  # the next session's first frame is news
        if self._owns_decoder:
            await asyncio.to_thread(self.decoder.close)  # stops a decoder worker process

    async def read(self, timeout: float) -> Scan | None:  # noqa: ASYNC109 (protocol)
        """The next new code in view; None after `timeout` seconds without one.

        Raises DeviceUnavailable if the camera is offline when the wait ends, InvalidScan for
        a code whose content is not clean single-line text (reported once, then deduplicated).
        """
        if self._thread is None:
            raise DeviceUnavailable(f"{self.url}: camera is not open")
        offline_at_start = self._offline()

        def ready() -> bool:
            # Going offline during the wait is news now; already offline: wait for a return.
            return self._has_new_frame() or (self._offline() and not offline_at_start)

        try:
            async with asyncio.timeout(timeout):
                while True:
                    await self._wait_for(ready)
                    if not self._has_new_frame():
                        raise self._unavailable()
                    self._decoded_seq, frame = self._frame_seq, self._frame
                    assert frame is not None
                    texts = await asyncio.to_thread(self._frames.decode, frame)
                    now = self._clock()
                    fresh = [t for t in texts if self._dedupe.accept(t, now)]
                    if fresh:
                        return Scan(normalize_scan(fresh[0]), self.url)
        except TimeoutError:
            if self._offline():
                raise self._unavailable() from None
            return None

    def _offline(self) -> bool:
        return self._state[0] is DeviceState.OFFLINE

    def _unavailable(self) -> DeviceUnavailable:
        _state, reason, detail = self._state
        return DeviceUnavailable(f"{self.url}: camera {reason} {detail}".rstrip())

    async def health(self) -> DeviceHealth:
        state, reason, detail = self._state
        return DeviceHealth("scanner", self.url, state, reason, detail)

    # --- the capture thread --------------------------------------------------------------

    def _notify(self) -> None:
        loop = self._loop
        if loop is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):  # closed between the check and the call
                loop.call_soon_threadsafe(self._new_frame.set)

    def _set_state(self, state: DeviceState, reason: str = "", detail: str = "") -> None:
        if self._state[:2] != (state, reason):
            log.log(
                logging.INFO if state is DeviceState.OK else logging.WARNING,
                "%s: camera %s %s",
                self.url,
                state,
                reason,
            )
        self._state = (state, reason, detail)
        self._notify()

    def _run(self) -> None:
        while not self._stop.is_set():
            capture = cv2.VideoCapture(self.source)
            try:
                if not capture.isOpened():
                    self._set_state(DeviceState.OFFLINE, "not_found", f"cannot open {self.source}")
                else:
                    self._configure(capture)
                    self._set_state(DeviceState.OK)
                    self._grab_frames(capture)
            except cv2.error as err:
                self._set_state(DeviceState.OFFLINE, "unplugged", str(err))
            finally:
                capture.release()
            self._stop.wait(self.reconnect_interval)

    def _configure(self, capture: cv2.VideoCapture) -> None:
        if not self.is_file:
            # Keep the driver from queueing stale frames: we only ever want the newest one.
            capture.set(cv2.CAP_PROP_BUFFERSIZE, 1)
        if self.width:
            capture.set(cv2.CAP_PROP_FRAME_WIDTH, self.width)
        if self.height:
            capture.set(cv2.CAP_PROP_FRAME_HEIGHT, self.height)

    def _grab_frames(self, capture: cv2.VideoCapture) -> None:
        failures = 0
        pace = 1.0 / self.fps if self.is_file and self.fps > 0 else 0.0
        while not self._stop.is_set():
            ok, frame = capture.read()
            if not ok or frame is None:
                if self.is_file and self.loop_file:
                    capture.set(cv2.CAP_PROP_POS_FRAMES, 0)
                    continue
                if self.is_file:
                    self._set_state(DeviceState.OFFLINE, "end_of_file")
                    self._stop.wait()
                    return
                failures += 1
                if failures >= MAX_FAILED_GRABS:
                    self._set_state(DeviceState.OFFLINE, "unplugged", "no frames")
                    return
                continue
            failures = 0
            self._frame = np.asarray(frame, dtype=np.uint8)
            self._frame_seq += 1
            self._notify()
            if pace:
                self._stop.wait(pace)
