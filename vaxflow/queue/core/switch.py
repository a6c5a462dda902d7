"""Completing a series with another manufacturer: a doctor's decision at the station, never
the kiosk's.

In 2021 a series could be completed with another manufacturer's product when the first one was
unavailable, but only as a doctor's recorded decision. The kiosk therefore does not refuse
such a person outright: when the manufacturer is the only obstacle to the next dose of the
series, the ticket goes to the doctor-review lane with `manufacturer_switch_needs_doctor`,
naming both manufacturers. What the policy forbids outright stays refused: a claimed "dose 1"
(a new series while one is in progress), a dose too soon, a completed series, a wrong day.

Pure: decisions in, decisions out.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum
from typing import Any

from vaxflow.queue.core.decision import Decision, Reason

#: The schedule's refusal when the next dose is another manufacturer's (schedule.py).
MISMATCH = "manufacturer_mismatch"
#: The schedule's note when a doctor allowed the switch (`plan_dose(allow_switch=True)`).
SWITCHED = "manufacturer_switched"
#: The review reason a ticket carries until a doctor decides at the station.
NEEDS_DOCTOR = "manufacturer_switch_needs_doctor"


class DecisionKind(StrEnum):
    """What a doctor decides at the station (one kind today)."""

    MANUFACTURER_SWITCH = "manufacturer_switch"


#: The review reason each kind of decision answers.
NEEDED_BY: dict[DecisionKind, str] = {DecisionKind.MANUFACTURER_SWITCH: NEEDS_DOCTOR}


def route_switch(decision: Decision, claimed: int | None) -> Decision:
    """At check-in: another manufacturer for the next dose of a series in progress, with no
    other refusal, goes to a doctor instead of being refused. A claimed dose 1 is a new
    series while one is in progress: that stays refused."""
    if claimed == 1 or {r.code for r in decision.refusals} != {MISMATCH}:
        return decision
    needs = tuple(Reason(NEEDS_DOCTOR, r.params) for r in decision.refusals)
    return Decision((), decision.review + needs, decision.notes)


def switch_of(notes: Iterable[Reason]) -> dict[str, Any] | None:
    """The switch a plan made with `allow_switch=True` (both manufacturers, the earlier dose's
    date and product), or None when the dose is not another manufacturer's."""
    for note in notes:
        if note.code == SWITCHED:
            return dict(note.params)
    return None


def needs_decision(review_codes: Iterable[str]) -> list[DecisionKind]:
    """The decisions a ticket waits for, from its review reasons."""
    codes = set(review_codes)
    return [kind for kind, code in NEEDED_BY.items() if code in codes]
