"""`vaxflow simulate`: size a site before opening day by simulating it on the real queue engine."""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import sys
import time
from pathlib import Path
from typing import Any, TextIO

from vaxflow.cli.common import DEMO_HELP, CommandError, site_settings
from vaxflow.config import Settings
from vaxflow.queue.core.errors import QueueError
from vaxflow.queue.simulation import (
    DIST_NAMES,
    Distribution,
    Scenario,
    SimulationError,
    SimulationResult,
    load_samples,
    simulate,
)
from vaxflow.queue.simulation.scenario import MAX_HOURS, Seats

#: The flags' defaults are the scenario's own (one place): an unset flag keeps its field.
_D = Scenario()
#: What --sweep may vary, and how a value goes into the scenario.
SWEEPABLE = ("stations", "seats", "kiosks")


# --- argument types: each failure is an argparse error (message, usage, exit status 2) ---------


def _number(text: str, *, low: float, high: float = math.inf, low_open: bool = False) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not math.isfinite(value) or value > high or value < low or (low_open and value == low):
        bound = f"more than {low:g}" if low_open else f"at least {low:g}"
        upper = f" and at most {high:g}" if math.isfinite(high) else ""
        raise argparse.ArgumentTypeError(f"{text} is out of range: must be {bound}{upper}")
    return value


def _nonneg(text: str) -> float:
    return _number(text, low=0)


def _positive(text: str) -> float:
    return _number(text, low=0, low_open=True)


def _share(text: str) -> float:
    return _number(text, low=0, high=1)


def _hours(text: str) -> float:
    return _number(text, low=0, high=MAX_HOURS, low_open=True)


def _count(low: int) -> Any:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"{text} is out of range: must be at least {low}")
        return value

    return parse


def _seats(text: str) -> Seats:
    if text.strip().lower() == "unlimited":
        return "unlimited"
    value: int = _count(1)(text)
    return value


def _dist(text: str) -> str:
    if text not in DIST_NAMES:
        raise argparse.ArgumentTypeError(
            f"unknown distribution {text!r}; use one of: {', '.join(DIST_NAMES)}"
        )
    return text


def _mix(text: str) -> tuple[tuple[str, float], ...]:
    out = []
    for part in text.split(","):
        code, sep, weight = part.partition("=")
        if not sep or not code.strip():
            raise argparse.ArgumentTypeError(f"{part!r}: write CODE=WEIGHT, e.g. CORONAVAC=2")
        out.append((code.strip(), _nonneg(weight)))
    return tuple(out)


def parse_sweep(text: str) -> tuple[str, list[int]]:
    """'stations=20:40:2' -> ('stations', [20, 22, ..., 40]); the stop is included."""
    name, sep, spec = text.partition("=")
    name = name.strip()
    if not sep or name not in SWEEPABLE:
        raise argparse.ArgumentTypeError(
            f"{text!r}: write NAME=START:STOP[:STEP] with NAME one of {', '.join(SWEEPABLE)}, "
            "e.g. stations=20:40:2"
        )
    parts = spec.split(":")
    try:
        numbers = [int(p) for p in parts]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r}: START, STOP and STEP must be whole numbers, e.g. stations=20:40:2"
        ) from None
    if len(numbers) not in (2, 3):
        raise argparse.ArgumentTypeError(f"{text!r}: write {name}=START:STOP or START:STOP:STEP")
    start, stop, step = numbers[0], numbers[1], numbers[2] if len(numbers) == 3 else 1
    if start < 1 or stop < start or step < 1:
        raise argparse.ArgumentTypeError(
            f"{text!r}: need 1 <= START <= STOP and STEP >= 1 (e.g. {name}=20:40:2)"
        )
    values = list(range(start, stop + 1, step))
    if len(values) > 200:
        raise argparse.ArgumentTypeError(f"{text!r}: at most 200 runs in one sweep")
    return name, values


def register(sub: Any) -> None:
    p = sub.add_parser(
        "simulate",
        help="simulate a site day on the real queue engine (sizing, sweeps)",
        description=(
            "Simulate a site day: arrivals, kiosks, the queue, injection stations, observation "
            "and exit, every step through the real queue engine on a simulated clock. "
            "Stations call the next person only while an observation seat is free for them. "
            "Durations are minutes."
        ),
    )
    p.add_argument(
        "--config",
        type=Path,
        metavar="FILE",
        help="site file: lanes, products, stations, seats, walk-in capacity "
        f"(default: {DEMO_HELP})",
    )
    site = p.add_argument_group("the site")
    site.add_argument(
        "--stations",
        type=_count(1),
        metavar="C",
        help="injection stations (default: the site file's); S01.. keep the site "
        "file's products, the others give every product",
    )
    site.add_argument(
        "--seats",
        type=_seats,
        metavar="N",
        help="observation seats, or 'unlimited' (default: the site file's)",
    )
    site.add_argument(
        "--kiosks",
        type=_count(0),
        default=_D.kiosks,
        metavar="K",
        help=f"check-in kiosks; 0 makes check-in instant (default: {_D.kiosks})",
    )
    site.add_argument(
        "--walk-in-capacity",
        type=_count(0),
        metavar="N",
        help="walk-in tickets per day (default: the site file's)",
    )
    people = p.add_argument_group("the people")
    people.add_argument(
        "--arrivals",
        choices=("poisson", "booked"),
        default=_D.arrival_mode,
        help=f"poisson: at random; booked: due at slot starts (default: {_D.arrival_mode})",
    )
    people.add_argument(
        "--arrival-rate",
        type=_nonneg,
        default=_D.arrival_rate,
        metavar="R",
        help=f"people per hour (default: {_D.arrival_rate:g})",
    )
    people.add_argument(
        "--people",
        type=_count(0),
        metavar="N",
        help="exactly N arrivals over the day instead of rate x hours",
    )
    people.add_argument(
        "--slot-minutes",
        type=_positive,
        default=_D.slot_minutes,
        metavar="M",
        help=f"booking slot length (default: {_D.slot_minutes:g})",
    )
    people.add_argument(
        "--punctuality-sd",
        type=_nonneg,
        default=_D.punctuality_sd,
        metavar="M",
        help=f"spread of booked arrivals around the slot start (default: {_D.punctuality_sd:g})",
    )
    people.add_argument(
        "--walk-in-share",
        type=_share,
        default=_D.walk_in_share,
        metavar="S",
        help=f"share of arrivals without a booking (default: {_D.walk_in_share:g})",
    )
    people.add_argument(
        "--no-show-share",
        type=_share,
        default=_D.no_show_share,
        metavar="S",
        help=f"share who check in but never come when called (default: {_D.no_show_share:g})",
    )
    people.add_argument(
        "--defer-share",
        type=_share,
        default=_D.defer_share,
        metavar="S",
        help=f"share deferred at the station (default: {_D.defer_share:g})",
    )
    people.add_argument(
        "--elderly-share",
        type=_share,
        default=_D.elderly_share,
        metavar="S",
        help=f"share of booked people at the review age (default: {_D.elderly_share:g})",
    )
    people.add_argument(
        "--product-mix",
        type=_mix,
        default=_D.product_mix,
        metavar="CODE=W,...",
        help="booked people's products (default: even over loaded products)",
    )
    times = p.add_argument_group("durations (minutes)")
    times.add_argument(
        "--kiosk-dist",
        type=_dist,
        default=_D.kiosk_time.name,
        metavar="DIST",
        help=f"{'|'.join(DIST_NAMES)} (default: {_D.kiosk_time.name})",
    )
    times.add_argument(
        "--kiosk-mean",
        type=_nonneg,
        default=_D.kiosk_time.mean,
        metavar="M",
        help=f"mean minutes at a kiosk (default: {_D.kiosk_time.mean:g})",
    )
    times.add_argument(
        "--service-dist",
        type=_dist,
        default=_D.service_time.name,
        metavar="DIST",
        help=f"{'|'.join(DIST_NAMES)} at the injection station (default: {_D.service_time.name})",
    )
    times.add_argument(
        "--service-mean",
        type=_nonneg,
        metavar="M",
        help="mean minutes at the station (default: the site file's queue.default_service_minutes)",
    )
    times.add_argument(
        "--service-cv",
        type=_positive,
        default=_D.service_time.cv,
        metavar="CV",
        help=f"coefficient of variation of lognormal times (default: {_D.service_time.cv:g})",
    )
    times.add_argument(
        "--service-samples",
        metavar="FILE|LIST",
        help="minutes for --service-dist empirical: a file or a comma list",
    )
    times.add_argument(
        "--walk-minutes",
        type=_nonneg,
        default=_D.walk_time.mean,
        metavar="M",
        help=f"mean walk from the call to the station (default: {_D.walk_time.mean:g})",
    )
    times.add_argument(
        "--observation-minutes",
        type=_count(0),
        metavar="M",
        help="observation after the dose (default: each product's)",
    )
    run = p.add_argument_group("the run")
    run.add_argument(
        "--hours",
        type=_hours,
        default=_D.hours,
        metavar="H",
        help=f"hours the doors are open (default: {_D.hours:g})",
    )
    run.add_argument(
        "--seed", type=int, default=_D.seed, metavar="N", help=f"random seed (default: {_D.seed})"
    )
    run.add_argument(
        "--sweep",
        type=parse_sweep,
        metavar="NAME=START:STOP[:STEP]",
        help=f"run once per value of {', '.join(SWEEPABLE)}, e.g. stations=20:40:2",
    )
    run.add_argument(
        "--target-p90",
        type=_positive,
        metavar="MIN",
        help="with --sweep: the smallest value whose p90 queue wait is <= MIN",
    )
    run.add_argument("--json", action="store_true", help="print one JSON object")
    run.add_argument(
        "--out",
        type=Path,
        metavar="DIR",
        help="write summary.json, hourly.csv and plots (or sweep.csv/png) here",
    )
    p.set_defaults(func=_simulate)


# --- running ---------------------------------------------------------------------------


def _fail(message: str) -> int:
    print(f"vaxflow simulate: error: {message}", file=sys.stderr)
    return 2


def scenario_from_args(args: argparse.Namespace, settings: Settings) -> Scenario:
    """The scenario the flags describe; ValueError for combinations the flags cannot check."""
    mean = args.service_mean
    if mean is None:
        mean = settings.queue.default_service_minutes
    if args.service_dist == "empirical":
        if not args.service_samples:
            raise ValueError("--service-dist empirical needs --service-samples FILE or a list")
        service = Distribution("empirical", 0.0, samples=load_samples(args.service_samples))
    else:
        if args.service_samples:
            raise ValueError("--service-samples is only for --service-dist empirical")
        service = Distribution(args.service_dist, mean, cv=args.service_cv)
    if args.kiosk_dist == "empirical":
        raise ValueError("--kiosk-dist empirical is not supported; use exp, lognormal or fixed")
    return Scenario(
        stations=args.stations,
        seats=args.seats,
        walk_in_capacity=args.walk_in_capacity,
        arrival_mode=args.arrivals,
        arrival_rate=args.arrival_rate,
        people=args.people,
        slot_minutes=args.slot_minutes,
        punctuality_sd=args.punctuality_sd,
        walk_in_share=args.walk_in_share,
        no_show_share=args.no_show_share,
        defer_share=args.defer_share,
        elderly_share=args.elderly_share,
        product_mix=args.product_mix,
        kiosks=args.kiosks,
        kiosk_time=Distribution(args.kiosk_dist, args.kiosk_mean, cv=args.service_cv),
        service_time=service,
        walk_time=dataclasses.replace(_D.walk_time, mean=args.walk_minutes),
        observation_minutes=args.observation_minutes,
        hours=args.hours,
        seed=args.seed,
    )


class _Bar:
    """A one-line progress bar on stderr, drawn only on a terminal."""

    def __init__(self, stream: TextIO, label: str, runs: int = 1) -> None:
        self.stream, self.label, self.runs, self.run = stream, label, runs, 0
        self.on = stream.isatty()
        self.shown = -1

    def __call__(self, fraction: float) -> None:
        if not self.on:
            return
        done = (self.run + fraction) / self.runs
        percent = int(done * 100)
        if percent == self.shown:
            return
        self.shown = percent
        filled = int(done * 30)
        self.stream.write(f"\r{self.label} [{'#' * filled}{'.' * (30 - filled)}] {percent:3d}%")
        self.stream.flush()

    def close(self) -> None:
        if self.on:
            self.stream.write("\r" + " " * (len(self.label) + 40) + "\r")
            self.stream.flush()


def _simulate(args: argparse.Namespace) -> int:
    if args.target_p90 is not None and args.sweep is None:
        return _fail("--target-p90 needs --sweep, e.g. --sweep stations=20:40:2 --target-p90 15")
    try:
        settings = site_settings(args.config)
    except CommandError as err:
        return _fail(str(err))
    try:
        scenario = scenario_from_args(args, settings)
        if args.sweep is None:
            return _one(args, settings, scenario)
        return _sweep(args, settings, scenario)
    except ValueError as err:
        return _fail(str(err))
    except (SimulationError, QueueError) as err:
        # The engine refused a step the simulator took, or the day did not end: a bug.
        print(f"vaxflow simulate: the simulation failed: {err}", file=sys.stderr)
        return 1


def _one(args: argparse.Namespace, settings: Settings, scenario: Scenario) -> int:
    bar = _Bar(sys.stderr, "simulating")
    started = time.perf_counter()
    try:
        result = simulate(settings, scenario, bar)
    finally:
        bar.close()
    seconds = time.perf_counter() - started
    if args.out is not None:
        from vaxflow.queue.simulation.report import write_day

        write_day(result, args.out)
    if args.json:
        print(json.dumps({**result.summary, "wall_seconds": round(seconds, 3)}))
    else:
        print(render(result, seconds))
        if args.out is not None:
            print(
                f"\nwrote summary.json, hourly.csv, queue.png, waits.png, observation.png "
                f"to {args.out}"
            )
    return 0


def _sweep(args: argparse.Namespace, settings: Settings, base: Scenario) -> int:
    name, values = args.sweep
    bar = _Bar(sys.stderr, f"sweeping {name}", len(values))
    runs: list[dict[str, Any]] = []
    started = time.perf_counter()
    try:
        for i, value in enumerate(values):
            bar.run = i
            scenario = dataclasses.replace(base, **{name: value})
            runs.append({"value": value, "summary": simulate(settings, scenario, bar).summary})
    finally:
        bar.close()
    seconds = time.perf_counter() - started
    target = args.target_p90
    answer = None
    if target is not None:
        answer = next(
            (
                r["value"]
                for r in runs
                if r["summary"]["queue_wait_p90_min"] is not None
                and r["summary"]["queue_wait_p90_min"] <= target
            ),
            None,
        )
    if args.out is not None:
        from vaxflow.queue.simulation.report import write_sweep

        write_sweep(name, runs, target, args.out)
    if args.json:
        print(
            json.dumps(
                {
                    "sweep": name,
                    "values": values,
                    "target_p90_min": target,
                    "answer": answer,
                    "runs": runs,
                    "wall_seconds": round(seconds, 3),
                }
            )
        )
        return 0
    print(render_sweep(name, runs))
    if target is not None:
        if answer is None:
            print(
                f"\nno {name} value in {values[0]}..{values[-1]} gives a p90 wait <= {target:g} min"
            )
        else:
            print(f"\nsmallest {name} with a p90 queue wait <= {target:g} min: {answer}")
    return 0


# --- text output -----------------------------------------------------------------------


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.2f}"
    if isinstance(value, dict):
        return ", ".join(f"{k} {_fmt(v)}" for k, v in value.items()) or "-"
    return str(value)


def render(result: SimulationResult, seconds: float) -> str:
    """The summary and the hour table as aligned text."""
    s = result.summary
    lines = [
        f"{result.site.settings.site.name}: {s['stations']} stations "
        f"({_fmt(s['stations_by_product'])}), {s['observation_seats']} seats, "
        f"{s['kiosks']} kiosks, {s['arrivals']} arrivals, service {s['service']}",
        "",
    ]
    rows = [
        (
            "people arrived / checked in / doses",
            f"{s['people_arrived']} / {s['checked_in']} / {s['doses']}",
        ),
        ("final states", _fmt(s["final_states"])),
        ("refused at check-in", _fmt(s["refused"])),
        (
            "queue wait mean / p50 / p90 / max (min)",
            " / ".join(
                _fmt(s[k])
                for k in (
                    "queue_wait_mean_min",
                    "queue_wait_p50_min",
                    "queue_wait_p90_min",
                    "queue_wait_max_min",
                )
            ),
        ),
        (
            "queue wait p90 by lane (min)",
            ", ".join(
                f"{lane} {_fmt(v['p90_min'])}" for lane, v in s["queue_wait_by_lane"].items()
            ),
        ),
        (
            "ticket's wait estimate - actual, mean / abs (min)",
            f"{_fmt(s['wait_estimate_error_mean_min'])} / "
            f"{_fmt(s['wait_estimate_abs_error_mean_min'])}",
        ),
        (
            "kiosk wait mean / p90 (min)",
            f"{_fmt(s['kiosk_wait_mean_min'])} / {_fmt(s['kiosk_wait_p90_min'])}",
        ),
        ("queue length mean / max", f"{_fmt(s['queue_length_mean'])} / {s['queue_length_max']}"),
        ("throughput (doses per hour)", _fmt(s["throughput_per_hour"])),
        ("station utilization", _fmt(s["station_utilization"])),
        (
            "observation occupancy mean / max",
            f"{_fmt(s['observation_occupancy_mean'])} / "
            f"{s['observation_occupancy_max']} of {s['observation_seats']}",
        ),
        ("minutes stations waited for a seat", _fmt(s["observation_full_minutes"])),
        ("time on site, released (min)", _fmt(s["time_on_site_mean_min"])),
        (
            "closing (doors shut, last one out)",
            f"{s['closing']} ({_fmt(s['day_hours'])} h after opening)",
        ),
        (
            "events / engine transitions",
            f"{s['events_processed']} / {s['engine_transitions']} in {seconds:.2f} s",
        ),
    ]
    width = max(len(k) for k, _ in rows)
    lines += [f"{k:<{width}}  {v}" for k, v in rows]
    lines.append("")
    lines.append(
        _table(
            result.hourly,
            {
                "hour": "hour",
                "arrivals": "arrived",
                "doses": "doses",
                "released": "released",
                "queue_length_mean": "queue",
                "queue_length_max": "q max",
                "queue_wait_mean_min": "wait",
                "queue_wait_p90_min": "p90",
                "station_utilization": "util",
                "observation_occupancy_max": "obs max",
            },
        )
    )
    return "\n".join(lines)


def render_sweep(name: str, runs: list[dict[str, Any]]) -> str:
    rows = [{name: r["value"], **r["summary"]} for r in runs]
    return _table(
        rows,
        {
            name: name,
            "queue_wait_mean_min": "wait mean",
            "queue_wait_p90_min": "wait p90",
            "kiosk_wait_p90_min": "kiosk p90",
            "throughput_per_hour": "per hour",
            "station_utilization": "util",
            "observation_occupancy_max": "obs max",
            "observation_full_minutes": "seat-wait min",
            "closing": "closing",
        },
    )


def _table(rows: list[dict[str, Any]], columns: dict[str, str]) -> str:
    cells = [[_fmt(row[key]) for key in columns] for row in rows]
    heads = list(columns.values())
    widths = [max(len(h), *(len(c[i]) for c in cells)) for i, h in enumerate(heads)]
    out = ["  ".join(h.rjust(w) for h, w in zip(heads, widths, strict=True))]
    out += ["  ".join(c.rjust(w) for c, w in zip(row, widths, strict=True)) for row in cells]
    return "\n".join(out)
