"""Who may be vaccinated today, and why not: pure rules returning reasons, driven by config.

Refusals end the check-in with a reason the person can read. Review reasons do not refuse:
they send the person to the doctor-review (or priority) lane, where a doctor decides.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Any

from vaxflow.config import Settings
from vaxflow.config.schema import Product
from vaxflow.queue.core.booking import Booking, PriorDose
from vaxflow.queue.core.engine import age_on, site_day


@dataclass(frozen=True)
class Reason:
    """A reason code and the values its message needs ("{min_age}", "{earliest}")."""

    code: str
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Decision:
    """The outcome of the rules: refusals stop the check-in; review routes to a doctor."""

    refusals: tuple[Reason, ...] = ()
    review: tuple[Reason, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.refusals

    def __add__(self, other: Decision) -> Decision:
        return Decision(self.refusals + other.refusals, self.review + other.review)


def check_age(settings: Settings, product: Product, birth_date: date, day: date) -> Decision:
    """Age in whole years on the visit day against the site's and the product's limits."""
    age = age_on(birth_date, day)
    refusals: list[Reason] = []
    review: list[Reason] = []
    rules = settings.age
    if age < rules.min_age_years:
        refusals.append(Reason("too_young", {"age": age, "min_age": rules.min_age_years}))
    elif rules.max_age_years is not None and age > rules.max_age_years:
        refusals.append(Reason("too_old", {"age": age, "max_age": rules.max_age_years}))
    if (product.min_age_years is not None and age < product.min_age_years) or (
        product.max_age_years is not None and age > product.max_age_years
    ):
        refusals.append(
            Reason(
                "product_age_limit",
                {
                    "age": age,
                    "product": product.name,
                    "min_age": product.min_age_years,
                    "max_age": product.max_age_years,
                },
            )
        )
    if rules.review_age_years is not None and age >= rules.review_age_years and not refusals:
        review.append(Reason("review_age", {"age": age, "review_age": rules.review_age_years}))
    return Decision(tuple(refusals), tuple(review))


def check_booking_time(settings: Settings, booking: Booking, now: datetime) -> Decision:
    """Right site, right day, and inside the booked window give or take the tolerances."""
    if booking.site_id != settings.site.id:
        return Decision((Reason("wrong_site", {"booked_site": booking.site_id}),))
    today = site_day(now, settings.site.timezone)
    if booking.visit_date != today:
        return Decision((Reason("wrong_day", {"booking_date": booking.visit_date.isoformat()}),))
    tolerance = settings.booking
    if booking.window_start is not None:
        opens = booking.window_start - timedelta(minutes=tolerance.early_tolerance_minutes)
        if now < opens:
            return Decision((Reason("too_early", _window(settings, booking, opens)),))
    if booking.window_end is not None:
        closes = booking.window_end + timedelta(minutes=tolerance.late_tolerance_minutes)
        if now > closes:
            return Decision((Reason("too_late", _window(settings, booking, closes)),))
    return Decision()


def _window(settings: Settings, booking: Booking, edge: datetime) -> dict[str, Any]:
    from zoneinfo import ZoneInfo

    zone = ZoneInfo(settings.site.timezone)

    def local(moment: datetime | None) -> str | None:
        return moment.astimezone(zone).strftime("%H:%M") if moment else None

    return {
        "window_start": local(booking.window_start),
        "window_end": local(booking.window_end),
        "edge": local(edge),
    }


def check_dose_schedule(
    settings: Settings,
    product: Product,
    dose_number: int,
    history: Sequence[PriorDose],
    day: date,
) -> Decision:
    """The series so far: complete, today already, same manufacturer, interval in range."""
    doses = sorted(history, key=lambda d: d.given_on)
    if any(d.given_on == day for d in doses):
        return Decision((Reason("already_vaccinated_today"),))
    series = [d for d in doses if d.manufacturer == product.manufacturer]
    if doses and len(series) >= product.doses_in_series:
        return Decision((Reason("series_complete", {"doses": len(series)}),))
    refusals: list[Reason] = []
    review: list[Reason] = []
    if dose_number > product.doses_in_series:
        refusals.append(Reason("series_complete", {"doses": dose_number - 1}))
        return Decision(tuple(refusals))
    if dose_number > 1:
        if not doses:
            review.append(Reason("prior_dose_unverified", {"dose_number": dose_number}))
            return Decision((), tuple(review))
        last = doses[-1]
        if last.manufacturer != product.manufacturer:
            refusals.append(
                Reason(
                    "manufacturer_mismatch",
                    {"previous": last.manufacturer, "booked": product.manufacturer},
                )
            )
        elapsed = (day - last.given_on).days
        if elapsed < product.min_interval_days:
            earliest = last.given_on + timedelta(days=product.min_interval_days)
            refusals.append(
                Reason(
                    "interval_too_short",
                    {
                        "days": elapsed,
                        "min_days": product.min_interval_days,
                        "earliest": earliest.isoformat(),
                    },
                )
            )
        elif product.max_interval_days is not None and elapsed > product.max_interval_days:
            review.append(
                Reason(
                    "interval_too_long",
                    {"days": elapsed, "max_days": product.max_interval_days},
                )
            )
    elif series:
        refusals.append(
            Reason("dose_number_mismatch", {"booked": dose_number, "expected": len(series) + 1})
        )
    return Decision(tuple(refusals), tuple(review))


def check_walk_in_capacity(issued: int, capacity: int) -> Decision:
    """Walk-in tickets while the day's capacity lasts."""
    if issued >= capacity:
        return Decision((Reason("walk_in_full", {"capacity": capacity}),))
    return Decision()


class Effect(StrEnum):
    """What a "yes" to a screening question does."""

    PASS = "pass"
    DEFER = "defer"
    REFER = "refer"


def check_screening(settings: Settings, answers: dict[str, bool]) -> Decision:
    """Contraindication answers: a deferring "yes" refuses today, a referring one needs a doctor."""
    refusals: list[Reason] = []
    review: list[Reason] = []
    for question in settings.questions:
        if answers.get(question.id):
            effect = Effect(question.effect)
            if effect is Effect.DEFER:
                refusals.append(Reason("deferred_by_screening", {"question": question.id}))
            elif effect is Effect.REFER:
                review.append(Reason("screening_review", {"question": question.id}))
    return Decision(tuple(refusals), tuple(review))


def assess(
    settings: Settings,
    *,
    product: Product,
    dose_number: int,
    birth_date: date | None,
    history: Sequence[PriorDose],
    now: datetime,
    booking: Booking | None = None,
) -> Decision:
    """Every rule that applies to one person today, refusals first."""
    day = site_day(now, settings.site.timezone)
    decision = Decision()
    if booking is not None:
        decision = decision + check_booking_time(settings, booking, now)
    if birth_date is not None:
        decision = decision + check_age(settings, product, birth_date, day)
    decision = decision + check_dose_schedule(settings, product, dose_number, history, day)
    return decision
