"""A real site server (the app factory) on a fresh SQLite or PostgreSQL database, frozen clock."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from vaxflow.clock import FrozenClock
from vaxflow.config import Settings
from vaxflow.queue.core import engine
from vaxflow.queue.core.booking import Booking
from vaxflow.queue.demo.demo_data import make_people, seed_bookings
from vaxflow.queue.server.app import create_app
from vaxflow.queue.server.appkeys import STORE

AiohttpClient = Callable[[web.Application], Awaitable[TestClient[Any, Any]]]


def auth(role: str) -> dict[str, str]:
    return {"Authorization": f"Bearer demo-{role}-token"}


class Site:
    """The test's handle on a running server: its HTTP client, clock and settings."""

    def __init__(self, client: TestClient[Any, Any], clock: FrozenClock, settings: Settings):
        self.client = client
        self.clock = clock
        self.settings = settings

    @property
    def app(self) -> web.Application:
        return self.client.server.app  # type: ignore[attr-defined,no-any-return]

    async def post(
        self,
        role: str,
        path: str,
        body: dict[str, Any] | None = None,
        *,
        key: str | None = None,
        expect: int = 200,
        device: str | None = None,
    ) -> Any:
        headers = auth(role)
        if key:
            headers["Idempotency-Key"] = key
        if device:
            headers["X-Device-Id"] = device
        response = await self.client.post(path, json=body or {}, headers=headers)
        data = await response.json()
        assert response.status == expect, data
        return data

    async def get(self, role: str, path: str, *, expect: int = 200) -> Any:
        response = await self.client.get(path, headers=auth(role))
        data = await response.json()
        assert response.status == expect, data
        return data

    def person(self, code: str) -> Booking:
        day = engine.site_day(self.clock.now(), self.settings.site.timezone)
        return next(p for p in make_people(self.settings, day, 200) if p.code == code)

    def card(self, code: str) -> dict[str, Any]:
        """The ID card of the person who made booking `code`."""
        person = self.person(code)
        return {"id_type": "cn_resident", "id_number": person.id_number, "name": person.person_name}

    def answers(self, **yes: bool) -> dict[str, bool]:
        return {q.id: yes.get(q.id, False) for q in self.settings.questions}

    def check_in_body(self, code: str, **extra: Any) -> dict[str, Any]:
        return {
            "booking_code": code,
            "id_card": self.card(code),
            "answers": self.answers(),
            "consent_version": self.settings.consent.version,
            **extra,
        }

    async def check_in(self, code: str, *, device: str | None = None, **extra: Any) -> Any:
        body = self.check_in_body(code, **extra)
        return await self.post("kiosk", "/api/checkins", body, device=device)

    async def open(self, station: str, product: str = "CORONAVAC") -> Any:
        return await self.post(
            "station",
            f"/api/stations/{station}/open",
            {"product": product, "lot": "LOT-2611", "vaccinator": "Nurse Li"},
        )


@pytest.fixture
async def site(
    aiohttp_client: AiohttpClient, settings: Settings, clock: FrozenClock, db_url: str
) -> Site:
    app = create_app(settings, db=db_url, clock=clock)
    client = await aiohttp_client(app)
    day = engine.site_day(clock.now(), settings.site.timezone)
    await app[STORE].write(lambda tx: seed_bookings(tx, settings, day, 200), actor="test")
    return Site(client, clock, settings)


def booking_codes(
    settings: Settings, clock: FrozenClock, *, product: str, elderly: bool
) -> list[str]:
    """Demo booking codes for a product, of people under or over the review age."""
    day = engine.site_day(clock.now(), settings.site.timezone)
    return [
        p.code
        for p in make_people(settings, day, 200)
        if p.product == product
        and p.birth_date is not None
        and (engine.age_on(p.birth_date, day) >= 60) == elderly
    ]
