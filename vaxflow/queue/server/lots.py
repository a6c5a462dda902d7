"""The vaccine lots in use today, so a station opens with a tap rather than a typed lot number.

`GET /api/lots?product=CORONAVAC` answers the lots of today's doses and of the stations open
(or paused) now, most used first: how many doses of each were given today, when the last one
was, and which stations have it loaded now. A lot typed wrong at one station then shows up as
a lot of its own with few doses, where staff can see it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from aiohttp import web

from vaxflow.config import Settings
from vaxflow.queue.core.errors import Invalid
from vaxflow.queue.server.appkeys import CLOCK, SETTINGS, STORE
from vaxflow.queue.server.handlers import json_response
from vaxflow.queue.store import Conn, repo, views

#: Station states in which a station has its lot loaded.
LOADED_STATES = ("open", "paused")


def lots_in_use(
    conn: Conn, settings: Settings, site_id: str, now: datetime, product: str | None
) -> dict[str, Any]:
    """Today's lots (of one product, or of all), most doses first, with the stations that
    have each loaded now."""
    day = repo.site_day(conn, site_id, now, settings.site.timezone, settings.site.day_turns_at)
    lots: dict[tuple[str, str], dict[str, Any]] = {}

    def entry(code: str, lot: str) -> dict[str, Any]:
        return lots.setdefault(
            (code, lot),
            {"product": code, "lot": lot, "doses_today": 0, "last_dose_at": None, "stations": []},
        )

    for code, lot, doses, last in views.lot_doses(conn, site_id, day, product):
        found = entry(code, lot)
        found["doses_today"], found["last_dose_at"] = int(doses), last.isoformat()
    for station_id, loaded, lot, state in views.loaded_lots(conn, site_id, LOADED_STATES, product):
        entry(loaded or "", lot)["stations"].append({"station_id": station_id, "state": state})
    ordered = sorted(
        lots.values(), key=lambda x: (-x["doses_today"], -len(x["stations"]), x["lot"])
    )
    return {"site_day": day.isoformat(), "product": product, "lots": ordered}


async def list_lots(request: web.Request) -> web.Response:
    """GET /api/lots[?product=CODE]."""
    settings, store = request.app[SETTINGS], request.app[STORE]
    product = request.query.get("product") or None
    if product is not None and settings.product(product) is None:
        raise Invalid("unknown_product", f"This site does not give {product}.", product=product)
    now = request.app[CLOCK].now()
    return json_response(
        await store.read(lambda conn: lots_in_use(conn, settings, store.site_id, now, product))
    )
