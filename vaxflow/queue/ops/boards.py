"""What boards, the exit point and the marshal dashboard read: pure rules and read-only queries."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from vaxflow.config import Settings
from vaxflow.config.schema import Product
from vaxflow.queue.core import engine, reasons
from vaxflow.queue.core.privacy import mask_id_number, mask_name
from vaxflow.queue.core.stats import percentile
from vaxflow.queue.ops import service
from vaxflow.queue.ops.visit_view import reaction_view
from vaxflow.queue.store import Conn, repo, views
from vaxflow.queue.store.records import day_bounds
from vaxflow.queue.store.views import WALK_IN_CAPACITY_EVENT as WALK_IN_CAPACITY_EVENT
from vaxflow.queue.store.views import last_seq as last_seq
from vaxflow.queue.store.views import observing_count as observing_count
from vaxflow.queue.store.views import walk_in_capacity as walk_in_capacity

#: Share of observation seats taken from which call-next warns that seats are nearly full.
SEATS_NEARLY_FULL = 0.9
#: Calls kept on the call board when it (re)loads.
RECENT_CALLS = 60
#: Waits of the people called in this window make the live p50/p90.
WAIT_WINDOW = timedelta(hours=1)

# --- pure rules --------------------------------------------------------------------------


@dataclass(frozen=True)
class DoseWindow:
    """When the next dose of a series may be given: from `earliest`, until `latest` (or open)."""

    earliest: date
    latest: date | None


def next_dose_window(product: Product, dose_number: int, given_on: date) -> DoseWindow | None:
    """The window for the next dose after dose `dose_number` given on `given_on`; None when the
    primary series is complete."""
    if dose_number >= product.doses_in_series:
        return None
    latest = (
        given_on + timedelta(days=product.max_interval_days)
        if product.max_interval_days is not None
        else None
    )
    return DoseWindow(given_on + timedelta(days=product.min_interval_days), latest)


def seat_warning(observing: int, seats: int) -> dict[str, Any] | None:
    """Call-next's warning when the observation area is nearly full or full; None when not."""
    if observing >= seats:
        code = "observation_full"
    elif observing >= math.ceil(seats * SEATS_NEARLY_FULL):
        code = "observation_nearly_full"
    else:
        return None
    details = {"observing": observing, "seats": seats}
    return {"reason": code, **details, **reasons.describe(code, details, code)}


def announcement_texts(ticket: str, station_name: str) -> tuple[str, str]:
    """What the call board says, in Chinese then English: "A023, please go to Station 5"."""
    spelled = " ".join(ticket)
    digits = "".join(c for c in station_name if c.isdigit())
    zh_station = f"{digits}号接种台" if digits else station_name
    return f"请 {spelled} 号到 {zh_station}", f"{spelled}, please go to {station_name}"


# --- queries -----------------------------------------------------------------------------


def observation_snapshot(
    conn: Conn, settings: Settings, site_id: str, now: datetime
) -> dict[str, Any]:
    """Everyone in observation (masked) and the event number the list is as of."""
    seq = last_seq(conn, site_id)
    return {
        "seq": seq,
        "at": now.isoformat(),
        "seats": settings.observation.seats,
        "last_minutes": settings.observation.last_minutes,
        "people": observation_people(conn, settings, site_id, now),
    }


def observation_people(
    conn: Conn, settings: Settings, site_id: str, now: datetime
) -> list[dict[str, Any]]:
    """`service.observation_list` for boards: the same masked payloads, reading only the
    columns a board shows (a board's snapshot of 2,000 people is read at every page load)."""
    rows = views.observation_rows(conn, site_id)
    stations = {station.id: station for station in settings.stations}
    reactions = {r.visit_id: r for r in views.open_adverse(conn, site_id)}
    people = []
    for r in rows:
        station = stations.get(r.station_id) if r.station_id else None
        ends = r.observation_ends_at
        left = math.ceil(max(0.0, (ends - now).total_seconds())) if ends is not None else 0
        people.append(
            {
                "visit_id": r.id,
                "ticket": r.ticket,
                "lane": r.lane,
                "state": r.state,
                "product": r.product,
                "name": mask_name(r.person_name),
                "station_id": r.station_id,
                "station_name": station.name if station else None,
                "zone": station.zone if station else None,
                "station_names": dict(station.names) if station else {},
                "zone_names": dict(station.zone_names) if station else {},
                "call_count": r.call_count,
                "ends_at": ends.isoformat() if ends is not None else None,
                "adverse_open": bool(r.adverse_open),
                "adverse": reaction_view(reactions.get(r.id)),
                "print_failed": bool(r.print_failed),
                "remaining_seconds": left,
                "may_leave": left == 0 and not r.adverse_open,
            }
        )
    return people


def calls_snapshot(conn: Conn, settings: Settings, site_id: str, now: datetime) -> dict[str, Any]:
    """The people being called now (newest call first) and the stations' zones."""
    seq = last_seq(conn, site_id)
    day = repo.site_day(conn, site_id, now, settings.site.timezone, settings.site.day_turns_at)
    calls = []
    carry = engine.carry(day, now)
    for visit in views.recent_calls(conn, site_id, day, RECENT_CALLS, carry):
        payload = service.visit_payload(visit, settings)
        payload["called_at"] = visit.called_at.isoformat() if visit.called_at else None
        calls.append(payload)
    return {
        "seq": seq,
        "at": now.isoformat(),
        "zones": sorted({s.zone for s in settings.stations}),
        "zone_names": {s.zone: dict(s.zone_names) for s in settings.stations if s.zone_names},
        "stations": [
            {
                "station_id": s.id,
                "name": s.name,
                "zone": s.zone,
                "names": dict(s.names),
                "zone_names": dict(s.zone_names),
            }
            for s in settings.stations
        ],
        "calls": calls,
    }


def certificate(
    conn: Conn, settings: Settings, site_id: str, visit_id: int
) -> dict[str, Any] | None:
    """The vaccination certificate of a visit's dose (masked person), or None without a dose."""
    row = views.dose_of_visit(conn, site_id, visit_id)
    if row is None:
        return None
    product = settings.product(row.product)
    given_on = engine.site_day(row.given_at, settings.site.timezone, settings.site.day_turns_at)
    window = next_dose_window(product, row.dose_number, given_on) if product else None
    return {
        "site_name": settings.site.name,
        "ticket": row.ticket,
        "name": mask_name(row.person_name),
        "id_number": mask_id_number(row.id_number),
        "product": product.name if product else row.product,
        "product_code": row.product,
        "manufacturer": row.manufacturer,
        "lot": row.lot,
        "dose_number": row.dose_number,
        "doses_in_series": product.doses_in_series if product else row.dose_number,
        "date": given_on.isoformat(),
        "next_dose": None
        if window is None
        else {
            "earliest": window.earliest.isoformat(),
            "latest": window.latest.isoformat() if window.latest else None,
        },
    }


def dashboard(conn: Conn, settings: Settings, site_id: str, now: datetime) -> dict[str, Any]:
    """Everything the marshal's dashboard shows, read in one snapshot."""
    day = repo.site_day(conn, site_id, now, settings.site.timezone, settings.site.day_turns_at)
    stats = service.stats(conn, settings, site_id, now)
    called = views.called_since(conn, site_id, day, now - WAIT_WINDOW)
    carry = engine.carry(day, now)
    oldest = views.oldest_waiting(conn, site_id, day, carry)
    lanes = []
    lane_names = {lane.prefix: dict(lane.names) for lane in settings.lanes}
    for lane in stats["lanes"]:
        waits = [
            (r.called_at - r.checked_in_at).total_seconds() / 60
            for r in called
            if r.lane == lane["prefix"]
        ]
        p50, p90 = percentile(waits, 50), percentile(waits, 90)
        first = oldest.get(lane["prefix"])
        lanes.append(
            {
                **lane,
                "names": lane_names.get(lane["prefix"], {}),
                "called_last_hour": len(waits),
                "wait_p50_minutes": None if p50 is None else round(p50, 1),
                "wait_p90_minutes": None if p90 is None else round(p90, 1),
                "oldest_wait_minutes": None
                if first is None
                else round(max(0.0, (now - first).total_seconds() / 60), 1),
            }
        )
    start, _end = day_bounds(day, settings.site.timezone, settings.site.day_turns_at)
    zone = ZoneInfo(settings.site.timezone)
    per_station: dict[str, tuple[int, int]] = {}
    hours = [0] * 24
    for station_id, given_at in views.doses_since(conn, site_id, start):
        today, last_hour = per_station.get(station_id, (0, 0))
        per_station[station_id] = (today + 1, last_hour + (given_at >= now - timedelta(hours=1)))
        hours[given_at.astimezone(zone).hour] += 1  # the local hour: the day turns at 04:00
    stations = [
        {
            **station,
            "doses_today": per_station.get(station["station_id"], (0, 0))[0],
            "doses_last_hour": per_station.get(station["station_id"], (0, 0))[1],
        }
        for station in service.station_list(conn, settings, site_id)
    ]
    observing = stats["observing"]
    seats = settings.observation.seats
    adverse = [
        {
            "visit_id": r.visit_id,
            "ticket": r.ticket,
            "kind": r.kind,
            "severity": r.severity,
            "flagged_at": r.flagged_at.isoformat(),
            "station_id": r.station_id,
            "name": mask_name(r.person_name),
        }
        for r in views.open_adverse(conn, site_id)
    ]
    no_shows = [
        {"visit_id": r.id, "ticket": r.ticket, "finished_at": r.finished_at.isoformat()}
        for r in views.no_shows(conn, site_id, day, 20)
    ]
    skipped = [
        {"visit_id": r.id, "ticket": r.ticket} for r in views.skipped(conn, site_id, day, 50, carry)
    ]
    devices = service.device_list(conn, site_id)
    walk_in_lane = next((lane for lane in settings.lanes if lane.kind == "walk_in"), None)
    walk_in_issued = 0
    if walk_in_lane is not None:
        walk_in_issued = repo.walk_in_places_used(conn, site_id, day, walk_in_lane.prefix)
    return {
        "seq": last_seq(conn, site_id),
        "at": now.isoformat(),
        "site_name": settings.site.name,
        "target_wait_minutes": settings.queue.target_wait_minutes,
        "stats": stats,
        "site_day": service.day_view(conn, settings, site_id, now),  # issue 18
        "lanes": lanes,
        "stations": stations,
        "doses_by_hour": hours,
        "observation": {
            "observing": observing,
            "seats": seats,
            "warning": seat_warning(observing, seats),
        },
        "alerts": {
            "adverse": adverse,
            "devices": [dev for dev in devices if dev["state"] != "ok"],
            "no_shows": no_shows,
        },
        "skipped": skipped,
        "devices": devices,
        "walk_in": {
            "capacity": walk_in_capacity(conn, settings, site_id, day),
            "issued": walk_in_issued,
        },
    }
