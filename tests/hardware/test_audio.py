"""Sound for call boards: found only where it can play, and a stuck player never holds a board."""

from __future__ import annotations

import io
import time
import wave
from pathlib import Path

from vaxflow.hardware.audio import chime_wav, find_player, has_sound_device, play_wav


def test_no_sound_device_means_no_player(tmp_path: Path) -> None:
    assert not has_sound_device({}, root=tmp_path)
    assert not has_sound_device({"XDG_RUNTIME_DIR": str(tmp_path)}, root=tmp_path)
    (tmp_path / "pulse").mkdir()
    (tmp_path / "pulse" / "native").touch()
    assert has_sound_device({"XDG_RUNTIME_DIR": str(tmp_path)}, root=tmp_path)
    assert has_sound_device({"PULSE_SERVER": "tcp:10.0.0.9"}, root=tmp_path)
    (tmp_path / "dev" / "snd").mkdir(parents=True)
    assert has_sound_device({}, root=tmp_path)
    if not Path("/dev/snd").is_dir():  # this machine: no card, no server named
        assert find_player({"PATH": "/usr/bin:/bin"}) is None


def test_chime_is_a_short_wav() -> None:
    with wave.open(io.BytesIO(chime_wav())) as w:
        assert (w.getnchannels(), w.getsampwidth(), w.getframerate()) == (1, 2, 16_000)
        assert 0.5 < w.getnframes() / w.getframerate() < 1.0


async def test_a_player_gets_the_wav_file(tmp_path: Path) -> None:
    copy = tmp_path / "played.wav"
    assert await play_wav(chime_wav(), ["cp"]) is False  # cp FILE with no target fails
    assert await play_wav(b"RIFF-data", ["sh", "-c", f'cp "$0" {copy}'])
    assert copy.read_bytes() == b"RIFF-data"


async def test_a_stuck_player_is_killed_at_its_deadline() -> None:
    started = time.monotonic()
    assert await play_wav(chime_wav(), ["sh", "-c", "sleep 30"], seconds=0.3) is False
    assert time.monotonic() - started < 5


async def test_a_missing_player_is_no_sound_not_a_crash() -> None:
    assert await play_wav(chime_wav(), ["/nonexistent/aplay"]) is False
