"""What the end-to-end fault tests share: a real server process, a network that can be cut,
and the real kiosk shell (no Kivy) with whatever devices a test gives it.

The server is `vaxflow server` in its own process (tests/queue/test_durability.py's
`ServerProcess`); the kiosk is `KioskShell` with the real `SiteClient`, so every request a
kiosk makes crosses a real socket, through `CuttableLink` when a test wants to cut it.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any

import aiohttp
from stdnum.cn import ric

from tests.conftest import load_test_site
from tests.queue.test_durability import ServerProcess
from vaxflow.hardware.interfaces import IdCard
from vaxflow.kiosk import flow as f
from vaxflow.kiosk.shell import Devices, KioskShell, ShellOptions
from vaxflow.queue.client.site import SiteClient, new_request_id
from vaxflow.screens.kiosk.texts import ticket_view

MARSHAL = {"Authorization": "Bearer demo-marshal-token"}
#: Retry fast, but never give up on a person within a test (no abandon while the link is cut).
TIMING = f.Timing(retry_delays=(0.2, 0.4), offline=60.0, busy=60.0)


# --- the network ------------------------------------------------------------------------


class Link(StrEnum):
    UP = "up"
    ANSWERS_LOST = "answers_lost"  # requests reach the server, its answers never come back
    CUT = "cut"  # nothing passes either way; connections hang rather than fail


class CuttableLink:
    """A TCP proxy on 127.0.0.1 whose cable a test can pull (`state`) and plug back in.

    Bytes that may not pass are swallowed, not refused: a pulled cable gives no reset, the
    kiosk has to notice by its own deadline. Plugging back in closes the connections that
    lost bytes (their streams are broken), as the peers' TCP stacks would after a while.
    """

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.state = Link.UP
        self.listen_port = 0
        self.swallowed = 0  # bytes dropped on the floor
        self._server: asyncio.Server | None = None
        self._broken: set[asyncio.StreamWriter] = set()
        self._writers: set[asyncio.StreamWriter] = set()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.listen_port}"

    async def __aenter__(self) -> CuttableLink:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.listen_port = int(self._server.sockets[0].getsockname()[1])
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        for writer in list(self._writers):
            writer.close()
        await self._server.wait_closed()

    def restore(self) -> None:
        self.state = Link.UP
        for writer in list(self._broken):
            writer.close()
        self._broken.clear()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        upstream: asyncio.StreamWriter | None = None
        try:
            while self.state is Link.CUT:  # the SYN got through to us, nothing more does
                self._broken.add(writer)
                await asyncio.sleep(0.05)
                if writer.is_closing():
                    return
            up_reader, upstream = await asyncio.open_connection(self.host, self.port)
            await asyncio.gather(
                self._pipe(reader, upstream, writer, lambda: self.state is not Link.CUT),
                self._pipe(up_reader, writer, writer, lambda: self.state is Link.UP),
            )
        except (ConnectionError, OSError):
            pass
        finally:
            self._writers.discard(writer)
            for end in (writer, upstream):
                if end is not None:
                    end.close()

    async def _pipe(
        self,
        source: asyncio.StreamReader,
        sink: asyncio.StreamWriter,
        client: asyncio.StreamWriter,
        passes: Callable[[], bool],
    ) -> None:
        while data := await source.read(65536):
            if not passes():
                self.swallowed += len(data)
                self._broken.add(client)
                continue
            sink.write(data)
            await sink.drain()
        sink.close()


# --- people and the server's records ------------------------------------------------------


def adult_card(index: int, name: str = "王芳") -> IdCard:
    """An adult's ID card with a valid resident ID number unique to `index`."""
    birth = date(1980, 1, 1) + timedelta(days=index)
    body17 = f"110101{birth:%Y%m%d}{(index % 499) * 2 + 1:03d}"
    return IdCard(
        name=name,
        sex="male",
        nation="汉",
        birth_date=birth,
        address="",
        id_number=body17 + ric.calc_check_digit(body17 + "0"),
        issuer="",
        valid_from=date(2020, 1, 1),
        valid_until=None,
    )


async def api_get(url: str, path: str, headers: dict[str, str] | None = None) -> Any:
    """A marshal's GET straight to the server (never through a cut link)."""
    async with (
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session,
        session.get(url + path, headers=headers or MARSHAL) as response,
    ):
        assert response.status == 200, await response.text()
        return await response.json()


def visits_in(db: Path) -> list[tuple[int, str, str, int]]:
    """(id, ticket, state, print_failed) of every visit, read from the database file."""
    with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as conn:
        rows = conn.execute("SELECT id, ticket, state, print_failed FROM visits ORDER BY id")
        return [(int(a), str(b), str(c), int(d)) for a, b, c, d in rows]


@dataclass
class Site:
    """A running server: its process, URL and database file."""

    server: ServerProcess
    url: str
    db: Path
    config: Path


@contextlib.contextmanager
def site_server(folder: Path) -> Iterator[Site]:
    """A `vaxflow server` process on the load-test site (walk-ins for everyone)."""
    db = folder / "site.sqlite"
    config = load_test_site(folder)
    server = ServerProcess(config, db, folder, "server")
    try:
        yield Site(server, server.wait_url(), db, config)
        assert server.stop() == 0, server.log()
    finally:
        server.kill()


# --- the kiosk ----------------------------------------------------------------------------


@dataclass
class Kiosk:
    """The running shell and the screens it went through (with loop times)."""

    shell: KioskShell
    screens: list[tuple[float, f.Screen]]

    async def walk_in(self, card: IdCard) -> None:
        """Place the card and ask for a walk-in ticket; questions and consent are answered."""
        reader = self.shell.devices.idcard
        reader.present(card)  # type: ignore[attr-defined]
        await self.shell.wait_screen(f.Screen.WAIT_BOOKING)
        self.shell.touch(f.Action.WALK_IN)
        await self.shell.wait_screen(f.Screen.WALK_IN)
        self.shell.touch(f.Action.AGREE)

    def first(self, screen: f.Screen, after: float = 0.0) -> float | None:
        return next((at for at, s in self.screens if s is screen and at >= after), None)


@contextlib.asynccontextmanager
async def running_kiosk(
    url: str,
    devices: Devices,
    *,
    client_timeout: float = 1.0,
    before_consent: Callable[[], None] | None = None,
    device_id: str = "kiosk-f1",
) -> AsyncIterator[Kiosk]:
    """The real shell against `url`; answers "no" to every question and agrees to consent.

    `before_consent` runs just before the consent is agreed to, i.e. just before the
    check-in request leaves (the moment a test cuts the network).
    """
    client = SiteClient(url, "demo-kiosk-token", device=device_id, timeout=client_timeout)
    shell = KioskShell(
        client,
        devices,
        ticket_view,
        flow=f.Flow(new_request_id, TIMING),
        options=ShellOptions(
            device_id=device_id,
            device_timeout=2.0,
            read_poll=0.1,
            reconnect_delays=(0.2, 0.4),
            health_every=0.5,
        ),
    )
    loop = asyncio.get_running_loop()
    kiosk = Kiosk(shell, [(loop.time(), shell.state.screen)])

    def answer(seq: int, action: f.Action) -> None:
        if shell.state.seq == seq:  # still the screen this answer is for
            shell.touch(action)

    def follow(state: f.State) -> None:
        entered = state.screen is not kiosk.screens[-1][1]
        if entered:
            kiosk.screens.append((loop.time(), state.screen))
        if state.screen is f.Screen.QUESTION:
            loop.call_soon(answer, state.seq, f.Action.NO)
        elif state.screen is f.Screen.CONFIRM_ANSWERS:  # the booking's answers: unchanged
            loop.call_soon(answer, state.seq, f.Action.YES)
        elif state.screen is f.Screen.CONSENT and entered:
            if before_consent is not None:
                before_consent()
            loop.call_soon(answer, state.seq, f.Action.AGREE)

    shell.listeners.append(follow)
    await shell.start()
    try:
        yield kiosk
    finally:
        await shell.stop()
