"""Write a simulated day to a folder: summary JSON, per-hour CSV, and PNG plots (matplotlib, Agg).

The only module of the simulator that touches files; matplotlib is imported here, lazily, so
the simulation itself never needs it.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from vaxflow.csv_cells import safe_dict
from vaxflow.queue.simulation.loop import local_time
from vaxflow.queue.simulation.metrics import StepSeries
from vaxflow.queue.simulation.results import SimulationResult
from vaxflow.queue.simulation.scenario import US_PER_MINUTE


def write_csv(path: Path, rows: Sequence[dict[str, Any]]) -> None:
    """Rows of dicts with the same keys, as CSV with a header (empty cells for null)."""
    with path.open("w", newline="", encoding="utf-8") as f:
        if not rows:
            return
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        for row in rows:
            writer.writerow(safe_dict({k: "" if v is None else v for k, v in row.items()}))


def _steps(series: StepSeries, end_us: int) -> tuple[list[float], list[int]]:
    """Hours after opening and values, closed at `end_us`, for a step plot."""
    hours = [t / US_PER_MINUTE / 60 for t in series.times] + [end_us / US_PER_MINUTE / 60]
    return hours, [*series.values, series.values[-1]]


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def write_day(result: SimulationResult, folder: Path) -> list[Path]:
    """summary.json, hourly.csv, queue.png, waits.png, observation.png in `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    summary = folder / "summary.json"
    summary.write_text(json.dumps(result.summary, indent=2) + "\n", encoding="utf-8")
    hourly = folder / "hourly.csv"
    write_csv(hourly, result.hourly)
    written += [summary, hourly]
    plt = _pyplot()
    trace, end = result.trace, max(result.trace.closing_us, 1)
    opens = local_time(result.site, 0)
    title = f"{result.site.settings.site.name}: {result.summary['stations']} stations"

    fig, ax = plt.subplots(figsize=(10, 4.5))
    ax.step(*_steps(trace.queue, end), where="post", label="waiting for a station")
    ax.step(*_steps(trace.kiosk_queue, end), where="post", label="waiting for a kiosk")
    ax.set_xlabel(f"hours after opening ({opens:%Y-%m-%d %H:%M} site time)")
    ax.set_ylabel("people")
    ax.set_title(f"Queue length over the day - {title}")
    ax.grid(alpha=0.3)
    ax.legend()
    written.append(_save(fig, folder / "queue.png", plt))

    waits = result.waits()
    fig, ax = plt.subplots(figsize=(10, 4.5))
    ax.scatter(
        [m / 60 for m, _ in waits], [w for _, w in waits], s=2, alpha=0.3, label="one person"
    )
    rows = [r for r in result.hourly if r["queue_wait_p90_min"] is not None]
    hours = [i + 0.5 for i, r in enumerate(result.hourly) if r["queue_wait_p90_min"] is not None]
    ax.plot(hours, [r["queue_wait_p90_min"] for r in rows], "r-o", label="p90 of the hour")
    ax.plot(hours, [r["queue_wait_mean_min"] for r in rows], "k-o", label="mean of the hour")
    ax.set_xlabel("hours after opening (when called)")
    ax.set_ylabel("minutes from check-in to call")
    ax.set_title(f"Queue waits - {title}")
    ax.grid(alpha=0.3)
    ax.legend()
    written.append(_save(fig, folder / "waits.png", plt))

    fig, ax = plt.subplots(figsize=(10, 4.5))
    ax.step(*_steps(trace.observing, end), where="post", label="people in observation")
    if result.site.seats is not None:
        ax.axhline(result.site.seats, color="r", linestyle="--", label="seats")
    ax.set_xlabel("hours after opening")
    ax.set_ylabel("people")
    ax.set_title(f"Observation occupancy against seats - {title}")
    ax.grid(alpha=0.3)
    ax.legend()
    written.append(_save(fig, folder / "observation.png", plt))
    return written


def write_sweep(
    name: str, runs: Sequence[dict[str, Any]], target: float | None, folder: Path
) -> list[Path]:
    """sweep.csv and sweep.png: waits and utilization against the swept value."""
    folder.mkdir(parents=True, exist_ok=True)
    table = folder / "sweep.csv"
    write_csv(table, [_sweep_row(name, run) for run in runs])
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(8, 4.5))
    xs = [run["value"] for run in runs]
    for key, label in (("queue_wait_p90_min", "p90 wait"), ("queue_wait_mean_min", "mean wait")):
        ax.plot(xs, [run["summary"][key] for run in runs], "-o", label=label)
    if target is not None:
        ax.axhline(target, color="r", linestyle="--", label=f"target p90 {target:g} min")
    ax.set_xlabel(name)
    ax.set_ylabel("minutes")
    ax.set_title(f"Queue wait against {name}")
    ax.grid(alpha=0.3)
    ax.legend()
    return [table, _save(fig, folder / "sweep.png", plt)]


def _sweep_row(name: str, run: dict[str, Any]) -> dict[str, Any]:
    s = run["summary"]
    return {
        name: run["value"],
        "queue_wait_mean_min": s["queue_wait_mean_min"],
        "queue_wait_p90_min": s["queue_wait_p90_min"],
        "throughput_per_hour": s["throughput_per_hour"],
        "station_utilization": s["station_utilization"],
        "observation_occupancy_max": s["observation_occupancy_max"],
        "closing": s["closing"],
    }


def _save(fig: Any, path: Path, plt: Any) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
