"""The region server: sites ship their events here; the command centre watches every site.

`create_app(settings)` is an aiohttp app: the ingest and cursor for sites (one bearer token per
site), cross-site dose history by keyed hash, and the region dashboard (JSON and a page).
Every database call runs off the loop in the store's retried transactions.
"""

from __future__ import annotations

import asyncio
import hmac
import html
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web

from vaxflow.config.region import RegionSettings, RegionSite
from vaxflow.region.reasons import error_body
from vaxflow.region.store import RegionStore, RegionUnavailable, day_bounds, ordered

log = logging.getLogger(__name__)

SETTINGS = web.AppKey("region_settings", RegionSettings)
STORE = web.AppKey("region_store", RegionStore)
NOW: web.AppKey[Callable[[], datetime]] = web.AppKey("region_now")

API = "/api/region/v1"


def create_app(
    settings: RegionSettings,
    *,
    store: RegionStore | None = None,
    now: Callable[[], datetime] | None = None,
) -> web.Application:
    """The region server; `store` overrides the file's database (tests share one)."""
    app = web.Application(middlewares=[_errors], client_max_size=16 * 1024 * 1024)
    app[SETTINGS] = settings
    app[STORE] = store or RegionStore(settings.database, deadline=settings.retry_deadline_seconds)
    app[NOW] = now or (lambda: datetime.now(UTC))
    app.router.add_post(f"{API}/ingest", ingest)
    app.router.add_get(f"{API}/cursor", cursor)
    app.router.add_get(f"{API}/history", history)
    app.router.add_get(f"{API}/dashboard", dashboard_json)
    app.router.add_get("/", dashboard_page)
    app.cleanup_ctx.append(_store_lifetime(owned=store is None))
    return app


def _store_lifetime(*, owned: bool) -> Callable[[web.Application], AsyncIterator[None]]:
    async def lifetime(app: web.Application) -> AsyncIterator[None]:
        await asyncio.to_thread(app[STORE].migrate)  # `region serve` start: schema to head
        yield
        if owned:
            await asyncio.to_thread(app[STORE].close)

    return lifetime


class RegionRefusal(Exception):
    """A refusal with a reason code; the middleware answers it as JSON in every language
    (the site's shipper logs and shows it, and resends later)."""

    def __init__(self, status: int, reason: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.reason = reason
        self.message = message


#: aiohttp's own refusals, as reason codes with words (vaxflow/region/locale).
_HTTP_REASONS = {
    404: ("not_found", "No such address at the region."),
    405: ("method_not_allowed", "This address does not take that method."),
    413: ("body_too_large", "The request body is too large."),
}


def refusal(status: int, reason: str, message: str) -> web.Response:
    return web.json_response(error_body(reason, message), status=status)


@web.middleware
async def _errors(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    try:
        return await handler(request)
    except RegionRefusal as err:
        return refusal(err.status, err.reason, err.message)
    except RegionUnavailable as err:
        log.warning("region database unavailable: %s", err)
        response = refusal(
            503, "region_unavailable", "The region database is failing over; resend shortly."
        )
        response.headers["Retry-After"] = "2"
        return response
    except web.HTTPException as err:
        if err.status in _HTTP_REASONS:
            return refusal(err.status, *_HTTP_REASONS[err.status])
        raise


def _bearer(request: web.Request) -> str:
    header = request.headers.get("Authorization", "")
    if header.startswith("Bearer "):
        return header[7:].strip()
    return request.query.get("token", "")


def _site(request: web.Request) -> RegionSite:
    token = _bearer(request)
    site = request.app[SETTINGS].site_of_token(token) if token else None
    if site is None:
        raise RegionRefusal(401, "unknown_site_token", "A site's bearer token is required.")
    return site


def _viewer(request: web.Request) -> None:
    """The dashboard's token, when the file sets one; a site's token also reads history."""
    expected = request.app[SETTINGS].dashboard_token
    if expected is not None and not hmac.compare_digest(_bearer(request), expected):
        raise RegionRefusal(401, "dashboard_token", "The dashboard token is required.")


async def ingest(request: web.Request) -> web.Response:
    """POST {events: [{seq, at, kind, ...}], status?: {...}}: applied once each, in order."""
    site = _site(request)
    try:
        body = await request.json()
    except ValueError:
        raise RegionRefusal(400, "bad_json", "The body is not JSON.") from None
    if not isinstance(body, dict):
        raise RegionRefusal(400, "bad_batch", "The body must be an object with events.")
    batch = body.get("events") or []
    if not isinstance(batch, list) or not all(isinstance(e, dict) and "seq" in e for e in batch):
        raise RegionRefusal(400, "bad_batch", "events must be a list of events with seq.")
    if not ordered(batch):
        raise RegionRefusal(400, "unordered_batch", "Events must come in ascending seq.")
    status = body.get("status")
    store = request.app[STORE]
    applied = await asyncio.to_thread(
        store.apply, site.id, batch, status if isinstance(status, dict) else None
    )
    return web.json_response({"cursor": applied.cursor, "new": applied.new})


async def cursor(request: web.Request) -> web.Response:
    """GET: the last seq of this site the region holds (a site resumes after it)."""
    site = _site(request)
    return web.json_response(
        {"cursor": await asyncio.to_thread(request.app[STORE].cursor, site.id)}
    )


async def history(request: web.Request) -> web.Response:
    """GET ?person_key=K: the person's doses at every site (keyed hash, no ID number)."""
    _site(request)
    key = request.query.get("person_key", "")
    if not 16 <= len(key) <= 64:
        raise RegionRefusal(400, "bad_person_key", "person_key must be the hex keyed hash.")
    rows = await asyncio.to_thread(request.app[STORE].history, key)
    doses = [
        {
            "site_id": r["site_id"],
            "given_on": r["given_on"].isoformat(),
            "product": r["product"],
            "manufacturer": r["manufacturer"],
            "dose_number": r["dose_number"],
        }
        for r in rows
    ]
    return web.json_response({"doses": doses})


async def region_figures(app: web.Application) -> dict[str, Any]:
    """Per site: doses today, queue, p90 wait, seats, backlog, alerts, last event, quiet."""
    settings = app[SETTINGS]
    store = app[STORE]
    now = app[NOW]()
    today = now.astimezone(ZoneInfo(settings.timezone)).date()
    start, end = day_bounds(today, settings.timezone)
    rows, doses = await asyncio.gather(
        asyncio.to_thread(store.site_rows), asyncio.to_thread(store.doses_by_site, start, end)
    )
    known = {s.id: s for s in settings.sites}
    by_id = {r["site_id"]: r for r in rows}
    out = []
    for site_id in sorted(set(known) | set(by_id)):
        row = by_id.get(site_id, {})
        status = row.get("status") or {}
        heard = row.get("last_received_at")
        silent = None if heard is None else (now - heard).total_seconds()
        out.append(
            {
                "site_id": site_id,
                "name": known[site_id].name if site_id in known else "",
                "district": known[site_id].district if site_id in known else "",
                "doses_today": doses.get(site_id, 0),
                "queue_length": status.get("queue_length"),
                "wait_p90_minutes": status.get("wait_p90_minutes"),
                "seats_in_use": status.get("seats_in_use"),
                "seats": status.get("seats"),
                "uplink_backlog": status.get("uplink_backlog"),
                "region_backlog": status.get("region_backlog"),
                "alerts": status.get("alerts", 0),
                "last_seq": row.get("last_seq", 0),
                "last_event_at": _iso(row.get("last_event_at")),
                "last_heard_at": _iso(heard),
                "silent_seconds": None if silent is None else round(silent, 1),
                "quiet": silent is None or silent > settings.quiet_after_seconds,
            }
        )
    return {"at": now.isoformat(), "day": today.isoformat(), "sites": out}


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


async def dashboard_json(request: web.Request) -> web.Response:
    _viewer(request)
    return web.json_response(await region_figures(request.app))


_COLUMNS = (
    ("site_id", "站点 Site"),
    ("doses_today", "今日接种 Doses today"),
    ("queue_length", "排队 Queue"),
    ("wait_p90_minutes", "P90 等候(分) Wait p90 min"),
    ("seats_in_use", "留观座位 Seats in use"),
    ("uplink_backlog", "上报积压 Uplink backlog"),
    ("region_backlog", "区域积压 Region backlog"),
    ("alerts", "警报 Alerts"),
    ("last_event_at", "最后事件 Last event"),
    ("silent_seconds", "静默(秒) Silent s"),
)


async def dashboard_page(request: web.Request) -> web.Response:
    """The command centre's page: one row per site, quiet sites marked; refreshes itself."""
    _viewer(request)
    figures = await region_figures(request.app)
    head = "".join(f"<th>{html.escape(label)}</th>" for _key, label in _COLUMNS)
    body = []
    for site in figures["sites"]:
        cells = []
        for key, _label in _COLUMNS:
            value = site[key]
            if key == "site_id" and site["name"]:
                value = f"{site['site_id']} {site['name']}"
            if key == "seats_in_use" and site["seats"]:
                value = f"{site['seats_in_use']}/{site['seats']}"
            cells.append(f"<td>{html.escape('—' if value is None else str(value))}</td>")
        marker = ' class="quiet"' if site["quiet"] else ""
        body.append(f"<tr{marker}>{''.join(cells)}</tr>")
    page = f"""<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><meta http-equiv="refresh" content="10">
<title>区域看板 Region dashboard</title>
<style>body{{font-family:sans-serif}}table{{border-collapse:collapse}}
td,th{{border:1px solid #999;padding:4px 8px}}tr.quiet{{background:#fdd;font-weight:bold}}</style>
</head><body><h1>区域看板 Region dashboard — {html.escape(figures["day"])}</h1>
<p>{html.escape(figures["at"])}; 红色: 静默站点 (red: a site gone quiet)</p>
<table><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table>
</body></html>"""
    return web.Response(text=page, content_type="text/html")
