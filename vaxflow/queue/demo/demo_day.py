"""The demo's day list: the adults of `demo_data`, plus the people the schedule policy is for.

A site's real day holds more than first and second doses of adults. Mixed into the list,
with shares a 2022 site would see (fixed, so a run is reproducible):

- boosters (12 %): a completed inactivated series 7-11 months ago, booked as the next dose,
  three in four of the same product, the rest any product a rule allows (heterologous too);
- children 3-17 (8 %) with a guardian who shows their own card, says the relation and agrees
  to the consent; one guardian in eight is a grandparent, whom a doctor sees (review lane);
- one person in a hundred whose earlier dose is another manufacturer's booking that product's
  "dose 1": refused at check-in (`manufacturer_mismatch`, naming the earlier dose);
- card-only (10 % of the booked, across every kind): they bring only the ID card, so the kiosk
  sends a walk-in body and the server finds their booking by the number.

`DemoPerson` says what the kiosk sends for each and what must happen, so the demo's simulated
kiosks and the soak (benchmarks/soak.py) drive the same people and check the same outcome.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date, timedelta
from typing import Any

from stdnum.cn import ric

from vaxflow.config import Product, Settings
from vaxflow.queue.core.booking import Booking, PriorDose
from vaxflow.queue.core.engine import age_on
from vaxflow.queue.demo.demo_data import _GIVEN, _REGIONS, make_people

BOOSTER_SHARE = 0.12
CHILD_SHARE = 0.08
OTHER_MAKER_SHARE = 0.01
CARD_ONLY_SHARE = 0.10
GRANDPARENT_SHARE = 0.125


@dataclass(frozen=True)
class DemoPerson:
    """A person on the day list, what their kiosk sends besides the booking, and the outcome."""

    booking: Booking
    kind: str  # "adult", "booster", "child" or "other_maker"
    guardian: dict[str, Any] | None = None  # the guardian's card, relation and consent
    card_only: bool = False  # only the ID card: sent as a walk-in, found by its number
    refused: str = ""  # the reason check-in refuses them with; "" for a ticket
    review: bool = False  # a doctor sees them for a reason other than age (the lane)

    @property
    def id_number(self) -> str:
        return self.booking.id_number


def _resident_id(rng: random.Random, birth: date, sex: str) -> str:
    order = rng.randrange(0, 500) * 2 + (1 if sex == "male" else 0)
    body = f"{rng.choice(_REGIONS)}{birth:%Y%m%d}{order:03d}"
    return body + ric.calc_check_digit(body + "0")


def _given(rng: random.Random) -> str:
    return "".join(rng.choice(_GIVEN) for _ in range(rng.choice((1, 2))))


def _given_here(settings: Settings) -> list[Product]:
    codes = {code for station in settings.stations for code in station.products}
    return [p for p in settings.products if p.code in codes]


def _series(product: Product, doses: int, last: date) -> tuple[PriorDose, ...]:
    """`doses` earlier doses of `product`, the last on `last`, a week past each interval."""
    gap = timedelta(days=product.min_interval_days + 7)
    return tuple(
        PriorDose(last - gap * (doses - n), product.code, product.manufacturer, n)
        for n in range(1, doses + 1)
    )


def _booster_options(settings: Settings, day: date) -> list[tuple[Product, Product]]:
    """(series product, booked booster product) pairs a rule in effect on `day` allows."""
    given = _given_here(settings)
    related: dict[str, Callable[[Product, Product], bool]] = {
        "same_manufacturer": lambda a, b: a.manufacturer == b.manufacturer,
        "same_platform": lambda a, b: a.platform is not None and a.platform == b.platform,
        "other_platform": lambda a, b: (
            None not in (a.platform, b.platform) and a.platform != b.platform
        ),
        "any": lambda a, b: True,
    }
    pairs = []
    for rule in settings.boosters:
        if rule.in_effect(day) and rule.number == 1:
            for first in given:
                if rule.covers(first) and first.doses_in_series > 1:
                    pairs += [
                        (first, booked)
                        for booked in given
                        if (not rule.products or booked.code in rule.products)
                        and related[rule.relation](first, booked)
                    ]
    return pairs


def _booster(settings: Settings, person: Booking, day: date, rng: random.Random) -> Booking | None:
    """The person as a booked booster after a completed series (7-11 months ago), if a rule
    in effect allows one: three in four of the same product, the rest any a rule allows."""
    pairs = _booster_options(settings, day)
    if not pairs:
        return None
    same = [pair for pair in pairs if pair[0] == pair[1]]
    first, booked = rng.choice(same if same and rng.random() < 0.75 else pairs)
    months = max(rule.months_after_completion for rule in settings.boosters) + rng.randint(1, 5)
    prior = _series(first, first.doses_in_series, day - timedelta(days=months * 31))
    return replace(person, product=booked.code, dose_number=len(prior) + 1, prior_doses=prior)


def _child(
    settings: Settings, person: Booking, day: date, rng: random.Random
) -> tuple[Booking, dict[str, Any]] | None:
    """The person as a child of a band in effect, with a parent (or a grandparent)."""
    given = {p.code: p for p in _given_here(settings)}
    bands = [
        band
        for band in settings.age_bands
        if band.in_effect(day)
        and band.min_age_years < 18
        and any(code in given for code in (band.products or given))
    ]
    if not bands:
        return None
    band = rng.choice(bands)
    age = rng.randint(band.min_age_years, min(17, band.max_age_years or 17))
    birth = day - timedelta(days=age * 365 + rng.randint(10, 340))
    if age_on(birth, day) != age:
        birth = day - timedelta(days=age * 365 + 180)
    product = given[rng.choice([c for c in (band.products or given) if c in given])]
    dose = rng.randint(1, product.doses_in_series)
    prior = _series(product, dose - 1, day - timedelta(days=product.min_interval_days + 7))
    surname = person.person_name[0]
    child = replace(
        person,
        person_name=surname + _given(rng),
        id_number=_resident_id(rng, birth, person.sex or "female"),
        birth_date=birth,
        product=product.code,
        dose_number=dose,
        prior_doses=prior,
    )
    grandparent = rng.random() < GRANDPARENT_SHARE
    years = rng.randint(50, 70) if grandparent else rng.randint(24, 40)
    guardian_birth = birth - timedelta(days=years * 365 + rng.randint(0, 300))
    guardian = {
        "id_type": "cn_resident",
        "id_number": _resident_id(rng, guardian_birth, rng.choice(("male", "female"))),
        "name": surname + _given(rng),
        "relation": "grandparent" if grandparent else "parent",
        "consent_version": settings.consent.version,
    }
    return child, guardian


def _other_maker(settings: Settings, person: Booking, day: date, rng: random.Random) -> Booking:
    """Someone with one dose of one manufacturer who books another manufacturer's dose 1."""
    given = [p for p in _given_here(settings) if p.doses_in_series > 1]
    earlier = rng.choice(given)
    others = [p for p in _given_here(settings) if p.manufacturer != earlier.manufacturer]
    booked = rng.choice(others)
    ago = earlier.min_interval_days + rng.randint(0, 14)
    prior = (PriorDose(day - timedelta(days=ago), earlier.code, earlier.manufacturer, 1),)
    return replace(person, product=booked.code, dose_number=1, prior_doses=prior)


def make_day(settings: Settings, day: date, count: int, seed: int = 7) -> list[DemoPerson]:
    """`count` people on the day list for `day` (codes DEMO0001...), deterministic by `seed`."""
    rng = random.Random(seed * 31 + 3)
    people = []
    for person in make_people(settings, day, count, seed=seed):
        roll = rng.random()
        card_only = rng.random() < CARD_ONLY_SHARE
        demo = DemoPerson(person, "adult", card_only=card_only)
        if roll < BOOSTER_SHARE:
            booster = _booster(settings, person, day, rng)
            if booster is not None:
                demo = DemoPerson(booster, "booster", card_only=card_only)
        elif roll < BOOSTER_SHARE + CHILD_SHARE:
            child = _child(settings, person, day, rng)
            if child is not None:
                review = child[1]["relation"] not in ("parent", "legal_guardian")
                demo = DemoPerson(child[0], "child", child[1], card_only, review=review)
        elif roll < BOOSTER_SHARE + CHILD_SHARE + OTHER_MAKER_SHARE:
            mixed = _other_maker(settings, person, day, rng)
            demo = DemoPerson(mixed, "other_maker", None, card_only, "manufacturer_mismatch")
        people.append(demo)
    return people


def kiosk_body(person: DemoPerson, shown: dict[str, Any]) -> dict[str, Any]:
    """What the kiosk sends for `person` (without the answers): the scanned booking `shown`
    with the ID card, or the card alone as a walk-in; a child's guardian either way."""
    booking = person.booking
    card = {
        "id_type": booking.id_type,
        "id_number": booking.id_number,
        "name": booking.person_name,
        "sex": booking.sex,
    }
    body: dict[str, Any] = {"walk_in": card} if person.card_only else {**shown, "id_card": card}
    if person.guardian is not None:
        body["guardian"] = dict(person.guardian)
    return body
