"""The booking service's write-off ("核销"): a booking used at check-in, its dose given, or
nobody come by the end of its window (the slot can be given to someone else).

``POST {service_url}/bookings/{code}/write-offs`` with ``{"event", "event_id", "site_id",
"at"}``; `event_id` is the same on every resend, so the service records each event once.
2xx done; 404, 409 and other 4xx need fixing; 5xx and timeouts are retried.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import aiohttp

from vaxflow.queue.core.outbox import Kind, Verdict, http_verdict
from vaxflow.queue.store.outbox import OutboxRow

#: The event names the service hears, by outbox kind.
EVENTS = {
    Kind.BOOKING_USED.value: "used",
    Kind.BOOKING_DOSED.value: "dosed",
    Kind.BOOKING_NO_SHOW.value: "no_show",
}


class WriteOffSender:
    """Sends booking rows to the booking service."""

    def __init__(self, http: aiohttp.ClientSession, service_url: str, site_id: str) -> None:
        self.http = http
        self.base = service_url.rstrip("/")
        self.site_id = site_id

    async def __call__(self, row: OutboxRow) -> Verdict:
        assert row.booking_code is not None
        url = f"{self.base}/bookings/{quote(row.booking_code, safe='')}/write-offs"
        body = {
            "event": EVENTS[row.kind],
            "event_id": f"{self.site_id}/{row.record_key}",
            "site_id": self.site_id,
            "at": row.created_at.isoformat(),
        }
        async with self.http.post(url, json=body) as response:
            try:
                answer: Any = await response.json(content_type=None)
            except ValueError:
                answer = None
            return http_verdict(response.status, answer)
