"""A site day against a real server process, with faults at random moments; then every invariant.

    ./dev bench soak [--people 20000] [--speed 20] [--kiosks 30] [--kills 6]
        [--print-faults 0.03] [--signed 0.15] [--walk-ins 0.2] [--seed 1] [--json]

The day and its invariants are vaxflow/queue/demo/soak (the package's docstring says what
happens and what is checked); the test suite runs a bounded day of it
(tests/faults/test_soak.py), this script the full one.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
from dataclasses import asdict
from pathlib import Path

from vaxflow.queue.demo.soak import Plan, soak


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--people", type=int, default=Plan.people)
    parser.add_argument("--speed", type=float, default=Plan.speed)
    parser.add_argument("--kiosks", type=int, default=Plan.kiosks)
    parser.add_argument("--kills", type=int, default=Plan.kills)
    parser.add_argument("--print-faults", type=float, default=Plan.print_faults)
    parser.add_argument("--signed", type=float, default=Plan.signed, help="share with a QR")
    parser.add_argument("--walk-ins", type=float, default=Plan.walk_ins, help="share walking in")
    parser.add_argument("--seed", type=int, default=Plan.seed)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    plan = Plan(
        people=args.people,
        speed=args.speed,
        kiosks=args.kiosks,
        kills=args.kills,
        print_faults=args.print_faults,
        signed=args.signed,
        walk_ins=args.walk_ins,
        seed=args.seed,
    )
    with tempfile.TemporaryDirectory(prefix="vaxflow-soak-") as folder:
        figures, _stats = asyncio.run(soak(plan, Path(folder)))
    if args.json:
        print(json.dumps(asdict(figures), indent=2))
        return 0
    f = figures
    print(
        f"soak: {f.people:,} people, {f.site_hours:.1f} site hours in {f.wall_seconds:.0f} s wall"
    )
    mix = ", ".join(f"{n:,} {kind.replace('_', '-')}" for kind, n in sorted(f.mix.items()))
    print(
        f"  people: {mix}; tickets by lane: "
        + ", ".join(f"{k} {v:,}" for k, v in f.by_lane.items())
    )
    print("  day list: " + ", ".join(f"{n:,} {k.replace('_', '-')}" for k, n in f.day_list.items()))
    print(
        f"  checked in {f.checked_in:,}, dosed {f.dosed:,}, released {f.released:,} "
        f"({f.early_scans:,} exit scans answered 'not yet')"
    )
    print(
        f"  faults: {f.kills} SIGKILL + restart ({f.downtime_seconds:.1f} s down), "
        f"{f.printer_faults} printer faults"
    )
    print(
        f"  requests {f.requests:,}, retried with their key {f.retried:,}, "
        f"5xx other than 503: {f.server_errors}"
    )
    print(f"  refused as expected: {f.refused or 'none'} ({f.rescans} second scans of a booking)")
    print("  invariants: " + ", ".join(f"{k} {v:,}" for k, v in f.invariants.items()))
    print(f"  anything lost: {f.lost}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
