"""What a simulated day is made of: the scenario's inputs, the site it runs on, and its people.

Everything random about a person (arrival time, lane, product, every duration, whether they
turn up when called) is drawn here, before the day runs, from streams seeded by the scenario's
seed. Two runs that differ only in stations or seats therefore see the same people, so a sweep
compares sites, not luck (common random numbers).
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from typing import Literal
from zoneinfo import ZoneInfo

from vaxflow.config import Settings, Station
from vaxflow.queue.simulation.distributions import Distribution

ArrivalMode = Literal["poisson", "booked"]
Seats = int | Literal["unlimited"] | None

US_PER_MINUTE = 60_000_000
#: Longer than a site day on purpose: long horizons check the simulator against queueing theory.
MAX_HOURS = 10_000.0


def us(minutes: float) -> int:
    """Simulated time is kept in whole microseconds, the resolution of the engine's datetimes."""
    return round(minutes * US_PER_MINUTE)


def _share(name: str, value: float) -> None:
    if not math.isfinite(value) or not 0 <= value <= 1:
        raise ValueError(f"{name} must be a share between 0 and 1, not {value}")


@dataclass(frozen=True)
class Scenario:
    """A simulated day's inputs besides the site file; durations in minutes, rates per hour."""

    stations: int | None = None
    """Injection stations; None keeps the site file's. Stations not in it give every product."""
    seats: Seats = None
    """Observation chairs: a number, "unlimited", or None for the site file's."""
    walk_in_capacity: int | None = None
    """Walk-in tickets per day; None keeps the site file's."""
    arrival_mode: ArrivalMode = "poisson"
    """poisson: arrivals at random at `arrival_rate`; booked: booked slots plus walk-ins."""
    arrival_rate: float = 200.0
    """People arriving per hour while the doors are open."""
    people: int | None = None
    """Exactly this many arrivals over the day instead of `arrival_rate` x `hours`."""
    slot_minutes: float = 30.0
    """Length of a booking slot; booked people are due at their slot's start."""
    punctuality_sd: float = 10.0
    """Standard deviation of a booked person's arrival around the slot start, in minutes."""
    walk_in_share: float = 0.1
    """Share of arrivals without a booking."""
    no_show_share: float = 0.02
    """Share of people who check in but do not come when called (skipped, then no-show)."""
    defer_share: float = 0.01
    """Share of people deferred at the station instead of a dose."""
    adverse_share: float = 0.002
    """Share of dosed people flagged with an adverse reaction during observation."""
    transfer_share: float = 0.1
    """Share of adverse reactions that end in a transfer to hospital."""
    leave_early_share: float = 0.002
    """Share of dosed people who leave before their observation ends."""
    elderly_share: float = 0.2
    """Share of booked people at or over the site's review age (priority or review lane)."""
    product_mix: tuple[tuple[str, float], ...] = ()
    """Booked people's products and their weights; empty: even over the products loaded."""
    kiosks: int = 6
    """Check-in kiosks; 0 makes check-in instant."""
    kiosk_time: Distribution = field(default_factory=lambda: Distribution("lognormal", 1.0))
    """Minutes at a kiosk."""
    service_time: Distribution = field(default_factory=lambda: Distribution("lognormal", 3.0))
    """Minutes at the injection station, from arrival at the station to the dose."""
    walk_time: Distribution = field(default_factory=lambda: Distribution("lognormal", 0.5))
    """Minutes from being called to arriving at the station."""
    call_timeout_minutes: float = 1.0
    """How long a station waits for a called person before skipping (then recalling) them."""
    observation_minutes: int | None = None
    """Observation after the dose; None: each product's own."""
    exit_time: Distribution = field(default_factory=lambda: Distribution("exp", 1.0))
    """Minutes from the end of observation to the exit scan."""
    adverse_time: Distribution = field(default_factory=lambda: Distribution("exp", 20.0))
    """Minutes from an adverse flag to its resolution."""
    hours: float = 10.0
    """How long the doors are open for arrivals; everyone inside is then served to the end.

    More than 24 hours is allowed (one endless "day") to check long-run averages."""
    day: date = date(2026, 11, 23)
    """The simulated site day."""
    opens: time = time(8, 0)
    """When the doors open, site local time."""
    seed: int = 1

    def __post_init__(self) -> None:
        if self.stations is not None and self.stations < 1:
            raise ValueError(f"stations must be at least 1, not {self.stations}")
        if isinstance(self.seats, int) and self.seats < 1:
            raise ValueError(f"seats must be at least 1 (or unlimited), not {self.seats}")
        if self.walk_in_capacity is not None and self.walk_in_capacity < 0:
            raise ValueError(f"walk-in capacity must be >= 0, not {self.walk_in_capacity}")
        if not math.isfinite(self.arrival_rate) or self.arrival_rate < 0:
            raise ValueError(f"arrival rate must be >= 0 people per hour, not {self.arrival_rate}")
        if self.people is not None and self.people < 0:
            raise ValueError(f"people must be >= 0, not {self.people}")
        if not math.isfinite(self.hours) or not 0 < self.hours <= MAX_HOURS:
            raise ValueError(f"hours must be more than 0 and at most {MAX_HOURS}, not {self.hours}")
        if not math.isfinite(self.slot_minutes) or self.slot_minutes <= 0:
            raise ValueError(f"slot minutes must be > 0, not {self.slot_minutes}")
        if not math.isfinite(self.punctuality_sd) or self.punctuality_sd < 0:
            raise ValueError(f"punctuality sd must be >= 0 minutes, not {self.punctuality_sd}")
        if not math.isfinite(self.call_timeout_minutes) or self.call_timeout_minutes <= 0:
            raise ValueError("call timeout must be > 0 minutes")
        if self.kiosks < 0:
            raise ValueError(f"kiosks must be >= 0, not {self.kiosks}")
        if self.observation_minutes is not None and not 0 <= self.observation_minutes <= 240:
            raise ValueError("observation minutes must be between 0 and 240")
        for name in (
            "walk_in_share",
            "no_show_share",
            "defer_share",
            "adverse_share",
            "transfer_share",
            "leave_early_share",
            "elderly_share",
        ):
            _share(name.replace("_", " "), getattr(self, name))
        for code, weight in self.product_mix:
            if not math.isfinite(weight) or weight < 0:
                raise ValueError(f"product mix weight of {code} must be >= 0")
        if self.product_mix and sum(w for _, w in self.product_mix) <= 0:
            raise ValueError("the product mix needs a positive weight")


# --- the site ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Site:
    """The site file as this scenario changes it: stations, the product each loads, chairs."""

    settings: Settings
    loads: tuple[str, ...]
    """The product each station (in `settings.stations` order) is opened with."""
    seats: int | None
    """Observation chairs; None for unlimited."""
    walk_in_capacity: int
    mix: dict[str, float]
    """Share of all arrivals wanting each product (walk-ins included)."""
    walk_in_product: str
    opens_at: datetime
    """Doors open, UTC."""


def _stations(settings: Settings, count: int | None) -> list[Station]:
    if count is None:
        return list(settings.stations)
    known = {s.id: s for s in settings.stations}
    every = [p.code for p in settings.products]
    out = []
    for i in range(1, count + 1):
        sid = f"S{i:02d}"
        out.append(
            known.get(sid) or Station(id=sid, name=f"Station {i}", zone="Sim", products=every)
        )
    return out


def _load_plan(stations: list[Station], mix: dict[str, float]) -> list[str]:
    """Give each station one product so that station counts follow demand.

    Stations with the fewest choices pick first; each takes the product furthest below its
    share of stations. A product in demand that no station took borrows one from a product
    that has several.
    """
    count = len(stations)
    assigned = {code: 0 for code in mix}
    loads = [""] * count
    order = sorted(range(count), key=lambda i: (len(stations[i].products), i))
    for i in order:
        wanted = [p for p in stations[i].products if mix.get(p, 0) > 0]
        if not wanted:
            loads[i] = stations[i].products[0]
            continue
        pick = max(wanted, key=lambda p: (mix[p] - assigned[p] / count, -wanted.index(p)))
        loads[i] = pick
        assigned[pick] += 1
    for code, share in mix.items():
        if share <= 0 or assigned[code] > 0:
            continue
        donor = next(
            (
                i
                for i in range(count)
                if code in stations[i].products and assigned.get(loads[i], 0) > 1
            ),
            None,
        )
        if donor is None:
            raise ValueError(
                f"no station is left to open with {code}, yet people want it: "
                "add stations, or leave it out of the product mix"
            )
        assigned[loads[donor]] -= 1
        loads[donor] = code
        assigned[code] = 1
    return loads


def build_site(settings: Settings, scenario: Scenario) -> Site:
    """Apply the scenario's stations, chairs and product mix to the site file."""
    stations = _stations(settings, scenario.stations)
    if not stations:
        raise ValueError("the site has no stations")
    codes = [p.code for p in settings.products]
    walk_in_product = settings.walk_in.default_product or codes[0]
    if scenario.product_mix:
        for code, _ in scenario.product_mix:
            if code not in codes:
                raise ValueError(f"product {code!r} is not in the site file ({', '.join(codes)})")
        total = sum(w for _, w in scenario.product_mix)
        booked = {code: w / total for code, w in scenario.product_mix}
    else:
        offered = [c for c in codes if any(c in s.products for s in stations)]
        booked = {code: 1 / len(offered) for code in offered}
    w = scenario.walk_in_share
    mix = {code: (1 - w) * booked.get(code, 0.0) for code in codes}
    mix[walk_in_product] += w
    seats = settings.observation.seats if scenario.seats is None else scenario.seats
    capacity = (
        settings.walk_in.daily_capacity
        if scenario.walk_in_capacity is None
        else scenario.walk_in_capacity
    )
    local = datetime.combine(scenario.day, scenario.opens, tzinfo=ZoneInfo(settings.site.timezone))
    return Site(
        settings=settings.model_copy(update={"stations": stations}),
        loads=tuple(_load_plan(stations, mix)),
        seats=None if seats == "unlimited" else seats,
        walk_in_capacity=capacity,
        mix={code: share for code, share in mix.items() if share > 0},
        walk_in_product=walk_in_product,
        opens_at=local.astimezone(UTC),
    )


# --- the people --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Person:
    """One arrival and everything chance decides about them; times in microseconds."""

    index: int
    arrival_us: int
    walk_in: bool
    age: int
    product: str
    kiosk_us: int
    walk_us: int
    service_us: int
    exit_us: int
    no_show: bool
    defer: bool
    adverse_at: float | None
    """When in the observation a reaction is flagged, as a fraction of it; None: never."""
    adverse_us: int
    transferred: bool
    leave_at: float | None
    """When in the observation the person walks out, as a fraction of it; None: stays."""


def _arrival_minutes(scenario: Scenario, rng: random.Random) -> list[tuple[float, bool]]:
    """(minute after opening, walk-in?) for every arrival, in no particular order."""
    span = scenario.hours * 60
    if scenario.arrival_mode == "poisson":
        if scenario.people is not None:
            times = [rng.uniform(0, span) for _ in range(scenario.people)]
        else:
            times, t = [], 0.0
            per_minute = scenario.arrival_rate / 60
            while per_minute > 0:
                t += rng.expovariate(per_minute)
                if t >= span:
                    break
                times.append(t)
        return [(t, rng.random() < scenario.walk_in_share) for t in times]
    total = (
        scenario.people
        if scenario.people is not None
        else round(scenario.arrival_rate * scenario.hours)
    )
    walk_ins = [rng.random() < scenario.walk_in_share for _ in range(total)]
    booked = total - sum(walk_ins)
    slots = max(1, math.ceil(span / scenario.slot_minutes))
    out: list[tuple[float, bool]] = []
    k = 0
    latest = span - 1 / US_PER_MINUTE
    for walk_in in walk_ins:
        if walk_in:
            out.append((rng.uniform(0, span), True))
            continue
        slot_start = (k * slots // max(booked, 1)) * scenario.slot_minutes
        k += 1
        t = (
            slot_start + rng.gauss(0, scenario.punctuality_sd)
            if scenario.punctuality_sd
            else slot_start
        )
        out.append((min(max(t, 0.0), latest), False))
    return out


def plan_people(scenario: Scenario, site: Site) -> list[Person]:
    """Every person of the day, sorted by arrival, from streams seeded by `scenario.seed`."""

    def stream(name: str) -> random.Random:
        return random.Random(f"vaxflow-sim:{scenario.seed}:{name}")

    arrivals = sorted(_arrival_minutes(scenario, stream("arrivals")))
    who, times, fate = stream("who"), stream("times"), stream("fate")
    age_rules = site.settings.age
    review = age_rules.review_age_years
    booked_codes = [c for c in site.mix]
    walk_in_share = scenario.walk_in_share
    booked_weights = [
        site.mix[c] - (walk_in_share if c == site.walk_in_product else 0.0) for c in booked_codes
    ]
    if sum(booked_weights) <= 0:
        booked_weights = [1.0] * len(booked_codes)
    oldest = age_rules.max_age_years or 95
    people = []
    for index, (minute, walk_in) in enumerate(arrivals):
        if review is not None and who.random() < scenario.elderly_share:
            age = who.randint(review, max(review, oldest))
        else:
            top = review - 1 if review is not None else oldest
            age = who.randint(age_rules.min_age_years, max(age_rules.min_age_years, top))
        product = (
            site.walk_in_product
            if walk_in
            else who.choices(booked_codes, weights=booked_weights)[0]
        )
        adverse = fate.random() < scenario.adverse_share
        leaves = fate.random() < scenario.leave_early_share
        people.append(
            Person(
                index=index,
                arrival_us=us(minute),
                walk_in=walk_in,
                age=age,
                product=product,
                kiosk_us=us(scenario.kiosk_time.sample(times)) if scenario.kiosks else 0,
                walk_us=us(scenario.walk_time.sample(times)),
                service_us=us(scenario.service_time.sample(times)),
                exit_us=us(scenario.exit_time.sample(times)),
                no_show=fate.random() < scenario.no_show_share,
                defer=fate.random() < scenario.defer_share,
                adverse_at=fate.random() if adverse else None,
                adverse_us=us(scenario.adverse_time.sample(times)),
                transferred=fate.random() < scenario.transfer_share,
                leave_at=fate.random() if leaves else None,
            )
        )
    return people
