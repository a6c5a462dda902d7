"""Spoken words through espeak-ng, offline: the one wrapper of the speech program.

Two uses: the kiosk says one text at a time on its own sound device (`Speaker`), and the
site server's call boards fetch announcements rendered to WAV (`render_wav`, cached by
`vaxflow.hardware.announcer`). Both take the program, its voices and its arguments from here.

At the kiosk, a new text stops the one playing: its process group gets SIGTERM, then SIGKILL after
`stop_within` seconds, and the new one starts only once the old has exited, so two prompts
never play together. No sound device, a missing program or a failing one is reported once
(`report(state, reason, detail)`, the kiosk sends it to the marshal as device health) and the
kiosk goes on silently; every play has a deadline. Never an online speech service.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
from collections.abc import Awaitable, Callable, Mapping, Sequence

from vaxflow.hardware.audio import has_sound_device

log = logging.getLogger(__name__)

#: The speech program, found on PATH.
PROGRAM = "espeak-ng"
#: The default command; {voice} and {text} are filled in per prompt.
ESPEAK: tuple[str, ...] = (PROGRAM, "-v", "{voice}", "{text}")
#: espeak-ng voices per language (Mandarin for both Chinese scripts).
VOICES: dict[str, str] = {"zh-CN": "cmn", "zh-TW": "cmn", "en": "en"}
#: Words per minute of a rendered announcement (espeak-ng's default is 175: a hall echoes).
RENDER_SPEED = 150


def voice(language: str) -> str:
    """The espeak-ng voice for a language; English for one it does not know."""
    return VOICES.get(language, VOICES["en"])


def render_args(program: str, language: str, text: str) -> list[str]:
    """The command that writes `text` spoken in `language` as a WAV to stdout."""
    return [program, "-v", voice(language), "-s", str(RENDER_SPEED), "--stdout", text]


async def render_wav(program: str, language: str, text: str, seconds: float) -> bytes | None:
    """`text` spoken as WAV bytes; None (logged) when the program fails or runs past `seconds`."""
    process = await asyncio.create_subprocess_exec(
        *render_args(program, language, text),
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        async with asyncio.timeout(seconds):
            out, err = await process.communicate()
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        await process.wait()
        log.error("%s took longer than %.0f s for %r", program, seconds, text)
        return None
    if process.returncode != 0:
        log.error("%s failed (%s): %s", program, process.returncode, err.decode(errors="replace"))
        return None
    return out


Report = Callable[[str, str, str], Awaitable[None]]


async def _ignore(_state: str, _reason: str, _detail: str) -> None:
    return None


class Speaker:
    """Says texts one at a time; `say` returns when the text was said, stopped or failed."""

    def __init__(
        self,
        command: Sequence[str] = ESPEAK,
        *,
        env: Mapping[str, str] | None = None,
        report: Report = _ignore,
        seconds: float = 30.0,
        stop_within: float = 1.0,
    ) -> None:
        self.command = tuple(command)
        self.env = os.environ if env is None else env
        self.report = report
        self.seconds = seconds  # longest one prompt may play
        self.stop_within = stop_within  # how long a stopped player gets before SIGKILL
        self.state = ""  # last reported: "" (nothing yet), ok, offline, fault
        self._lock = asyncio.Lock()
        self._current: asyncio.subprocess.Process | None = None
        self._stopped: set[int] = set()  # pids we stopped: their exit is no failure

    async def say(self, text: str, language: str) -> bool:
        """Say `text` in `language`, stopping whatever plays; False when it was not said."""
        async with self._lock:
            await self._stop_current()
            if not has_sound_device(self.env):
                await self._health("offline", "no_sound_device", "no sound server or card")
                return False
            args = [a.format(voice=voice(language), text=text) for a in self.command]
            try:
                process = await asyncio.create_subprocess_exec(
                    *args,
                    stdin=asyncio.subprocess.DEVNULL,
                    stdout=asyncio.subprocess.DEVNULL,
                    stderr=asyncio.subprocess.DEVNULL,
                    env=dict(self.env),  # the environment the sound device was found in
                    start_new_session=True,  # its own group: a wrapper's children stop with it
                )
            except OSError as err:
                await self._health("fault", "player_missing", f"{args[0]}: {err.strerror}")
                return False
            self._current = process
        try:
            async with asyncio.timeout(self.seconds):
                code = await process.wait()
        except TimeoutError:
            await self._stop(process)
            await self._health("fault", "player_timeout", f"{args[0]} ran past {self.seconds} s")
            return False
        except asyncio.CancelledError:  # the kiosk stops: the player must not outlive it
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            raise
        finally:
            if self._current is process:
                self._current = None
        if process.pid in self._stopped:
            self._stopped.discard(process.pid)
            return False
        if code != 0:
            await self._health("fault", "player_failed", f"{args[0]} exited with {code}")
            return False
        await self._health("ok", "", "")
        return True

    async def hush(self) -> None:
        """Stop what plays now."""
        async with self._lock:
            await self._stop_current()

    async def _stop_current(self) -> None:
        if self._current is not None:
            await self._stop(self._current)
            self._current = None

    async def _stop(self, process: asyncio.subprocess.Process) -> None:
        """TERM its group, KILL it after `stop_within`; return once it has exited."""
        if process.returncode is not None:
            return
        self._stopped.add(process.pid)
        for sig in (signal.SIGTERM, signal.SIGKILL):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, sig)
            try:
                async with asyncio.timeout(self.stop_within):
                    await process.wait()
                return
            except TimeoutError:
                log.warning("speech player %d ignored %s", process.pid, sig.name)

    async def _health(self, state: str, reason: str, detail: str) -> None:
        """Report a change of state once (a failing player is not reported on every prompt)."""
        if state == self.state:
            return
        if state != "ok":
            log.warning("speech %s: %s (%s); the kiosk goes on silently", state, reason, detail)
        self.state = state
        await self.report(state, reason, detail)
