"""Spoken call announcements rendered offline by espeak-ng, cached as WAV files per text.

The site server is given `Announcer().wav` by the command that starts it (`vaxflow server`,
`vaxflow demo`): the server imports no device code; espeak-ng is driven by `speech`.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import logging
import shutil
import tempfile
import wave
from pathlib import Path

from vaxflow.hardware.speech import PROGRAM, render_wav

log = logging.getLogger(__name__)

#: Longest one espeak-ng rendering may take, in seconds.
RENDER_TIMEOUT = 10.0
#: The language of each part of an announcement: Chinese first, then English.
LANGUAGES = ("zh-CN", "en")


class Announcer:
    """Renders (Chinese text, English text) to one WAV, once per text; silent without espeak-ng."""

    def __init__(self, cache_dir: Path | None = None, program: str = PROGRAM) -> None:
        self.program = shutil.which(program)
        self.cache_dir = cache_dir or Path(tempfile.gettempdir()) / "vaxflow-announcements"
        self._locks: dict[str, asyncio.Lock] = {}
        if self.program is None:
            log.warning("espeak-ng is not installed: call boards will chime without speech")

    @property
    def available(self) -> bool:
        return self.program is not None

    async def wav(self, texts: tuple[str, ...]) -> bytes | None:
        """The WAV of `texts` spoken one after another; None when speech is unavailable."""
        if self.program is None:
            return None
        key = hashlib.sha256("\n".join(texts).encode("utf-8")).hexdigest()[:32]
        path = self.cache_dir / f"{key}.wav"
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:
            if not path.is_file():
                parts = [
                    await render_wav(self.program, language, text, RENDER_TIMEOUT)
                    for language, text in zip(LANGUAGES, texts, strict=True)
                ]
                data = join_wavs([p for p in parts if p])
                if not data:
                    return None
                await asyncio.to_thread(_write_atomic, path, data)
            self._locks.pop(key, None)
        return await asyncio.to_thread(path.read_bytes)


def join_wavs(parts: list[bytes], gap_seconds: float = 0.4) -> bytes:
    """One WAV of several with the same format, a short silence between them."""
    frames: list[bytes] = []
    params = None
    for part in parts:
        with wave.open(io.BytesIO(_fix_length(part))) as reader:
            if params is None:
                params = reader.getparams()
            elif reader.getparams()[:3] != params[:3]:
                continue
            if frames:
                silence = int(params.framerate * gap_seconds) * params.sampwidth * params.nchannels
                frames.append(b"\0" * silence)
            frames.append(reader.readframes(reader.getnframes()))
    if params is None:
        return b""
    out = io.BytesIO()
    with wave.open(out, "wb") as writer:
        writer.setnchannels(params.nchannels)
        writer.setsampwidth(params.sampwidth)
        writer.setframerate(params.framerate)
        writer.writeframes(b"".join(frames))
    return out.getvalue()


def _fix_length(data: bytes) -> bytes:
    """espeak-ng writing to a pipe leaves the RIFF and data sizes unset (0xFFFFFFFF); fill them."""
    if len(data) < 44 or data[:4] != b"RIFF":
        return data
    fixed = bytearray(data)
    fixed[4:8] = (len(data) - 8).to_bytes(4, "little")
    index = fixed.find(b"data", 12)
    if index != -1:
        fixed[index + 4 : index + 8] = (len(data) - index - 8).to_bytes(4, "little")
    return bytes(fixed)


def _write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(data)
    tmp.replace(path)
