"""A simulated booking service (the HTTP shape `service_client` expects), for tests and the demo."""

from __future__ import annotations

from collections.abc import Iterable

from aiohttp import web

from vaxflow.queue.core.booking import Booking

BOOKINGS = web.AppKey("bookings", dict[str, Booking])


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
    }


async def _get(request: web.Request) -> web.Response:
    booking = request.app[BOOKINGS].get(request.match_info["code"])
    if booking is None:
        return web.json_response({"error": "unknown booking"}, status=404)
    return web.json_response(booking_json(booking))


def create_service(bookings: Iterable[Booking]) -> web.Application:
    app = web.Application()
    app[BOOKINGS] = {b.code: b for b in bookings}
    app.router.add_get("/bookings/{code}", _get)
    return app
