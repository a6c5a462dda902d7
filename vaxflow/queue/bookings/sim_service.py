"""A simulated booking service (the HTTP shape `service_client` expects), for tests and the demo."""

from __future__ import annotations

from collections.abc import Iterable

from aiohttp import web

from vaxflow.queue.core.booking import Booking

BOOKINGS = web.AppKey("bookings", dict[str, Booking])
#: Write-offs heard (issue 15), by event id: a resend with the same id is recorded once.
WRITE_OFFS = web.AppKey("write_offs", dict[str, dict[str, object]])


def booking_json(booking: Booking) -> dict[str, object]:
    return {
        "code": booking.code,
        "name": booking.person_name,
        "id_type": booking.id_type,
        "id_number": booking.id_number,
        "site_id": booking.site_id,
        "visit_date": booking.visit_date.isoformat(),
        "window_start": booking.window_start.isoformat() if booking.window_start else None,
        "window_end": booking.window_end.isoformat() if booking.window_end else None,
        "product": booking.product,
        "dose_number": booking.dose_number,
        "birth_date": booking.birth_date.isoformat() if booking.birth_date else None,
        "sex": booking.sex,
        "prior_doses": [
            {
                "given_on": d.given_on.isoformat(),
                "product": d.product,
                "manufacturer": d.manufacturer,
                "dose_number": d.dose_number,
            }
            for d in booking.prior_doses
        ],
        "answers": dict(booking.answers),
    }


async def _get(request: web.Request) -> web.Response:
    booking = request.app[BOOKINGS].get(request.match_info["code"])
    if booking is None:
        return web.json_response({"error": "unknown booking"}, status=404)
    return web.json_response(booking_json(booking))


async def _of_person(request: web.Request) -> web.Response:
    """The person's bookings at a site on a day: ``?site_id=&visit_date=&id_number=``."""
    q = request.query
    if not all(q.get(k) for k in ("site_id", "visit_date", "id_number")):
        return web.json_response({"error": "site_id, visit_date and id_number"}, status=400)
    found = [
        booking_json(b)
        for b in request.app[BOOKINGS].values()
        if b.site_id == q["site_id"]
        and b.visit_date.isoformat() == q["visit_date"]
        and b.id_number == q["id_number"]
    ]
    return web.json_response({"bookings": found})


async def _write_off(request: web.Request) -> web.Response:
    """A booking used, dosed or not come: ``{"event", "event_id", "site_id", "at"}``."""
    code = request.match_info["code"]
    if code not in request.app[BOOKINGS]:
        return web.json_response({"error": "unknown booking"}, status=404)
    try:
        body = await request.json()
        event_id, event = str(body["event_id"]), str(body["event"])
    except (ValueError, KeyError, TypeError):
        return web.json_response({"error": "event and event_id"}, status=400)
    if event not in ("used", "dosed", "no_show"):
        return web.json_response({"error": f"unknown event {event}"}, status=422)
    request.app[WRITE_OFFS].setdefault(event_id, {**body, "code": code})
    return web.json_response({"ok": True})


def create_service(bookings: Iterable[Booking]) -> web.Application:
    app = web.Application()
    app[BOOKINGS] = {b.code: b for b in bookings}
    app[WRITE_OFFS] = {}
    app.router.add_post("/bookings/{code}/write-offs", _write_off)
    app.router.add_get("/bookings", _of_person)
    app.router.add_get("/bookings/{code}", _get)
    return app
