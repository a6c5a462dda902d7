"""Certificates at the exit printer: which printed, which failed and wait to be reprinted.

A printer fault never loses a certificate. The exit scan records `certificate_queued` in the
release's own transaction, and each print's outcome is an event too (`certificate_printed`,
`certificate_print_failed`), so the list of slips to reprint is read from the event log: it
is audited, survives restarts and empties as slips are reprinted. A queued print that never
got an outcome (the server stopped mid-print) counts as failed once `LOST_AFTER` has passed.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from vaxflow.config import Settings
from vaxflow.queue.core.events import CERTIFICATES
from vaxflow.queue.ops import boards
from vaxflow.queue.store import Conn, repo, views

QUEUED, PRINTED, FAILED = KINDS = CERTIFICATES
#: A queued print with no outcome after this long was lost (longer than any print's deadline).
LOST_AFTER = timedelta(seconds=60)


def was_queued(conn: Conn, site_id: str, visit_id: int) -> bool:
    """Whether this visit's certificate was ever sent to the exit printer (one slip each;
    a lost one is reprinted from the list, on purpose)."""
    return views.first_event_of(conn, site_id, visit_id, QUEUED) is not None


@dataclass(frozen=True)
class PrintRecord:
    """The latest certificate event of one visit."""

    visit_id: int
    kind: str
    at: datetime
    reason: str = ""


def latest_prints(events: Iterable[PrintRecord]) -> dict[int, PrintRecord]:
    """Each visit's latest certificate event, from events in the order they were written."""
    latest: dict[int, PrintRecord] = {}
    for record in events:
        latest[record.visit_id] = record
    return latest


def to_reprint(events: Iterable[PrintRecord], now: datetime) -> list[PrintRecord]:
    """The visits whose certificate must be printed again, oldest first.

    Latest event a failure, or a print queued `LOST_AFTER` ago with no outcome since.
    """
    due = [
        r
        for r in latest_prints(events).values()
        if r.kind == FAILED or (r.kind == QUEUED and now - r.at > LOST_AFTER)
    ]
    return sorted(due, key=lambda r: r.at)


def day_prints(conn: Conn, settings: Settings, site_id: str, now: datetime) -> list[PrintRecord]:
    """Today's certificate events, in order (read within the day's event numbers only)."""
    day = repo.site_day(conn, site_id, now, settings.site.timezone, settings.site.day_turns_at)
    rows = views.day_visit_events(conn, settings, site_id, day, KINDS)
    return [
        PrintRecord(int(r.visit_id), r.kind, r.at, str(json.loads(r.payload).get("reason", "")))
        for r in rows
    ]


def reprint_list(
    conn: Conn, settings: Settings, site_id: str, now: datetime
) -> list[dict[str, Any]]:
    """The certificates waiting to be reprinted today, each with why it did not print."""
    out = []
    for record in to_reprint(day_prints(conn, settings, site_id, now), now):
        certificate = boards.certificate(conn, settings, site_id, record.visit_id)
        if certificate is None:
            continue
        out.append(
            {
                "visit_id": record.visit_id,
                "ticket": certificate["ticket"],
                "name": certificate["name"],
                "product": certificate["product"],
                "lot": certificate["lot"],
                "dose_number": certificate["dose_number"],
                "reason": record.reason or ("lost" if record.kind == QUEUED else ""),
                "failed_at": record.at.isoformat(),
                "certificate": certificate,
            }
        )
    return out


def needs_reprint(
    conn: Conn, settings: Settings, site_id: str, visit_id: int, now: datetime
) -> bool:
    """Whether this visit's certificate is in today's reprint list."""
    return any(
        r.visit_id == visit_id for r in to_reprint(day_prints(conn, settings, site_id, now), now)
    )
