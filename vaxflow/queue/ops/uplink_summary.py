"""The daily summary for the registry's 10:00 deadline (issue 15): the previous site day's
doses by product × dose number × lot, reconciled with what each registry acknowledged.

Counts leave struck-out doses out (they were given in error); the reconciliation says how
many were struck and whether each registry acknowledged the strike-out. A group is complete
when every registry acknowledged every dose in it; the summary is complete when every group
is and every strike-out was acknowledged.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import date, datetime
from typing import Any

from vaxflow.config import Settings
from vaxflow.queue.core.outbox import ACKNOWLEDGED, DOSE_STANDINGS
from vaxflow.queue.ops.outbox_rows import registry_targets
from vaxflow.queue.store import Conn, outbox
from vaxflow.queue.store.records import day_bounds

#: The CSV's fixed columns; then `<target>_<standing>` for each registry and standing.
CSV_COLUMNS = ("date", "site_id", "product", "product_name", "dose_number", "lot", "doses")


def targets_of(settings: Settings) -> list[str]:
    """The registries reconciled: the configured ones, or both when none is (nothing sent)."""
    return [t.value for t in registry_targets(settings)] or ["fhir", "hl7"]


def daily_summary(conn: Conn, settings: Settings, day: date, now: datetime) -> dict[str, Any]:
    """The summary of `day` as one JSON-ready dict (see the module's words)."""
    site_id = settings.site.id
    start, end = day_bounds(day, settings.site.timezone, settings.site.day_turns_at)
    targets = targets_of(settings)
    doses = outbox.day_doses(conn, site_id, day, targets)
    groups: dict[tuple[str, int, str], list[outbox.DayDose]] = defaultdict(list)
    for dose in doses:
        if not dose.struck:
            groups[(dose.product, dose.dose_number, dose.lot)].append(dose)
    rows = []
    for (product, number, lot), given in sorted(groups.items()):
        known = settings.product(product)
        rows.append(
            {
                "product": product,
                "product_name": known.name if known is not None else product,
                "dose_number": number,
                "lot": lot,
                "doses": len(given),
                "registries": {
                    target: _standings(d.standing[target] for d in given) for target in targets
                },
            }
        )
    reconciliation = outbox.reconcile(conn, site_id, day, targets)
    complete = all(
        c[ACKNOWLEDGED] == c["doses"] and c["struck_acknowledged"] == c["struck"]
        for c in reconciliation.values()
    )
    return {
        "site_id": site_id,
        "site_name": settings.site.name,
        "date": day.isoformat(),
        "from": start.isoformat(),
        "to": end.isoformat(),
        "written_at": now.isoformat(timespec="seconds"),
        "doses": sum(r["doses"] for r in rows),
        "struck": sum(1 for d in doses if d.struck),
        "groups": rows,
        "reconciliation": reconciliation,
        "complete": complete,
    }


def _standings(standings: Any) -> dict[str, int]:
    counted = Counter(standings)
    return {name: counted[name] for name in DOSE_STANDINGS}


def csv_header(summary: dict[str, Any]) -> list[str]:
    """The CSV's header: the fixed columns, then each registry's standings."""
    targets = list(summary["reconciliation"])
    return [*CSV_COLUMNS, *(f"{t}_{name}" for t in targets for name in DOSE_STANDINGS)]


def csv_rows(summary: dict[str, Any]) -> list[list[Any]]:
    """One row per product × dose number × lot (cells not yet made formula-safe)."""
    targets = list(summary["reconciliation"])
    return [
        [
            summary["date"],
            summary["site_id"],
            *(group[k] for k in ("product", "product_name", "dose_number", "lot", "doses")),
            *(group["registries"][t][name] for t in targets for name in DOSE_STANDINGS),
        ]
        for group in summary["groups"]
    ]
