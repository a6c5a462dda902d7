"""A site set up as a real one: its own id, one token per device (issue 17)."""

from __future__ import annotations

import pytest

from vaxflow.clock import FrozenClock
from vaxflow.config import Settings
from vaxflow.queue.core import engine
from vaxflow.queue.demo.demo_data import seed_bookings
from vaxflow.queue.server.app import create_app
from vaxflow.queue.server.appkeys import STORE

from .conftest import AiohttpClient, Site

#: One token per device; marshal and admin keep shared role tokens (people's pages, scripts).
DEVICES: dict[str, dict[str, str]] = {
    "kiosk-1": {"kind": "kiosk"},
    "station-s01": {"kind": "station", "station": "S01"},
    "station-s02": {"kind": "station", "station": "S02"},
    "observer-1": {"kind": "observer"},
    "board-1": {"kind": "board"},
}
CALLERS = [*DEVICES, "marshal", "admin", None]


def token_of(caller: str) -> str:
    return f"{caller}-device-token-0123456789"


def headers(caller: str | None) -> dict[str, str]:
    if caller is None:
        return {}
    if caller in DEVICES:
        return {"Authorization": f"Bearer {token_of(caller)}"}
    return {"Authorization": f"Bearer demo-{caller}-token"}


def real_site(settings: Settings) -> Settings:
    """The demo site as a real site would be set up: its own id, one token per device."""
    data = settings.model_dump(mode="json", exclude_none=True)
    data["site"]["id"] = "city-stadium"
    data["tokens"] = {"marshal": ["demo-marshal-token"], "admin": ["demo-admin-token"]}
    data["device_tokens"] = {
        name: {"token": token_of(name), **spec} for name, spec in DEVICES.items()
    }
    return Settings.model_validate(data)


@pytest.fixture
async def device_site(
    aiohttp_client: AiohttpClient, settings: Settings, clock: FrozenClock, db_url: str
) -> Site:
    real = real_site(settings)
    app = create_app(real, db=db_url, clock=clock)
    client = await aiohttp_client(app)
    day = engine.site_day(clock.now(), real.site.timezone)
    await app[STORE].write(lambda tx: seed_bookings(tx, real, day, 200), actor="test")
    return Site(client, clock, real)
