"""The kiosk's network cut in the middle of a check-in, then restored.

The real kiosk shell (no Kivy) talks to a real `vaxflow server` process through a TCP link
the test can cut. Two cuts: the check-in reaches the server and commits but its answer is
lost on the way back (the case a careless retry turns into a second ticket), and the cable
pulled before the request gets through. Each time the kiosk shows the offline screen in
words within its deadline, keeps the person's place, and once the link is back the retry
with the same Idempotency-Key gives exactly one ticket: one visit on the server, no number
twice, one printed ticket.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest

from tests.faults.kit import (
    CuttableLink,
    Link,
    Site,
    adult_card,
    api_get,
    running_kiosk,
    site_server,
    visits_in,
)
from tests.figures import Figures
from vaxflow.hardware.sim_idcard import SimIdCardReader
from vaxflow.hardware.sim_printer import SimPrinter
from vaxflow.hardware.sim_scanner import SimScanner
from vaxflow.kiosk import flow as f
from vaxflow.kiosk.shell import Devices
from vaxflow.screens.kiosk.texts import screen_texts

pytestmark = pytest.mark.slow

CLIENT_TIMEOUT = 1.0
CUT_SECONDS = 1.5  # long enough for several retries to fail


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    with site_server(tmp_path_factory.mktemp("network")) as running:
        yield running


@pytest.mark.parametrize(("cut", "person"), [(Link.ANSWERS_LOST, 1), (Link.CUT, 2)])
async def test_cut_mid_check_in_then_restored_gives_one_ticket(
    site: Site, figures: Figures, cut: Link, person: int
) -> None:
    url = site.url
    before = (await api_get(url, "/api/stats"))["tickets_issued"]
    parts = urlsplit(url)
    assert parts.hostname and parts.port
    printer = SimPrinter()
    devices = Devices(SimScanner(), SimIdCardReader(), printer)
    async with CuttableLink(parts.hostname, parts.port) as link:
        cuts: list[float] = []

        def pull_the_cable() -> None:
            link.state = cut
            cuts.append(asyncio.get_running_loop().time())

        async with running_kiosk(
            link.url, devices, client_timeout=CLIENT_TIMEOUT, before_consent=pull_the_cable
        ) as kiosk:
            await kiosk.walk_in(adult_card(person))
            offline = await kiosk.shell.wait_screen(f.Screen.OFFLINE, within=10)
            assert cuts, "the check-in was sent before the cut"
            seen_at = kiosk.first(f.Screen.OFFLINE)
            assert seen_at is not None
            assert seen_at - cuts[0] < CLIENT_TIMEOUT + 2.0  # its own deadline, not a hang
            words = screen_texts(offline)
            assert words["title"] and words["body"], words
            assert not re.search(r"Error|Traceback|Exception|http", str(words)), words
            assert re.search(r"[\u4e00-\u9fff]", words["title"])  # the person's language
            assert offline.pending is not None and offline.pending.kind == "check_in"
            key = offline.pending.request_id

            await asyncio.sleep(CUT_SECONDS)  # retries fail meanwhile; the place is kept
            assert kiosk.shell.state.screen is f.Screen.OFFLINE
            assert kiosk.shell.state.retries >= 2
            assert kiosk.shell.state.pending is not None
            assert kiosk.shell.state.pending.request_id == key
            committed = (await api_get(url, "/api/stats"))["tickets_issued"]
            assert committed - before == (1 if cut is Link.ANSWERS_LOST else 0)

            link.restore()
            state = await kiosk.shell.wait_for(
                lambda s: s.screen is f.Screen.TICKET and s.print_state is f.PrintState.PRINTED,
                within=10,
            )
            assert state.ticket is not None
            assert link.swallowed > 0

    # Exactly one ticket, the one the kiosk shows and printed; nothing twice.
    assert len(printer.jobs) == 1 and state.ticket.number.encode() in printer.jobs[0]
    stats = await api_get(url, "/api/stats")
    found = await api_get(url, f"/api/tickets/{state.ticket.number}")
    assert stats["tickets_issued"] - before == 1
    assert found["visit_id"] == state.ticket.visit_id
    visits = visits_in(site.db)
    assert len(visits) == len({ticket for _id, ticket, _s, _p in visits}) == before + 1
    assert (state.ticket.visit_id, state.ticket.number) in [(v[0], v[1]) for v in visits]
    figures.add("faults injected", 1)
    figures.add("acknowledged check-ins verified", 1)
    figures.add("anything lost", 0)
