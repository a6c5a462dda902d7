"""A rule's outcome: reasons that refuse, reasons that send a person to a doctor, and notes."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Reason:
    """A reason code and the values its message needs ("{min_age}", "{earliest}")."""

    code: str
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Decision:
    """The outcome of the rules: refusals stop the check-in; review routes to a doctor; notes
    go to the station console without changing the lane ("complete as soon as possible")."""

    refusals: tuple[Reason, ...] = ()
    review: tuple[Reason, ...] = ()
    notes: tuple[Reason, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.refusals

    def __add__(self, other: Decision) -> Decision:
        return Decision(
            self.refusals + other.refusals,
            self.review + other.review,
            self.notes + other.notes,
        )
