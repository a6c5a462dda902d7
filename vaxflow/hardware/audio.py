"""Playing a short WAV (a chime, a spoken call) through the system's player, if there is one.

A board without speakers must still show its calls: no player or no sound device means no
sound, and every play has a deadline, so a stuck audio stack never holds the board up.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
import math
import os
import shutil
import signal
import struct
import tempfile
import wave
from collections.abc import Mapping
from pathlib import Path

log = logging.getLogger(__name__)

#: Players tried in order (PipeWire, PulseAudio, ALSA) with their quiet flags.
PLAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("pw-play", ()),
    ("paplay", ()),
    ("aplay", ("-q",)),
)
#: Longest one play may take, in seconds, before the player is killed.
PLAY_TIMEOUT = 20.0


def has_sound_device(env: Mapping[str, str], root: Path = Path("/")) -> bool:
    """Whether a sound server or an ALSA device seems to be there to play into."""
    runtime = env.get("XDG_RUNTIME_DIR")
    sockets = [Path(runtime) / "pulse" / "native", Path(runtime) / "pipewire-0"] if runtime else []
    return (
        bool(env.get("PULSE_SERVER"))
        or any(s.exists() for s in sockets)
        or (root / "dev" / "snd").is_dir()
    )


def find_player(env: Mapping[str, str] | None = None) -> list[str] | None:
    """A command that plays a WAV file given as its last argument; None when none can."""
    env = os.environ if env is None else env
    if not has_sound_device(env):
        return None
    for name, flags in PLAYERS:
        program = shutil.which(name)
        if program:
            return [program, *flags]
    return None


def chime_wav(rate: int = 16_000) -> bytes:
    """Two soft descending tones (880 Hz, 660 Hz), the same chime the web call board makes."""
    frames = bytearray()
    for freq in (880.0, 660.0):
        length = int(rate * 0.35)
        for i in range(length):
            fade = math.exp(-4.0 * i / length)
            sample = 0.4 * fade * math.sin(2 * math.pi * freq * i / rate)
            frames += struct.pack("<h", int(sample * 32767))
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(bytes(frames))
    return out.getvalue()


async def play_wav(data: bytes, player: list[str], *, seconds: float = PLAY_TIMEOUT) -> bool:
    """Play `data` with `player`; False (logged) when it failed or ran past `seconds`."""
    with tempfile.TemporaryDirectory(prefix="vaxflow-sound-") as folder:
        path = Path(folder) / "sound.wav"
        await asyncio.to_thread(path.write_bytes, data)
        try:
            process = await asyncio.create_subprocess_exec(
                *player,
                str(path),
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.PIPE,
                start_new_session=True,  # its own group: a wrapper's children go with it
            )
        except OSError as err:
            log.warning("sound player %s: %s", player[0], err)
            return False
        try:
            async with asyncio.timeout(seconds):
                _, err_text = await process.communicate()
        except TimeoutError:
            log.warning("sound player %s took longer than %.0f s", player[0], seconds)
            return False
        finally:  # timed out or cancelled: the player must not outlive the call
            if process.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                await process.wait()
        if process.returncode != 0:
            log.warning("sound player %s: %s", player[0], err_text.decode(errors="replace")[-200:])
            return False
        return True
