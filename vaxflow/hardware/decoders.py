"""QR decoders behind one interface: zxing-cpp, zbar (guarded), OpenCV; a chain picks the default.

Which decoders run by default comes from `benchmarks/decode.py` on zxing-cpp's blackbox
samples (see DEFAULT_CHAIN). All decoders take a grayscale uint8 image and return the
decoded texts; they are blocking and CPU-bound, so async callers use `asyncio.to_thread`.
"""

from __future__ import annotations

import io
import logging
import multiprocessing
import struct
import threading
from collections.abc import Callable, Sequence
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any, Protocol

import cv2
import numpy as np
import numpy.typing as npt
from PIL import Image, UnidentifiedImageError

from vaxflow.hardware.code_region import Region, modules_for_version

log = logging.getLogger(__name__)

Gray = npt.NDArray[np.uint8]

#: The default decoding order, chosen from benchmarks/decode.py figures: zxing-cpp decodes the
#: most samples, fastest, with no misreads or false positives; zbar (when libzbar is present,
#: in its own process) rescues a few codes zxing-cpp misses, adding no misreads on the samples.
DEFAULT_CHAIN: tuple[str, ...] = ("zxing", "zbar")

#: The largest image side handed to a decoder; bigger images are scaled down first so a
#: 4K still cannot stall a kiosk (and zbar never sees absurd dimensions).
MAX_SIDE = 4096


class DecoderUnavailable(RuntimeError):
    """The decoder's library (or its native part, e.g. libzbar) is not installed here."""


class ImageUnreadable(ValueError):
    """A file is missing or is not an image OpenCV or Pillow can read."""


class Decoder(Protocol):
    """Finds QR codes in one grayscale image."""

    name: str

    def decode(self, image: Gray) -> list[str]:
        """Texts of every QR code found, empty when none; blocking."""
        ...

    def close(self) -> None:
        """Release what the decoder holds (a worker process; started again if used again)."""
        ...


class _NoResources:
    def close(self) -> None:
        """Nothing to release."""


#: Smaller than a version-1 QR code at one pixel a module: nothing to find, do not ask a library.
MIN_SIDE = 21


def _as_gray(image: Gray) -> Gray:
    """A contiguous 2-D uint8 view of an image, converting colour and scaling down huge frames."""
    if image.dtype != np.uint8:
        raise ValueError(f"expected an 8-bit image, got {image.dtype}")
    out: npt.NDArray[Any] = image
    if out.ndim == 3 and out.shape[2] == 4:
        out = cv2.cvtColor(out, cv2.COLOR_BGRA2GRAY)
    elif out.ndim == 3 and out.shape[2] == 3:
        out = cv2.cvtColor(out, cv2.COLOR_BGR2GRAY)
    elif out.ndim == 3 and out.shape[2] == 1:
        out = out[:, :, 0]
    if out.ndim != 2:
        raise ValueError(f"expected a grayscale or BGR image, got shape {out.shape}")
    side = max(out.shape)
    if side > MAX_SIDE:
        scale = MAX_SIDE / side
        out = cv2.resize(out, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    return np.ascontiguousarray(out, dtype=np.uint8)


def _too_small(image: Gray) -> bool:
    return bool(min(image.shape) < MIN_SIDE)


def _unique(texts: Sequence[str]) -> list[str]:
    return list(dict.fromkeys(texts))


class ZxingDecoder(_NoResources):
    """zxing-cpp: the most tolerant reader on the sample set (rotation, inversion, model 1)."""

    name = "zxing"

    def __init__(self) -> None:
        try:
            import zxingcpp
        except ImportError as err:
            raise DecoderUnavailable("zxing-cpp is not installed") from err
        self._zx = zxingcpp
        # Model 1 and 2 only: in zxing-cpp 3 "QRCode" also means Micro QR and rMQR, and a Micro
        # QR M1 (error detection, no correction) reads out of a phone screen's moiré as a
        # short number, which the booking layer would take for a code. No booking is Micro QR.
        qr = zxingcpp.BarcodeFormat
        self._formats = zxingcpp.BarcodeFormats((qr.QRCodeModel1, qr.QRCodeModel2))
        self._mode = zxingcpp.TextMode.Plain

    def decode(self, image: Gray) -> list[str]:
        gray = _as_gray(image)
        if _too_small(gray):
            return []
        # Plain: the code's own characters, not "human readable" renderings like "<GS>" or "(01)".
        results = self._zx.read_barcodes(gray, formats=self._formats, text_mode=self._mode)
        return _unique([r.text for r in results if r.valid])

    def locate(self, image: Gray) -> tuple[list[str], list[Region]]:
        """The texts read, and where codes were found but not read (finder patterns seen)."""
        gray = _as_gray(image)
        if _too_small(gray):
            return [], []
        results = self._zx.read_barcodes(
            gray, formats=self._formats, text_mode=self._mode, return_errors=True
        )
        texts = _unique([r.text for r in results if r.valid])
        regions = [_region(r) for r in results if not r.valid]
        return texts, [r for r in regions if r is not None]


def _region(result: Any) -> Region | None:
    """A zxing-cpp result's corners and size in modules (its `extra` holds the version)."""
    pos = result.position
    corners = tuple(
        (float(p.x), float(p.y))
        for p in (pos.top_left, pos.top_right, pos.bottom_right, pos.bottom_left)
    )
    if len(set(corners)) < 4:
        return None
    version = str(getattr(result, "extra", {}).get("Version", ""))
    modules = modules_for_version(int(version)) if version.isdigit() else None
    return Region(corners, modules)


class ZbarDecoder(_NoResources):
    """zbar via pyzbar, in this process, restricted to QR symbols (use "zbar", the isolated one).

    Inputs are validated (contiguous 8-bit 2-D, bounded size), but zbar's own QR text
    extraction has aborted whole processes on real codes (double free on ECI/binary payloads,
    an assertion in qrdectxt.c: pyzbar issues #83, #158, zbar #61). No sample crashed it here,
    but a kiosk must not die on a stranger's QR code, so the default uses IsolatedDecoder.
    """

    name = "zbar-inproc"

    def __init__(self) -> None:
        try:
            from pyzbar import pyzbar
        except (ImportError, OSError) as err:  # OSError: libzbar.so missing
            raise DecoderUnavailable(f"pyzbar/libzbar is not usable: {err}") from err
        self._pyzbar = pyzbar
        self._symbols = [pyzbar.ZBarSymbol.QRCODE]

    def decode(self, image: Gray) -> list[str]:
        gray = _as_gray(image)
        if _too_small(gray):
            return []
        results = self._pyzbar.decode(gray, symbols=self._symbols)
        texts: list[str] = []
        for r in results:
            try:
                texts.append(r.data.decode("utf-8"))
            except UnicodeDecodeError:
                # zbar re-encodes to UTF-8; anything else is not a text we can trust.
                log.debug("zbar returned non-UTF-8 data, ignored")
        return _unique(texts)


class OpenCvDecoder(_NoResources):
    """OpenCV's classic cv2.QRCodeDetector (no extra dependency, weaker on hard images)."""

    name = "opencv"

    def __init__(self) -> None:
        self._detector: cv2.GraphicalCodeDetector = cv2.QRCodeDetector()

    def decode(self, image: Gray) -> list[str]:
        gray = _as_gray(image)
        if _too_small(gray):
            return []
        try:
            # The Bytes variant: the str one raises UnicodeDecodeError on Shift-JIS/Latin-1 codes.
            ok, payloads, _points, _codes = self._detector.detectAndDecodeBytesMulti(gray)
        except cv2.error as err:
            log.debug("opencv QR detector failed: %s", err)
            return []
        if not ok:
            return []
        texts = []
        for payload in payloads:
            try:
                texts.append(bytes(payload).decode("utf-8"))
            except UnicodeDecodeError:
                log.debug("opencv returned non-UTF-8 data, ignored")
        return _unique([t for t in texts if t])


class OpenCvArucoDecoder(OpenCvDecoder):
    """OpenCV's cv2.QRCodeDetectorAruco: Aruco-based finder pattern detection."""

    name = "opencv-aruco"

    def __init__(self) -> None:
        if not hasattr(cv2, "QRCodeDetectorAruco"):
            raise DecoderUnavailable("this OpenCV build has no QRCodeDetectorAruco")
        self._detector = cv2.QRCodeDetectorAruco()


class WeChatDecoder(_NoResources):
    """OpenCV contrib's WeChat QR detector (only in opencv-contrib wheels; no CNN models here)."""

    name = "wechat"

    def __init__(self) -> None:
        factory = getattr(cv2, "wechat_qrcode_WeChatQRCode", None)
        if factory is None:
            raise DecoderUnavailable(
                "this OpenCV build has no wechat_qrcode (needs opencv-contrib)"
            )
        self._detector = factory()

    def decode(self, image: Gray) -> list[str]:
        gray = _as_gray(image)
        if _too_small(gray):
            return []
        texts, _points = self._detector.detectAndDecode(gray)
        return _unique([t for t in texts if t])


class ChainDecoder:
    """Try decoders in order; the first one that finds anything wins."""

    def __init__(self, decoders: Sequence[Decoder]) -> None:
        if not decoders:
            raise ValueError("a decoder chain needs at least one decoder")
        self.decoders = list(decoders)
        self.name = "+".join(d.name for d in self.decoders)

    def decode(self, image: Gray) -> list[str]:
        gray = _as_gray(image)
        for decoder in self.decoders:
            texts = decoder.decode(gray)
            if texts:
                return texts
        return []

    def close(self) -> None:
        for decoder in self.decoders:
            decoder.close()


class IsolatedDecoder:
    """Another decoder run in a child process, so a native crash costs one frame, not the kiosk.

    The worker is long-lived (spawned once, ~0.3 s) and gets each frame as raw bytes through a
    pipe (well under a millisecond for 1280x720). If it dies, the frame it was decoding counts
    as unreadable, the crash is logged, and the next call starts a fresh worker. Calls are
    serialised: one worker, one frame at a time.
    """

    def __init__(self, backend: str, *, name: str | None = None, timeout: float = 10.0) -> None:
        BACKENDS[backend]().close()  # fail here, not in the child, when the library is missing
        self.backend = backend
        self.name = name or backend
        self.timeout = timeout
        self.crashes = 0
        self._lock = threading.Lock()
        self._process: BaseProcess | None = None
        self._conn: Connection | None = None

    def decode(self, image: Gray) -> list[str]:
        gray = _as_gray(image)
        if _too_small(gray):
            return []
        with self._lock:
            conn = self._conn
            if conn is None or self._process is None or not self._process.is_alive():
                conn = self._start()
            header = struct.pack("<II", *gray.shape)
            try:
                conn.send_bytes(header + gray.tobytes())
                if not conn.poll(self.timeout):
                    raise TimeoutError(f"no answer within {self.timeout} s")
                reply = conn.recv()
            except (EOFError, OSError, TimeoutError) as err:
                self.crashes += 1
                code = self._process.exitcode if self._process else None
                log.error(
                    "%s worker lost on a %dx%d image (%s, exit code %s); restarting it",
                    self.name,
                    gray.shape[1],
                    gray.shape[0],
                    err or type(err).__name__,
                    code,
                )
                self._stop()
                return []
        if isinstance(reply, str):
            log.warning("%s worker: %s", self.name, reply)
            return []
        texts: list[str] = reply
        return texts

    def _start(self) -> Connection:
        self._stop()
        # spawn, not fork: the parent has capture and asyncio worker threads.
        ctx = multiprocessing.get_context("spawn")
        parent, child = ctx.Pipe()
        process = ctx.Process(
            target=_isolated_worker, args=(child, self.backend), name=f"{self.backend}-decoder"
        )
        process.daemon = True
        process.start()
        child.close()
        self._process, self._conn = process, parent
        return parent

    def _stop(self) -> None:
        process, conn = self._process, self._conn
        self._process = self._conn = None
        if conn is not None:
            conn.close()  # the worker sees EOF and exits
        if process is not None:
            process.join(2.0)
            if process.is_alive():
                process.kill()
                process.join(2.0)
            process.close()

    def close(self) -> None:
        with self._lock:
            self._stop()

    @property
    def pid(self) -> int | None:
        """The worker's process id, None when no worker runs."""
        return self._process.pid if self._process is not None else None


def _isolated_worker(conn: Connection, backend: str) -> None:
    """The child's loop: frames in, texts (or an error message) out, until the pipe closes."""
    decoder = BACKENDS[backend]()
    while True:
        try:
            message = conn.recv_bytes()
        except (EOFError, OSError):
            return
        try:
            height, width = struct.unpack_from("<II", message)
            image = np.frombuffer(message, dtype=np.uint8, offset=8).reshape(height, width)
            conn.send(decoder.decode(image))
        except ValueError as err:
            conn.send(f"bad frame: {err}")


#: Backend name -> class. "default" (DEFAULT_CHAIN) and "a+b" chains are built by make_decoder.
BACKENDS: dict[str, Callable[[], Decoder]] = {
    "zxing": ZxingDecoder,
    "zbar": lambda: IsolatedDecoder("zbar-inproc", name="zbar"),
    "zbar-inproc": ZbarDecoder,
    "opencv": OpenCvDecoder,
    "opencv-aruco": OpenCvArucoDecoder,
    "wechat": WeChatDecoder,
}


def available_backends() -> list[str]:
    """Names of the single decoders that can be constructed on this machine."""
    names = []
    for name, factory in BACKENDS.items():
        try:
            decoder = factory()
        except DecoderUnavailable as err:
            log.debug("decoder %s unavailable: %s", name, err)
        else:
            decoder.close()
            names.append(name)
    return names


def make_decoder(name: str = "default") -> Decoder:
    """A decoder by backend name, "default", or a chain "zxing+opencv" (or "zxing,opencv").

    In "default", members whose library is missing are skipped (zbar without libzbar);
    an explicitly named backend that is missing raises DecoderUnavailable.
    """
    if name == "default":
        members: list[Decoder] = []
        for member in DEFAULT_CHAIN:
            try:
                members.append(BACKENDS[member]())
            except DecoderUnavailable as err:
                log.info("default decoder chain: skipping %s (%s)", member, err)
        return members[0] if len(members) == 1 else ChainDecoder(members)
    parts = name.replace(",", "+").split("+")  # "," for URLs, where "+" means a space
    unknown = [p for p in parts if p not in BACKENDS]
    if unknown:
        raise ValueError(
            f"unknown decoder {unknown[0]!r}; use one of: default, {', '.join(BACKENDS)}"
        )
    decoders = [BACKENDS[p]() for p in parts]
    return decoders[0] if len(decoders) == 1 else ChainDecoder(decoders)


def load_image(path: str | Path) -> Gray:
    """A grayscale image from a file (png, jpg, webp, ...), or ImageUnreadable."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as err:
        raise ImageUnreadable(f"{path}: {err.strerror or err}") from err
    # Pillow first: OpenCV logs to stderr on files it cannot parse (tiny webp) before failing.
    try:
        with Image.open(io.BytesIO(data)) as img:
            image: Gray = np.asarray(img.convert("L"), dtype=np.uint8)
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError):
        decoded = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_GRAYSCALE)
        if decoded is None:
            raise ImageUnreadable(f"{path}: not an image Pillow or OpenCV can read") from None
        image = np.asarray(decoded, dtype=np.uint8)
    if image.ndim != 2 or image.size == 0:
        raise ImageUnreadable(f"{path}: not a 2-D image")
    return np.ascontiguousarray(image, dtype=np.uint8)
