"""Masking of personal data: full ID numbers appear only on the verifying staff console."""

from __future__ import annotations

import hashlib
import hmac


def mask_id_number(number: str) -> str:
    """Keep the first 4 and last 4 characters: 450102199001011234 -> 4501**********1234."""
    number = number.strip()
    if len(number) <= 8:
        return "*" * len(number)
    return number[:4] + "*" * (len(number) - 8) + number[-4:]


def mask_name(name: str) -> str:
    """Hide the middle of a name: 张小明 -> 张*明, 张三 -> 张*, John Smith -> J*** S****."""
    name = name.strip()
    if not name:
        return ""
    if " " in name:
        return " ".join(part[0] + "*" * (len(part) - 1) for part in name.split() if part)
    if len(name) == 1:
        return name
    if len(name) == 2:
        return name[0] + "*"
    return name[0] + "*" * (len(name) - 2) + name[-1]


def mask_code(code: str) -> str:
    """A booking code as the kiosk shows it: the last four to recognise it, not to reuse it."""
    return "*" * (len(code) - 4) + code[-4:] if len(code) > 4 else "*" * len(code)


def person_key(secret: str, id_number: str) -> str:
    """The keyed hash (HMAC-SHA256, hex) the region knows a person by instead of the ID number;
    every site of a city shares `secret`, so one person has one key at every site."""
    message = id_number.strip().upper().encode("utf-8")
    return hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()


#: States in which a station is serving a person: called to it, or at it being vaccinated.
SERVING_STATES = frozenset({"called", "recalled", "in_service"})


def serves(
    *,
    role: str,
    own_station: str | None,
    shared: bool,
    visit_station: str | None,
    visit_state: str,
) -> bool:
    """Whether a caller may see a person's full ID number and health answers: only a station
    serving that person right now. A station's own device token names its station; a shared
    station token (a demo site only) counts as whichever station the person is at."""
    if role != "station" or visit_station is None or visit_state not in SERVING_STATES:
        return False
    if own_station is None:
        return shared
    return own_station == visit_station
