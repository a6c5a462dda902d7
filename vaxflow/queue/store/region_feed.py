"""The site's events as the region shipper reads them: a cursor over `events` by seq.

The events table is the site's outbox to the region (every change appends one event in its
own transaction, with a seq that only grows), so the shipper needs no table of its own: it
reads what follows the region's cursor. A `dosed` event comes with its dose record and the
person's ID number, which the shipper turns into a keyed hash before anything leaves the site.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, select

from vaxflow.queue.core.events import EventKind
from vaxflow.queue.store import tables as t


def events_after(conn: Connection, site_id: str, after: int, limit: int) -> list[dict[str, Any]]:
    """Up to `limit` of the site's events with seq > `after`, ascending; doses joined."""
    e, d, v = t.events, t.doses, t.visits
    query = (
        select(
            e.c.seq,
            e.c.at,
            e.c.kind,
            e.c.actor,
            e.c.device,
            e.c.visit_id,
            e.c.payload,
            d.c.given_at,
            d.c.product,
            d.c.manufacturer,
            d.c.dose_number,
            d.c.lot,
            v.c.id_number,
        )
        .select_from(
            e.outerjoin(
                d, (d.c.visit_id == e.c.visit_id) & (e.c.kind == EventKind.DOSED.value)
            ).outerjoin(v, (v.c.id == d.c.visit_id))
        )
        .where(e.c.site_id == site_id, e.c.seq > after)
        .order_by(e.c.seq)
        .limit(limit)
    )
    return [dict(row._mapping) for row in conn.execute(query)]


def last_event_seq(conn: Connection, site_id: str) -> int:
    """The site's newest seq (0: none): the backlog is this minus the region's cursor."""
    e = t.events
    found = conn.execute(
        select(e.c.seq).where(e.c.site_id == site_id).order_by(e.c.seq.desc()).limit(1)
    ).scalar()
    return int(found or 0)
