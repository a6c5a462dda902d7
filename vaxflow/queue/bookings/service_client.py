"""The booking-service adapter: ask an HTTP booking service for a code not on the day's list.

The service answers ``GET {base}/bookings/{code}`` with a booking as JSON (404: unknown), and
``GET {base}/bookings?site_id=S&visit_date=YYYY-MM-DD&id_number=N`` with
``{"bookings": [...]}``: the person's bookings that day (a card-only check-in).
A booking's ``prior_doses`` are every earlier dose the service knows (``dose_number`` optional).
`sim_service.py` is a simulated one for tests and the demo.
"""

from __future__ import annotations

import logging
from datetime import date, datetime
from typing import Annotated, Any
from urllib.parse import quote

import aiohttp
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from vaxflow.queue.core.booking import Booking, PriorDose
from vaxflow.queue.core.errors import QueueError

log = logging.getLogger(__name__)


class ServiceUnavailable(QueueError):
    """The booking service did not answer, or answered nonsense."""

    status = 503


class PriorDoseJson(BaseModel):
    model_config = ConfigDict(extra="ignore")
    given_on: date
    product: str = Field(max_length=40)
    manufacturer: str = Field(max_length=100)
    dose_number: int | None = Field(default=None, ge=1, le=10)


class BookingJson(BaseModel):
    """A booking as the service sends it."""

    model_config = ConfigDict(extra="ignore")
    code: str = Field(min_length=1, max_length=64)
    name: str = Field(min_length=1, max_length=100)
    id_type: str = Field(max_length=20)
    id_number: str = Field(max_length=40)
    site_id: str = Field(max_length=40)
    visit_date: date
    window_start: datetime | None = None
    window_end: datetime | None = None
    product: str = Field(max_length=40)
    dose_number: int = Field(ge=1, le=10)
    birth_date: date | None = None
    sex: str | None = Field(default=None, max_length=10)
    prior_doses: list[PriorDoseJson] = Field(default=[], max_length=10)
    answers: dict[Annotated[str, Field(max_length=40)], bool] = Field(default={}, max_length=40)
    """Health questions answered in the booking app: question id -> yes."""

    def to_booking(self) -> Booking:
        return Booking(
            code=self.code,
            person_name=self.name,
            id_type=self.id_type,
            id_number=self.id_number,
            site_id=self.site_id,
            visit_date=self.visit_date,
            product=self.product,
            dose_number=self.dose_number,
            window_start=self.window_start,
            window_end=self.window_end,
            birth_date=self.birth_date,
            sex=self.sex,
            prior_doses=tuple(
                PriorDose(d.given_on, d.product, d.manufacturer, d.dose_number, "service")
                for d in self.prior_doses
            ),
            source="service",
            answers=tuple(self.answers.items()),
        )


async def fetch_booking(
    session: aiohttp.ClientSession, base_url: str, code: str, deadline: float
) -> Booking | None:
    """The service's booking for `code`, None when it does not know it."""
    url = f"{base_url.rstrip('/')}/bookings/{quote(code, safe='')}"
    try:
        async with session.get(url, timeout=aiohttp.ClientTimeout(total=deadline)) as response:
            if response.status == 404:
                return None
            if response.status != 200:
                raise ServiceUnavailable(
                    "booking_service_unavailable",
                    f"The booking service answered {response.status}.",
                )
            data = await response.json(content_type=None)
    except (aiohttp.ClientError, TimeoutError, ValueError) as err:
        log.warning("booking service %s: %s", base_url, err or type(err).__name__)
        raise ServiceUnavailable(
            "booking_service_unavailable", "The booking service cannot be reached."
        ) from err
    try:
        booking = BookingJson.model_validate(data).to_booking()
    except ValidationError as err:
        log.warning("booking service sent an unreadable booking for a code: %s", err.error_count())
        raise ServiceUnavailable(
            "booking_service_unavailable", "The booking service sent an unreadable booking."
        ) from err
    if booking.code != code:
        raise ServiceUnavailable(
            "booking_service_unavailable", "The booking service sent another booking."
        )
    return booking


class BookingListJson(BaseModel):
    """The service's answer to a look-up by ID number."""

    model_config = ConfigDict(extra="ignore")
    bookings: list[BookingJson] = Field(max_length=20)


async def _get_json(
    session: aiohttp.ClientSession, url: str, params: dict[str, str], deadline: float
) -> Any:
    try:
        async with session.get(
            url, params=params, timeout=aiohttp.ClientTimeout(total=deadline)
        ) as response:
            if response.status != 200:
                raise ServiceUnavailable(
                    "booking_service_unavailable",
                    f"The booking service answered {response.status}.",
                )
            return await response.json(content_type=None)
    except (aiohttp.ClientError, TimeoutError, ValueError) as err:
        log.warning("booking service %s: %s", url, err or type(err).__name__)
        raise ServiceUnavailable(
            "booking_service_unavailable", "The booking service cannot be reached."
        ) from err


async def fetch_bookings_of_person(
    session: aiohttp.ClientSession,
    base_url: str,
    site_id: str,
    day: date,
    id_number: str,
    deadline: float,
) -> list[Booking]:
    """The service's bookings for this person at this site on `day` (card-only check-in).

    Raises ServiceUnavailable after at most `deadline` seconds; only bookings that really are
    this person's, here, that day are returned, whatever the service sent.
    """
    params = {"site_id": site_id, "visit_date": day.isoformat(), "id_number": id_number}
    data = await _get_json(session, f"{base_url.rstrip('/')}/bookings", params, deadline)
    try:
        found = BookingListJson.model_validate(data).bookings
    except ValidationError as err:
        log.warning("booking service sent an unreadable booking list: %s", err.error_count())
        raise ServiceUnavailable(
            "booking_service_unavailable", "The booking service sent an unreadable answer."
        ) from err
    bookings = [b.to_booking() for b in found]
    return [
        b
        for b in bookings
        if b.site_id == site_id and b.visit_date == day and b.id_number.upper() == id_number
    ]
