"""Test people: distinct valid resident ID numbers, and complete check-in requests for them."""

from __future__ import annotations

from datetime import date

from stdnum.cn import ric

from vaxflow.config import Settings
from vaxflow.queue.ops.checkin import CheckInRequest, WalkInPerson


def resident_id(n: int, birth: date = date(1990, 3, 7)) -> str:
    body = f"110101{birth:%Y%m%d}{n % 1000:03d}"
    return body + ric.calc_check_digit(body + "0")


def walk_in_person(n: int, birth: date = date(1990, 3, 7)) -> WalkInPerson:
    return WalkInPerson(f"王芳{n}", resident_id(n, birth), birth)


def walk_in_body(settings: Settings, n: int, birth: date = date(1990, 3, 7)) -> dict[str, object]:
    """The JSON a kiosk sends for a walk-in who answered no to everything and agreed."""
    return {
        "walk_in": {"name": f"王芳{n}", "id_number": resident_id(n, birth)},
        "answers": {q.id: False for q in settings.questions},
        "consent_version": settings.consent.version,
    }


def walk_in_request(settings: Settings, n: int) -> CheckInRequest:
    return CheckInRequest(
        walk_in=walk_in_person(n),
        answers={q.id: False for q in settings.questions},
        consent_version=settings.consent.version,
    )
