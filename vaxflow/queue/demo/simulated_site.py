"""Simulated people and staff that drive a running site server through its real API (the demo).

Kiosks check people in, stations call, serve and record doses, observers release people at
the exit. Everything goes through `SiteClient`, so the demo exercises exactly what real
kiosks and consoles will. Times are site minutes; `clock.to_real_seconds` turns them into
sleeps, so `--speed 60` runs an hour a minute.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from vaxflow.clock import ScaledClock
from vaxflow.config import Settings
from vaxflow.queue.client.site import ServerRefused, ServerUnreachable, SiteClient, new_request_id
from vaxflow.queue.core.booking import Booking
from vaxflow.queue.core.model import VisitState
from vaxflow.queue.demo.demo_day import DemoPerson, kiosk_body

log = logging.getLogger(__name__)


@dataclass
class Traffic:
    """How busy the simulated site is."""

    arrivals_per_hour: float = 600.0
    walk_in_share: float = 0.1
    no_show_share: float = 0.03
    defer_share: float = 0.01
    adverse_share: float = 0.005
    print_failure_share: float = 0.02
    fever_share: float = 0.01
    kiosks: int = 30
    service_minutes: float = 3.0
    walk_minutes: float = 1.0
    seed: int = 1


@dataclass(frozen=True)
class Arrivals:
    """Who will come: booked people with what their booking QR holds, and walk-ins.

    A booked person may bring only the ID card (sent as a walk-in: the server finds the
    booking) or a child with a guardian (`DemoPerson`)."""

    booked: Sequence[tuple[DemoPerson, str]]
    walk_ins: Sequence[Booking]


@dataclass
class Tally:
    """What the simulation did, for the closing summary."""

    checked_in: int = 0
    refused: int = 0
    dosed: int = 0
    released: int = 0
    no_shows: int = 0
    errors: int = 0
    reasons: dict[str, int] = field(default_factory=dict)


class SimulatedSite:
    """Runs arrivals, every station and the exit until cancelled."""

    def __init__(
        self,
        base_url: str,
        settings: Settings,
        clock: ScaledClock,
        traffic: Traffic,
        people: Arrivals,
    ) -> None:
        self.base_url = base_url
        self.settings = settings
        self.clock = clock
        self.traffic = traffic
        self.people = people
        self.tally = Tally()
        self._rng = random.Random(traffic.seed)
        self._booked = iter(people.booked)
        self._walk_ins = iter(people.walk_ins)

    def _token(self, role: str) -> str:
        return self.settings.tokens[role][0]  # type: ignore[index]

    async def _sleep_site_minutes(self, minutes: float) -> None:
        await asyncio.sleep(self.clock.to_real_seconds(minutes * 60))

    async def run(self) -> None:
        async with asyncio.TaskGroup() as group:
            group.create_task(self._arrivals())
            for station in self.settings.stations:
                group.create_task(self._station(station.id, station.products[0]))
            group.create_task(self._exit())

    # --- kiosks ------------------------------------------------------------------------

    async def _arrivals(self) -> None:
        """People arrive at random and use whichever of the site's kiosks is nearest."""
        async with aiohttp.ClientSession() as session, asyncio.TaskGroup() as people:
            kiosks = [
                SiteClient(
                    self.base_url, self._token("kiosk"), device=f"kiosk-{n:02d}", session=session
                )
                for n in range(1, self.traffic.kiosks + 1)
            ]
            while True:
                gap_hours = self._rng.expovariate(self.traffic.arrivals_per_hour)
                await self._sleep_site_minutes(gap_hours * 60)
                people.create_task(self._one_check_in(self._rng.choice(kiosks)))

    def _card(self, person: Booking) -> dict[str, Any]:
        return {
            "id_type": person.id_type,
            "id_number": person.id_number,
            "name": person.person_name,
            "sex": person.sex,
        }

    def _answers(self) -> dict[str, Any]:
        fever = self._rng.random() < self.traffic.fever_share
        return {
            "answers": {q.id: fever and q.id == "fever" for q in self.settings.questions},
            "consent_version": self.settings.consent.version,
        }

    def _next_body(self) -> dict[str, Any] | None:
        """The next arrival: a walk-in, or a booked person showing their QR and ID card (or
        only the card), with a child's guardian."""
        if self._rng.random() < self.traffic.walk_in_share:
            walker = next(self._walk_ins, None)
            if walker is not None:
                return {"walk_in": {**self._card(walker), "dose_number": 1}, **self._answers()}
        person, qr = next(self._booked, (None, ""))
        if person is None:
            return None
        return {**kiosk_body(person, {"booking_qr": qr}), **self._answers()}

    async def _one_check_in(self, kiosk: SiteClient) -> None:
        body = self._next_body()
        if body is None:
            return
        request_id = new_request_id()
        for _attempt in range(3):  # retries reuse the request id: never a second ticket
            try:
                ticket = await kiosk.check_in(body, request_id=request_id)
            except ServerUnreachable:
                await asyncio.sleep(0.5)
                continue
            except ServerRefused as err:
                self.tally.refused += 1
                self.tally.reasons[err.reason] = self.tally.reasons.get(err.reason, 0) + 1
                return
            self.tally.checked_in += 1
            printed = self._rng.random() >= self.traffic.print_failure_share
            with contextlib.suppress(ServerRefused, ServerUnreachable):
                await kiosk.print_status(ticket.visit_id, printed, "" if printed else "paper_out")
            return
        self.tally.errors += 1

    # --- stations ----------------------------------------------------------------------

    async def _station(self, station_id: str, product: str) -> None:
        async with SiteClient(self.base_url, self._token("station"), device=station_id) as console:
            with contextlib.suppress(ServerRefused):
                await console.open_station(
                    station_id, product, f"{product[:4]}-2611-01", f"Nurse {station_id}"
                )
            while True:
                try:
                    await self._serve_one(console, station_id)
                except (ServerRefused, ServerUnreachable) as err:
                    self.tally.errors += 1
                    log.debug("station %s: %s", station_id, err)
                    await self._sleep_site_minutes(0.5)

    async def _serve_one(self, console: SiteClient, station_id: str) -> None:
        visit = (await console.call_next(station_id)).called
        if visit is None:
            await self._sleep_site_minutes(0.25)
            return
        await self._sleep_site_minutes(self._rng.uniform(0.3, 1.5) * self.traffic.walk_minutes)
        if self._rng.random() < self.traffic.no_show_share:
            while True:
                skipped = await console.skip(station_id)
                if skipped.state is VisitState.NO_SHOW:
                    self.tally.no_shows += 1
                    return
                await console.recall(station_id, visit.visit_id)
        await console.start_service(station_id, visit.qr)
        minutes = self._rng.lognormvariate(0, 0.4) * self.traffic.service_minutes
        await self._sleep_site_minutes(minutes)
        if self._rng.random() < self.traffic.defer_share:
            await console.defer(station_id, visit.visit_id, "fever")
            return
        await console.record_dose(station_id, visit.visit_id)
        self.tally.dosed += 1

    # --- observation and exit ----------------------------------------------------------

    async def _exit(self) -> None:
        async with SiteClient(self.base_url, self._token("observer"), device="exit-sim") as exit_:
            rolled: set[int] = set()
            while True:
                await self._sleep_site_minutes(0.5)
                try:
                    board = await exit_.observation()
                    for person in board.people:
                        vid = person.visit_id
                        if person.adverse_open:
                            if self._rng.random() < 0.05:
                                await exit_.resolve(vid, "resolved")
                            continue
                        first_look = vid not in rolled
                        rolled.add(vid)  # one roll per person, not one per half minute
                        if first_look and self._rng.random() < self.traffic.adverse_share:
                            await exit_.flag(vid, "dizziness", "mild")
                            continue
                        if person.may_leave:
                            result = await exit_.exit_scan(person.ticket)
                            if result.may_leave:
                                self.tally.released += 1
                except (ServerRefused, ServerUnreachable) as err:
                    self.tally.errors += 1
                    log.debug("exit: %s", err)
