"""Which dose a person may have today, decided from their whole dose history and the site's
dated policy, never from what a booking or a kiosk claims.

Pure: the settings, the product booked, the earlier doses, the birth date and the visit day
(site time) go in; a `DosePlan` comes out: primary or booster, the dose number, which earlier
doses counted and which did not (and why), and the reasons that refuse, need a doctor or only
note something for the station.
"""

from __future__ import annotations

import calendar
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum
from typing import Any

from vaxflow.config import Settings
from vaxflow.config.schema import BoosterRule, Product
from vaxflow.queue.core.ages import check_age
from vaxflow.queue.core.booking import PriorDose
from vaxflow.queue.core.decision import Decision, Reason
from vaxflow.queue.core.engine import age_on

_NOT_A_LETTER = re.compile(r"[\W_]+")


def _norm(text: str) -> str:
    """Names as records spell them: case, width, spaces and punctuation do not matter."""
    return _NOT_A_LETTER.sub("", unicodedata.normalize("NFKC", text).casefold())


class DoseKind(StrEnum):
    """A dose of the primary series, or a booster after it."""

    PRIMARY = "primary"
    BOOSTER = "booster"


class NotCounted(StrEnum):
    """Why an earlier dose on record does not count."""

    DUPLICATE = "duplicate"  # the same day and manufacturer from another source: counted once
    UNKNOWN_PRODUCT = "unknown_product"  # no product in [[products]] matches it
    TOO_SOON = "interval_too_short"  # given before the series' minimum interval
    SAME_DAY = "same_day"  # another manufacturer's dose on a day that already has one
    AFTER_VISIT_DAY = "after_visit_day"  # dated after the visit day: a record's error


@dataclass(frozen=True)
class CountedDose:
    """An earlier dose that counts: the record, the product it is, and its place."""

    dose: PriorDose
    product: Product
    kind: DoseKind
    number: int  # 1, 2, ... among every counted dose, boosters included

    def as_dict(self) -> dict[str, Any]:
        return {
            "given_on": self.dose.given_on.isoformat(),
            "product": self.product.code,
            "manufacturer": self.product.manufacturer,
            "kind": self.kind.value,
            "dose_number": self.number,
        }


@dataclass(frozen=True)
class IgnoredDose:
    """An earlier dose on record that does not count, and why."""

    dose: PriorDose
    why: NotCounted

    def as_dict(self) -> dict[str, Any]:
        return {
            "given_on": self.dose.given_on.isoformat(),
            "product": self.dose.product,
            "manufacturer": self.dose.manufacturer,
            "why": self.why.value,
        }


@dataclass(frozen=True)
class History:
    """A person's earlier doses read against the catalogue: the series, its state, boosters."""

    counted: tuple[CountedDose, ...] = ()
    ignored: tuple[IgnoredDose, ...] = ()

    @property
    def primary(self) -> tuple[CountedDose, ...]:
        return tuple(d for d in self.counted if d.kind is DoseKind.PRIMARY)

    @property
    def boosters(self) -> tuple[CountedDose, ...]:
        return tuple(d for d in self.counted if d.kind is DoseKind.BOOSTER)

    @property
    def series(self) -> Product | None:
        """The product of dose 1: its series rules apply to the whole primary series."""
        return self.counted[0].product if self.counted else None

    @property
    def complete(self) -> bool:
        series = self.series
        return series is not None and len(self.primary) >= series.doses_in_series

    @property
    def last(self) -> CountedDose | None:
        return self.counted[-1] if self.counted else None


def match_product(settings: Settings, dose: PriorDose) -> Product | None:
    """The catalogue's product for a record: by code, name or alias, else by manufacturer."""
    key = _norm(dose.product)
    if key:
        for product in settings.products:
            names = {product.code, product.name, *product.aliases}
            if key in {_norm(name) for name in names}:
                return product
    maker = _norm(dose.manufacturer)
    if maker:
        for product in settings.products:
            if _norm(product.manufacturer) == maker:
                return product
    return None


def _order(dose: PriorDose) -> tuple[date, str, str, int]:
    return (dose.given_on, _norm(dose.manufacturer), _norm(dose.product), dose.dose_number or 0)


def read_history(
    settings: Settings, doses: Sequence[PriorDose], day: date | None = None
) -> History:
    """Count the earlier doses in date order; the result does not depend on the input order,
    and one dose reported by two sources (same day, same manufacturer) counts once. Doses
    dated after the visit `day` do not count."""
    counted: list[CountedDose] = []
    ignored: list[IgnoredDose] = []
    seen: set[tuple[date, str]] = set()
    for dose in sorted(doses, key=_order):
        if day is not None and dose.given_on > day:
            ignored.append(IgnoredDose(dose, NotCounted.AFTER_VISIT_DAY))
            continue
        product = match_product(settings, dose)
        # an unknown product without a manufacturer is told apart by its own name
        named = product.manufacturer if product else dose.manufacturer or dose.product
        maker = _norm(named)
        if (dose.given_on, maker) in seen:
            ignored.append(IgnoredDose(dose, NotCounted.DUPLICATE))
            continue
        seen.add((dose.given_on, maker))
        if product is None:
            ignored.append(IgnoredDose(dose, NotCounted.UNKNOWN_PRODUCT))
            continue
        history = History(tuple(counted))
        last = history.last
        if last is not None and last.dose.given_on == dose.given_on:
            ignored.append(IgnoredDose(dose, NotCounted.SAME_DAY))
            continue
        series = history.series
        if series is None:
            counted.append(CountedDose(dose, product, DoseKind.PRIMARY, 1))
        elif not history.complete:
            assert last is not None
            if (dose.given_on - last.dose.given_on).days < series.min_interval_days:
                ignored.append(IgnoredDose(dose, NotCounted.TOO_SOON))
                continue
            counted.append(CountedDose(dose, product, DoseKind.PRIMARY, len(counted) + 1))
        else:
            counted.append(CountedDose(dose, product, DoseKind.BOOSTER, len(counted) + 1))
    return History(tuple(counted), tuple(ignored))


@dataclass(frozen=True)
class DosePlan:
    """What today's dose is, from which earlier doses, and what the rules say about it."""

    product: Product
    kind: DoseKind
    dose_number: int
    history: History
    decision: Decision


def add_months(day: date, months: int) -> date:
    """The same day `months` calendar months later, or the month's last day if it is shorter
    (31 August + 6 months is 28 or 29 February)."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def _named(dose: CountedDose) -> dict[str, Any]:
    """An earlier dose as a message names it."""
    return {
        "date": dose.dose.given_on.isoformat(),
        "product": dose.product.name,
        "manufacturer": dose.product.manufacturer,
    }


def _overdue(settings: Settings, reason: Reason) -> Decision:
    """Past the interval or the window: a doctor, or a note "complete as soon as possible"."""
    if settings.schedule.overdue == "review":
        return Decision(review=(reason,))
    if reason.code == "interval_too_long":  # its words say "a doctor will see you"
        reason = Reason("dose_overdue", reason.params)
    return Decision(notes=(reason,))


def _next_in_series(
    settings: Settings, product: Product, history: History, day: date, allow_switch: bool
) -> Decision:
    """Dose 2, 3, ... of a series in progress: same manufacturer, interval, window."""
    series, last = history.series, history.last
    assert series is not None and last is not None
    refusals: list[Reason] = []
    decision = Decision()
    if _norm(product.manufacturer) != _norm(last.product.manufacturer):
        switch = {
            **_named(last),
            "previous": last.product.manufacturer,
            "booked": product.manufacturer,
            "booked_product": product.name,
        }
        if allow_switch:
            decision = decision + Decision(notes=(Reason("manufacturer_switched", switch),))
        else:
            refusals.append(Reason("manufacturer_mismatch", switch))
    elapsed = (day - last.dose.given_on).days
    if elapsed < series.min_interval_days:
        earliest = last.dose.given_on + timedelta(days=series.min_interval_days)
        refusals.append(
            Reason(
                "interval_too_short",
                {
                    "days": elapsed,
                    "min_days": series.min_interval_days,
                    "earliest": earliest.isoformat(),
                    "last_date": last.dose.given_on.isoformat(),
                },
            )
        )
    elif series.max_interval_days is not None and elapsed > series.max_interval_days:
        decision = decision + _overdue(
            settings,
            Reason("interval_too_long", {"days": elapsed, "max_days": series.max_interval_days}),
        )
    first = history.counted[0].dose.given_on
    window = series.series_window_days
    if window is not None and (day - first).days > window:
        decision = decision + _overdue(
            settings,
            Reason(
                "series_window_passed",
                {
                    "first_date": first.isoformat(),
                    "window_days": window,
                    "days": (day - first).days,
                    "last_day": (first + timedelta(days=window)).isoformat(),
                },
            ),
        )
    return Decision(tuple(refusals)) + decision


def _relation_ok(rule: BoosterRule, series: Product, booster: Product) -> bool:
    if rule.relation == "same_manufacturer":
        return _norm(series.manufacturer) == _norm(booster.manufacturer)
    if rule.relation == "same_platform":
        return series.platform is not None and series.platform == booster.platform
    if rule.relation == "other_platform":
        return (
            series.platform is not None
            and booster.platform is not None
            and series.platform != booster.platform
        )
    return True


def _booster(
    settings: Settings, product: Product, history: History, day: date, birth_date: date | None
) -> Decision:
    """A booster after a completed primary series: only what a rule in effect today allows.

    Each rule is tried in turn; the refusal people see comes from the rule that got furthest
    (series and number, then product, then months, then age)."""
    series, last = history.series, history.last
    assert series is not None and last is not None
    number = len(history.boosters) + 1
    completed = history.primary[-1]
    named = {**_named(completed), "doses": len(history.primary)}
    in_effect = [rule for rule in settings.boosters if rule.in_effect(day) and rule.covers(series)]
    if not in_effect:
        return Decision((Reason("series_complete", named),))
    rules = [rule for rule in in_effect if rule.number == number]
    if not rules:
        return Decision((Reason("booster_limit_reached", {**named, "boosters": number - 1}),))
    best: tuple[int, Reason] | None = None
    for rule in rules:
        stage, reason = _try_booster(rule, series, product, last, day, birth_date)
        if reason is None:
            return Decision()
        if best is None or stage > best[0]:
            best = (stage, reason)
    assert best is not None
    return Decision((best[1],))


def _try_booster(
    rule: BoosterRule,
    series: Product,
    product: Product,
    last: CountedDose,
    day: date,
    birth_date: date | None,
) -> tuple[int, Reason | None]:
    if (rule.products and product.code not in rule.products) or not _relation_ok(
        rule, series, product
    ):
        return 1, Reason(
            "booster_product_not_allowed",
            {"product": product.name, "series_product": series.name, "relation": rule.relation},
        )
    earliest = add_months(last.dose.given_on, rule.months_after_completion)
    if day < earliest:
        return 2, Reason(
            "booster_too_early",
            {
                "months": rule.months_after_completion,
                "last_date": last.dose.given_on.isoformat(),
                "earliest": earliest.isoformat(),
            },
        )
    if birth_date is not None:
        age = age_on(birth_date, day)
        if rule.min_age_years is not None and age < rule.min_age_years:
            return 3, Reason("too_young", {"age": age, "min_age": rule.min_age_years})
        if rule.max_age_years is not None and age > rule.max_age_years:
            return 3, Reason("too_old", {"age": age, "max_age": rule.max_age_years})
    return 4, None


def _claim(history: History, decided: int, claimed: int | None) -> Decision:
    """A claimed dose number never decides; one that disagrees needs a doctor."""
    if claimed is None or claimed == decided:
        return Decision()
    if not history.counted and claimed > 1:
        return Decision(
            review=(
                Reason(
                    "prior_dose_unverified",
                    {"dose_number": claimed, "claimed": claimed, "decided": decided},
                ),
            )
        )
    return Decision(
        review=(Reason("dose_claim_mismatch", {"claimed": claimed, "decided": decided}),)
    )


def _history_review(history: History) -> Decision:
    """Earlier doses on record that do not count (other than duplicates) go to a doctor."""
    review = []
    for ignored in history.ignored:
        params = {
            "date": ignored.dose.given_on.isoformat(),
            "product": ignored.dose.product,
            "manufacturer": ignored.dose.manufacturer,
        }
        if ignored.why is NotCounted.UNKNOWN_PRODUCT:
            review.append(Reason("unknown_prior_product", params))
        elif ignored.why is not NotCounted.DUPLICATE:
            review.append(Reason("prior_dose_not_counted", {**params, "why": ignored.why.value}))
    return Decision(review=tuple(review))


def plan_dose(
    settings: Settings,
    product: Product,
    history: Sequence[PriorDose],
    *,
    day: date,
    birth_date: date | None = None,
    claimed: int | None = None,
    allow_switch: bool = False,
) -> DosePlan:
    """Today's dose of `product` for a person with these earlier doses, on visit day `day`.

    `claimed` is the dose number a booking or kiosk states (None: none stated); `allow_switch`
    is a doctor's recorded decision to complete a series with another manufacturer."""
    read = read_history(settings, history, day)
    decision = Decision()
    if birth_date is not None:
        decision = decision + check_age(settings, product, birth_date, day)
    number = len(read.counted) + 1
    kind = DoseKind.BOOSTER if read.complete else DoseKind.PRIMARY
    if any(dose.given_on == day for dose in history):
        refused = Decision((Reason("already_vaccinated_today"),))
        return DosePlan(product, kind, number, read, decision + refused)
    if kind is DoseKind.BOOSTER:
        decision = decision + _booster(settings, product, read, day, birth_date)
    elif read.counted:
        decision = decision + _next_in_series(settings, product, read, day, allow_switch)
    decision = decision + _history_review(read) + _claim(read, number, claimed)
    return DosePlan(product, kind, number, read, decision)
