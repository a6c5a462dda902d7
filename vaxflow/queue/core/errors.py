"""The queue's exception tree: every refusal carries a reason code, a message and an HTTP status."""

from __future__ import annotations

from typing import Any


class QueueError(Exception):
    """A request the site cannot honour, with a stable reason code clients translate."""

    status = 409

    def __init__(self, reason: str, message: str, **details: Any) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message
        self.details = details

    def to_json(self) -> dict[str, Any]:
        """The error body: code, English message, every language's message and staff hints."""
        from vaxflow.queue.core import reasons

        body: dict[str, Any] = {"reason": self.reason, "message": self.message}
        if self.details:
            body["details"] = self.details
        body.update(reasons.describe(self.reason, self.details, self.message))
        return {"error": body}


class NotFound(QueueError):
    """The ticket, visit, booking or station does not exist."""

    status = 404


class Refused(QueueError):
    """The state of the site forbids this now (wrong state, capacity reached, too early)."""

    status = 409


class Invalid(QueueError):
    """The request itself is malformed or names something the site does not have."""

    status = 422


class DeviceRefused(QueueError):
    """A device the request needs is not working now (the exit printer); try again later."""

    status = 503
