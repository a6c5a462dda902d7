"""Who may be vaccinated today, and why not: pure rules returning reasons, driven by config.

Refusals end the check-in with a reason the person can read. Review reasons do not refuse:
they send the person to the doctor-review (or priority) lane, where a doctor decides.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Any

from vaxflow.config import Settings
from vaxflow.config.schema import Product
from vaxflow.queue.core.ages import check_age
from vaxflow.queue.core.booking import Booking, PriorDose
from vaxflow.queue.core.decision import Decision, Reason
from vaxflow.queue.core.engine import site_day
from vaxflow.queue.core.schedule import DosePlan, plan_dose

__all__ = [
    "Assessment",
    "Decision",
    "Reason",
    "assess",
    "check_age",
    "check_booking_time",
    "check_dose_schedule",
    "check_screening",
    "check_walk_in_capacity",
    "evaluate",
]


def check_booking_time(
    settings: Settings, booking: Booking, now: datetime, *, day: date | None = None
) -> Decision:
    """Right site, right day, and inside the booked window give or take the tolerances.

    `day` is the open site day, the one the check-in is numbered on (after staff close a
    day, or a clock set back, it is not the schedule's day for `now`); by default the
    schedule's."""
    if booking.site_id != settings.site.id:
        return Decision((Reason("wrong_site", {"booked_site": booking.site_id}),))
    today = day or site_day(now, settings.site.timezone, settings.site.day_turns_at)
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
    dose_number: int | None,
    history: Sequence[PriorDose],
    day: date,
    *,
    allow_switch: bool = False,
) -> Decision:
    """The dose schedule alone (no age): what `schedule.plan_dose` decides for this history;
    `dose_number` is only the claim it is compared with."""
    plan = plan_dose(
        settings, product, history, day=day, claimed=dose_number, allow_switch=allow_switch
    )
    return plan.decision


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


@dataclass(frozen=True)
class Assessment:
    """Every rule's outcome for one person today, and the dose the schedule decided."""

    plan: DosePlan
    decision: Decision


def evaluate(
    settings: Settings,
    *,
    product: Product,
    dose_number: int | None,
    birth_date: date | None,
    history: Sequence[PriorDose],
    now: datetime,
    booking: Booking | None = None,
    allow_switch: bool = False,
    day: date | None = None,
) -> Assessment:
    """Every rule that applies to one person on the open site day `day` (by default the
    schedule's day for `now`), refusals first; `dose_number` is the claimed one (booking or
    kiosk), which the history and the policy decide over."""
    day = day or site_day(now, settings.site.timezone, settings.site.day_turns_at)
    decision = Decision()
    if booking is not None:
        decision = decision + check_booking_time(settings, booking, now, day=day)
    plan = plan_dose(
        settings,
        product,
        history,
        day=day,
        birth_date=birth_date,
        claimed=dose_number,
        allow_switch=allow_switch,
    )
    return Assessment(plan, decision + plan.decision)


def assess(
    settings: Settings,
    *,
    product: Product,
    dose_number: int | None,
    birth_date: date | None,
    history: Sequence[PriorDose],
    now: datetime,
    booking: Booking | None = None,
) -> Decision:
    """The decision alone of `evaluate`."""
    return evaluate(
        settings,
        product=product,
        dose_number=dose_number,
        birth_date=birth_date,
        history=history,
        now=now,
        booking=booking,
    ).decision
