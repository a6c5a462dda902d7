"""The outbox's rules (pure): targets, states, what a receiver's answer means, when to retry.

A record that must leave the site is a row written in the transaction of the change it
reports; one worker per target sends the rows in order. A receiver's answer is one of three
things: done (stored or already stored), needs fixing (the receiver refuses this record as
it is: a person must look, resending it unchanged would be refused again), or retry later
(the receiver or the WAN is down). Waits between attempts grow exponentially, with jitter so
that many sites coming back after one outage do not all knock at the same second.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any


class Target(StrEnum):
    """Where a row goes."""

    FHIR = "fhir"
    HL7 = "hl7"
    BOOKING = "booking"


#: Targets that take dose records (a dose row is written once for each configured one).
REGISTRIES = (Target.FHIR, Target.HL7)


class Kind(StrEnum):
    """What a row reports."""

    DOSE = "dose"
    BOOKING_USED = "booking_used"
    BOOKING_DOSED = "booking_dosed"
    BOOKING_NO_SHOW = "booking_no_show"


class Action(StrEnum):
    """HL7 v2 RXA-21: a dose added, updated (a reaction, a correction) or struck out."""

    ADD = "A"
    UPDATE = "U"
    DELETE = "D"


class OutboxState(StrEnum):
    """A row's life: pending until the receiver acknowledged it or refused it."""

    PENDING = "pending"
    SENT = "sent"
    NEEDS_FIXING = "needs_fixing"


class Outcome(StrEnum):
    """What one attempt's answer means."""

    DONE = "done"
    NEEDS_FIXING = "needs_fixing"
    RETRY = "retry"


@dataclass(frozen=True)
class Verdict:
    """One attempt's outcome and the receiver's words (or what went wrong on the way)."""

    outcome: Outcome
    detail: str = ""


def dose_key(site_id: str, dose_id: int) -> str:
    """The stable id of a dose outside the site (the FHIR identifier's value, HL7 ORC-3)."""
    return f"{site_id}/{dose_id}"


def booking_key(kind: Kind, code: str) -> str:
    """The stable id of a booking write-off (one per booking and kind)."""
    return f"{kind.value}/{code}"


def message_id(site_id: str, row_id: int) -> str:
    """HL7 MSH-10 of a row: the same on every resend, so the receiver can drop a repeat."""
    return f"{site_id}-{row_id}"[:50]


def backoff(attempts: int, *, base_seconds: float, max_seconds: float, jitter: float) -> timedelta:
    """The wait after the `attempts`-th failure: base × 2^(attempts−1), capped, times a
    factor in [0.5, 1) taken from `jitter` in [0, 1)."""
    if attempts < 1:
        raise ValueError("attempts start at 1")
    if not 0.0 <= jitter < 1.0:
        raise ValueError("jitter is in [0, 1)")
    raw = min(max_seconds, base_seconds * 2.0 ** min(attempts - 1, 30))
    return timedelta(seconds=raw * (0.5 + jitter / 2.0))


def http_verdict(status: int, body: Any) -> Verdict:
    """A FHIR server's or the booking service's answer: 2xx done; 408, 425, 429 and 5xx
    retry; any other 4xx needs fixing, with the OperationOutcome's words when it sent one."""
    if 200 <= status < 300:
        return Verdict(Outcome.DONE)
    words = operation_outcome_text(body) or f"HTTP {status}"
    if status in (408, 425, 429) or status >= 500:
        return Verdict(Outcome.RETRY, f"HTTP {status}: {words}")
    if 400 <= status < 500:
        return Verdict(Outcome.NEEDS_FIXING, f"HTTP {status}: {words}")
    return Verdict(Outcome.RETRY, f"HTTP {status}")


def operation_outcome_text(body: Any) -> str:
    """The issues of a FHIR OperationOutcome as one line ("" when there is none)."""
    if not isinstance(body, Mapping) or body.get("resourceType") != "OperationOutcome":
        return ""
    parts = []
    for issue in body.get("issue") or []:
        if not isinstance(issue, Mapping):
            continue
        text = issue.get("diagnostics") or (issue.get("details") or {}).get("text") or ""
        where = ", ".join(str(e) for e in issue.get("expression") or [])
        parts.append(f"{text} ({where})" if where and where not in str(text) else str(text))
    return "; ".join(p for p in parts if p)[:1000]


def ack_verdict(code: str, text: str = "") -> Verdict:
    """An HL7 v2 ACK's MSA-1: AA/CA done, AE/CE needs fixing, AR/CR (or anything else) retry."""
    code = code.strip().upper()
    if code in ("AA", "CA"):
        return Verdict(Outcome.DONE)
    if code in ("AE", "CE"):
        return Verdict(Outcome.NEEDS_FIXING, f"{code}: {text}".strip(": "))
    return Verdict(Outcome.RETRY, f"{code or 'no MSA-1'}: {text}".strip(": "))


def overdue(created_at: datetime, now: datetime, hours: float) -> bool:
    """Whether a pending row has waited longer than `hours`."""
    return now - created_at > timedelta(hours=hours)


#: Where one dose stands with one registry (the daily summary's reconciliation, issue 15).
ACKNOWLEDGED, WAITING, NEEDS_FIXING_NOW, NEVER_QUEUED = (
    "acknowledged",
    "waiting",
    "needs_fixing",
    "never_queued",
)
DOSE_STANDINGS = (ACKNOWLEDGED, WAITING, NEEDS_FIXING_NOW, NEVER_QUEUED)


def dose_standing(states: set[str]) -> str:
    """A dose's standing with a registry from the states of its rows there: acknowledged when
    every row was (the add, its updates, a strike-out), needs fixing when any row does,
    waiting while any is pending, never queued without rows (the target came later)."""
    if not states:
        return NEVER_QUEUED
    if OutboxState.NEEDS_FIXING.value in states:
        return NEEDS_FIXING_NOW
    if OutboxState.PENDING.value in states:
        return WAITING
    return ACKNOWLEDGED
