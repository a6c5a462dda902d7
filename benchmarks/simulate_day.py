"""A simulated stadium day of 20,000 people at maximum speed: wall time, memory, engine events/s.

    .venv/bin/python benchmarks/simulate_day.py [--people 20000] [--repeat 3] [--json]

The day is DESIGN.md's stadium: 100 injection stations, 30 kiosks, 1,000 observation seats,
booked arrivals over 12 hours (vaxflow/config/demo.toml for lanes and products). Every step of every
person goes through the real queue engine (`vaxflow.queue.core.engine`), so "engine transitions"
counts calls into it that changed a visit or a station; "events" are the simulator's heap
events. Timed runs go without tracemalloc (best of --repeat); one more run under tracemalloc
gives the peak of memory Python allocated for the day, and ru_maxrss the process's peak.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import resource
import sys
import time
import tracemalloc
from dataclasses import replace
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from vaxflow.config import load_settings  # noqa: E402
from vaxflow.queue.simulation import Scenario, build_site, plan_people  # noqa: E402
from vaxflow.queue.simulation.loop import run_day  # noqa: E402
from vaxflow.queue.simulation.results import summarize  # noqa: E402

DEMO_CONFIG = ROOT / "vaxflow" / "config" / "demo.toml"
STADIUM = Scenario(
    stations=100,
    seats=1000,
    kiosks=30,
    walk_in_capacity=5000,
    arrival_mode="booked",
    people=20_000,
    hours=12,
    seed=2026,
)


def one_day(scenario: Scenario) -> dict[str, Any]:
    """Time the three phases of one simulated day."""
    settings = load_settings(DEMO_CONFIG)
    gc.collect()
    t0 = time.perf_counter()
    c0 = time.process_time()
    site = build_site(settings, scenario)
    people = plan_people(scenario, site)
    t1 = time.perf_counter()
    c1 = time.process_time()
    trace = run_day(site, scenario, people)
    t2 = time.perf_counter()
    c2 = time.process_time()
    result = summarize(scenario, site, trace)
    t3 = time.perf_counter()
    c3 = time.process_time()
    s = result.summary
    return {
        "people": s["people_arrived"],
        "doses": s["doses"],
        "events": s["events_processed"],
        "transitions": s["engine_transitions"],
        "plan_s": t1 - t0,
        "loop_s": t2 - t1,
        "summary_s": t3 - t2,
        "wall_s": t3 - t0,
        "cpu_s": c3 - c0,
        "events_per_s": s["events_processed"] / (t2 - t1),
        "transitions_per_s": s["engine_transitions"] / (t2 - t1),
        "loop_cpu_s": c2 - c1,
        "transitions_per_cpu_s": s["engine_transitions"] / (c2 - c1),
        "queue_wait_p90_min": s["queue_wait_p90_min"],
        "throughput_per_hour": s["throughput_per_hour"],
        "closing": s["closing"],
    }


def peak_memory(scenario: Scenario) -> float:
    """MiB Python allocated at the peak of one day (tracemalloc; slower, so not timed)."""
    tracemalloc.start()
    one_day(scenario)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak / 2**20


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=3, help="timed runs; the best is shown")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    scenario = replace(STADIUM, people=args.people)
    runs = [one_day(scenario) for _ in range(max(args.repeat, 1))]
    best = min(runs, key=lambda r: r["wall_s"])
    best["tracemalloc_peak_mib"] = peak_memory(scenario)
    best["maxrss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    best["runs_wall_s"] = [round(r["wall_s"], 3) for r in runs]
    if args.json:
        print(json.dumps(best))
        return 0
    rows = [
        ("people / doses", f"{best['people']} / {best['doses']}"),
        (
            "simulated day",
            f"08:00-{best['closing']}, p90 wait {best['queue_wait_p90_min']} min, "
            f"{best['throughput_per_hour']} doses/h",
        ),
        ("wall time (best of runs)", f"{best['wall_s']:.2f} s  (runs: {best['runs_wall_s']})"),
        (
            "  draw people / event loop / summary",
            f"{best['plan_s']:.2f} / {best['loop_s']:.2f} / {best['summary_s']:.2f} s",
        ),
        ("CPU time", f"{best['cpu_s']:.2f} s"),
        ("heap events", f"{best['events']}  ({best['events_per_s']:,.0f} per s)"),
        (
            "engine transitions",
            f"{best['transitions']}  ({best['transitions_per_s']:,.0f} per s; "
            f"{best['transitions_per_cpu_s']:,.0f} per CPU s)",
        ),
        ("peak memory, tracemalloc", f"{best['tracemalloc_peak_mib']:.1f} MiB"),
        ("peak RSS of the process", f"{best['maxrss_mib']:.1f} MiB"),
    ]
    width = max(len(k) for k, _ in rows)
    print(
        f"simulate_day: a {best['people']:,}-person stadium day on the real engine "
        f"({os.cpu_count()} CPUs, load average at the end {os.getloadavg()[0]:.1f})"
    )
    for key, value in rows:
        print(f"  {key:<{width}}  {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
