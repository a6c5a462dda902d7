"""Who may come by age today: the site's dated age bands (or its one [age] rule) and the
product's licence, in whole years on the visit day in site time."""

from __future__ import annotations

from datetime import date

from vaxflow.config import Settings
from vaxflow.config.schema import AgeBand, Product
from vaxflow.queue.core.decision import Decision, Reason
from vaxflow.queue.core.engine import age_on


def bands_open(settings: Settings, product: Product, day: date) -> list[AgeBand]:
    """The age bands in effect on `day` that open `product`."""
    return [
        band
        for band in settings.age_bands
        if band.in_effect(day) and (not band.products or product.code in band.products)
    ]


def _describe(bands: list[AgeBand]) -> str:
    spans = sorted(
        {
            f"{b.min_age_years}-{b.max_age_years}"
            if b.max_age_years is not None
            else f"{b.min_age_years}+"
            for b in bands
        }
    )
    return ", ".join(spans)


def _band_refusal(settings: Settings, product: Product, age: int, day: date) -> Reason | None:
    bands = bands_open(settings, product, day)
    if any(
        b.min_age_years <= age and (b.max_age_years is None or age <= b.max_age_years)
        for b in bands
    ):
        return None
    if bands and age < min(b.min_age_years for b in bands):
        return Reason("too_young", {"age": age, "min_age": min(b.min_age_years for b in bands)})
    highest = [b.max_age_years for b in bands]
    if bands and all(h is not None for h in highest) and age > max(h or 0 for h in highest):
        return Reason("too_old", {"age": age, "max_age": max(h or 0 for h in highest)})
    return Reason(
        "age_band_closed", {"age": age, "product": product.name, "open": _describe(bands)}
    )


def check_age(settings: Settings, product: Product, birth_date: date, day: date) -> Decision:
    """Age in whole years on the visit day against the bands (or [age]) and the product."""
    age = age_on(birth_date, day)
    refusals: list[Reason] = []
    review: list[Reason] = []
    rules = settings.age
    if settings.age_bands:
        refused = _band_refusal(settings, product, age, day)
        if refused is not None:
            refusals.append(refused)
    elif age < rules.min_age_years:
        refusals.append(Reason("too_young", {"age": age, "min_age": rules.min_age_years}))
    elif rules.max_age_years is not None and age > rules.max_age_years:
        refusals.append(Reason("too_old", {"age": age, "max_age": rules.max_age_years}))
    if (product.min_age_years is not None and age < product.min_age_years) or (
        product.max_age_years is not None and age > product.max_age_years
    ):
        refusals.append(
            Reason(
                "product_age_limit",
                {
                    "age": age,
                    "product": product.name,
                    "min_age": product.min_age_years,
                    "max_age": product.max_age_years,
                },
            )
        )
    if rules.review_age_years is not None and age >= rules.review_age_years and not refusals:
        review.append(Reason("review_age", {"age": age, "review_age": rules.review_age_years}))
    return Decision(tuple(refusals), tuple(review))
