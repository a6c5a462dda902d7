"""The kiosk's speaker against a real player process: one prompt at a time, faults said once.

The player is a small shell script (a real process, started as espeak-ng would be) that
writes what it was asked to say, when it started and when it ended or was stopped, to a log.
"""

from __future__ import annotations

import asyncio
import io
import os
import stat
import time
import wave
from pathlib import Path

import pytest

from vaxflow.hardware.announcer import Announcer
from vaxflow.hardware.speech import Speaker, voice

SOUND = {"PULSE_SERVER": "unix:/fake/pulse"}  # a sound server is named: the player may run
SILENT: dict[str, str] = {}  # nothing: no server, and the root has no /dev/snd (see below)

PLAYER = """#!/bin/sh
# A stand-in for espeak-ng: logs "start PID VOICE TEXT", then "end PID" or "stopped PID".
log="$(dirname "$0")/said.log"
echo "start $$ $1 $2" >> "$log"
trap 'echo "stopped $$" >> "$log"; exit 143' TERM
sleep "${SAY_SECONDS:-0.05}" &
wait $!
echo "end $$" >> "$log"
"""


def player(folder: Path, body: str = PLAYER) -> list[str]:
    script = folder / "fake-espeak"
    script.write_text(body)
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return [str(script), "{voice}", "{text}"]


def said(folder: Path) -> list[str]:
    log = folder / "said.log"
    return log.read_text("utf-8").splitlines() if log.exists() else []


class Reports:
    def __init__(self) -> None:
        self.seen: list[tuple[str, str]] = []

    async def __call__(self, state: str, reason: str, _detail: str) -> None:
        self.seen.append((state, reason))


async def test_the_player_gets_the_voice_and_the_words(tmp_path: Path) -> None:
    reports = Reports()
    speaker = Speaker(player(tmp_path), env=SOUND, report=reports)
    assert await speaker.say("请扫描预约二维码", "zh-CN")
    assert await speaker.say("Please scan", "en")
    lines = said(tmp_path)
    assert [line.split(" ", 2)[2] for line in lines if line.startswith("start")] == [
        "cmn 请扫描预约二维码",
        "en Please scan",
    ]
    assert reports.seen == [("ok", "")]


async def test_a_new_prompt_stops_the_old_before_it_starts(tmp_path: Path) -> None:
    env = {**os.environ, **SOUND, "SAY_SECONDS": "30"}
    speaker = Speaker(player(tmp_path), env=env, stop_within=2.0)
    started = time.monotonic()
    tasks = []
    for n in range(4):  # four screens in quick succession
        tasks.append(asyncio.create_task(speaker.say(f"prompt {n}", "en")))
        await asyncio.sleep(0.2)
    await speaker.hush()
    results = await asyncio.gather(*tasks)
    assert results == [False] * 4  # every one was stopped, none ran to its end
    assert time.monotonic() - started < 10
    playing: set[str] = set()
    for line in said(tmp_path):  # at most one player at any moment
        event, pid = line.split(" ")[:2]
        if event == "start":
            assert not playing, said(tmp_path)
            playing.add(pid)
        else:
            playing.discard(pid)
    assert not playing
    assert [line.split(" ", 3)[3] for line in said(tmp_path) if line.startswith("start")] == [
        f"prompt {n}" for n in range(4)
    ]


async def test_a_player_that_ignores_stop_is_killed_at_the_deadline(tmp_path: Path) -> None:
    stubborn = PLAYER.replace("exit 143", ":")  # logs the TERM, then plays on
    env = {**os.environ, **SOUND, "SAY_SECONDS": "30"}
    speaker = Speaker(player(tmp_path, stubborn), env=env, stop_within=0.3)
    first = asyncio.create_task(speaker.say("one", "en"))
    await asyncio.sleep(0.3)
    started = time.monotonic()
    second = asyncio.create_task(speaker.say("two", "en"))
    await asyncio.sleep(0.5)
    await speaker.hush()
    assert await first is False and await second is False
    assert time.monotonic() - started < 5


@pytest.mark.skipif(Path("/dev/snd").is_dir(), reason="this machine has a sound card")
async def test_no_sound_device_is_reported_once_and_never_hangs(tmp_path: Path) -> None:
    reports = Reports()
    speaker = Speaker(player(tmp_path), env=SILENT, report=reports)
    started = time.monotonic()
    for _ in range(5):
        assert await speaker.say("hello", "en") is False
    assert time.monotonic() - started < 2
    assert reports.seen == [("offline", "no_sound_device")]
    assert said(tmp_path) == []  # the player was never started


@pytest.mark.parametrize(
    ("command", "reason"),
    [
        (["sh", "-c", "exit 3", "{text}"], "player_failed"),
        (["/nonexistent/espeak-ng", "{text}"], "player_missing"),
    ],
)
async def test_a_failing_player_is_reported_once_then_ok_again(
    command: list[str], reason: str, tmp_path: Path
) -> None:
    reports = Reports()
    speaker = Speaker(command, env=SOUND, report=reports)
    for _ in range(3):
        assert await speaker.say("hello", "en") is False
    assert reports.seen == [("fault", reason)]
    speaker.command = tuple(player(tmp_path))
    assert await speaker.say("hello", "en")
    assert reports.seen == [("fault", reason), ("ok", "")]


async def test_a_player_past_its_deadline_is_stopped_and_reported(tmp_path: Path) -> None:
    reports = Reports()
    env = {**os.environ, **SOUND, "SAY_SECONDS": "30"}
    speaker = Speaker(player(tmp_path), env=env, report=reports, seconds=0.3)
    started = time.monotonic()
    assert await speaker.say("a long consent", "en") is False
    assert time.monotonic() - started < 5
    assert reports.seen == [("fault", "player_timeout")]


RENDERER = """#!/bin/sh
# A stand-in for espeak-ng --stdout: logs its arguments, writes a short WAV (or fails on "FAIL").
echo "$*" >> "$(dirname "$0")/rendered.log"
case "$*" in *FAIL*) echo "no voice" >&2; exit 1;; esac
python3 -c '
import io, sys, wave
out = io.BytesIO()
with wave.open(out, "wb") as w:
    w.setnchannels(1); w.setsampwidth(2); w.setframerate(22050); w.writeframes(b"\\1\\0" * 100)
sys.stdout.buffer.write(out.getvalue())
'
"""


def renderer(folder: Path) -> str:
    script = folder / "fake-espeak-render"
    script.write_text(RENDERER)
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return str(script)


async def test_announcements_render_through_the_same_voices_once_per_text(tmp_path: Path) -> None:
    """The server's announcer and the kiosk's speaker share one wrapper: same voices, one WAV."""
    program = renderer(tmp_path)
    announcer = Announcer(tmp_path / "cache", program=program)
    texts = ("请 A023 号到 Station 5 接种", "A023, please go to Station 5")
    first = await announcer.wav(texts)
    again = await announcer.wav(texts)
    assert first is not None and first[:4] == b"RIFF" and again == first
    with wave.open(io.BytesIO(first)) as joined:  # both parts and a silence between them
        assert joined.getnframes() == 200 + int(22050 * 0.4)
    assert (tmp_path / "rendered.log").read_text("utf-8").splitlines() == [
        f"-v {voice('zh-CN')} -s 150 --stdout {texts[0]}",
        f"-v {voice('en')} -s 150 --stdout {texts[1]}",
    ]  # rendered once: the second answer came from the cache
    assert voice("zh-TW") == "cmn" and voice("fr") == "en"


async def test_a_failing_renderer_gives_no_announcement(tmp_path: Path) -> None:
    announcer = Announcer(tmp_path / "cache", program=renderer(tmp_path))
    assert await announcer.wav(("FAIL", "FAIL")) is None
    assert not Announcer(tmp_path, program=str(tmp_path / "no-such-program")).available
