"""What carrying people over the day's turn costs the hot look-ups (issue 18).

    .venv/bin/python benchmarks/day_turn.py [--visits 20000] [--days 60] [--carried 300]
        [--rounds 2000] [--json]

A migrated SQLite file (the site's schema and indexes) holds `--days` earlier site days of
`--visits` finished visits each, then the day before the open one, then the open day with
`--visits` visits, a third of them still waiting. The look-ups a station and an exit make on
every call are timed on one connection, each `--rounds` times (median and p99, µs):

* call-next's choice of the next person: the open day's lane heads alone (what it did before
  carry-over), and now (one index probe of the day before first), with nobody carried over
  and with `--carried` people of the day before still waiting (their lane heads instead);
* a typed ticket at the exit (`resolve_ticket` with a preference: the open day's visit and
  the carried-over one of the same number) and a scanned one;
* the marshal's counts of the carried over, and the call board's recent calls.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sqlalchemy import Connection, insert  # noqa: E402

from vaxflow.config import load_settings  # noqa: E402
from vaxflow.queue.core import engine, ticket_code  # noqa: E402
from vaxflow.queue.core.model import OBSERVATION_STATES, VisitState  # noqa: E402
from vaxflow.queue.ops import service  # noqa: E402
from vaxflow.queue.store import repo, views  # noqa: E402
from vaxflow.queue.store import tables as t  # noqa: E402
from vaxflow.queue.store.db import make_engine, migrate  # noqa: E402

DEMO_CONFIG = ROOT / "vaxflow" / "config" / "demo.toml"
SITE = "demo-stadium"
FINISHED = (VisitState.RELEASED, VisitState.NO_SHOW, VisitState.DEFERRED)


def visit(day: date, lane: str, number: int, state: VisitState, at: datetime) -> dict[str, Any]:
    return {
        "site_id": SITE,
        "site_day": day,
        "ticket": engine.format_ticket(lane, number),
        "lane": lane,
        "number": number,
        "state": state.value,
        "product": "CORONAVAC",
        "dose_number": 1,
        "dose_kind": "primary",
        "person_name": "x",
        "id_number": f"{day:%Y%m%d}{lane}{number:07d}",
        "id_type": "cn_resident",
        "walk_in": lane == "W",
        "checked_in_at": at,
        "call_count": 0,
        "adverse_open": False,
        "print_failed": False,
    }


def fill(conn: Connection, open_day: date, now: datetime, args: argparse.Namespace) -> None:
    """Earlier days finished; the day before with `carried` still waiting at the end of its
    evening; the open day a third waiting, W001 observing."""
    lanes = ("A", "E", "W")
    for back in range(args.days, 0, -1):
        day = open_day - timedelta(days=back)
        start = now - timedelta(days=back, hours=6)
        rows = []
        for i in range(args.visits):
            lane = lanes[i % 3]
            waiting = back == 1 and i >= args.visits - args.carried
            state = VisitState.CHECKED_IN if waiting else FINISHED[i % len(FINISHED)]
            at = now - timedelta(minutes=30) if waiting else start + timedelta(seconds=i)
            rows.append(visit(day, lane, i // 3 + 1, state, at))
        conn.execute(insert(t.visits), rows)
    rows = []
    for i in range(args.visits):
        lane = lanes[i % 3]
        state = VisitState.CHECKED_IN if i % 3 == 0 else VisitState.RELEASED
        rows.append(visit(open_day, lane, i // 3 + 1, state, now - timedelta(hours=1)))
    rows[2]["state"] = VisitState.OBSERVING.value  # W001 of the open day
    conn.execute(insert(t.visits), rows)


def timed(fn: Callable[[], object], rounds: int) -> dict[str, float]:
    for _ in range(50):
        fn()
    times = []
    for _ in range(rounds):
        begin = time.perf_counter()
        fn()
        times.append((time.perf_counter() - begin) * 1e6)
    times.sort()
    return {
        "p50_us": round(statistics.median(times), 1),
        "p99_us": round(times[int(len(times) * 0.99) - 1], 1),
    }


def measure(args: argparse.Namespace, carried: int) -> dict[str, dict[str, float]]:
    settings = load_settings(DEMO_CONFIG)
    lanes = [lane.prefix for lane in settings.lanes]
    zone, turns = settings.site.timezone, settings.site.day_turns_at
    now = datetime(2026, 11, 22, 4, 30, tzinfo=UTC).astimezone(UTC)
    open_day = engine.site_day(now, zone, turns)
    with tempfile.TemporaryDirectory() as folder:
        db = make_engine(f"sqlite:///{folder}/site.sqlite", writer=True)
        migrate(db)
        fill_args = argparse.Namespace(**{**vars(args), "carried": carried})
        with db.begin() as conn:
            fill(conn, open_day, now, fill_args)
        with db.connect() as conn:
            carry = engine.carry(open_day, now)
            old_w = repo.find_ticket(conn, SITE, carry.day, "W001")
            assert old_w is not None
            if carried:  # the day before's W001 observing too: the typed ticket has to choose
                conn.execute(
                    t.visits.update()
                    .where(t.visits.c.id == old_w.id)
                    .values(state=VisitState.OBSERVING.value, checked_in_at=now)
                )
            scanned = ticket_code.encode(SITE, open_day, "A001")

            def before() -> object:
                return repo.lane_heads(conn, SITE, open_day, "CORONAVAC", lanes)

            def now_call() -> object:
                heads = []
                if repo.anyone_waiting_since(conn, SITE, carry.day, carry.since):
                    heads = repo.lane_heads(
                        conn, SITE, carry.day, "CORONAVAC", lanes, since=carry.since
                    )
                return heads or repo.lane_heads(conn, SITE, open_day, "CORONAVAC", lanes)

            def typed() -> object:
                try:
                    return service.resolve_ticket(
                        conn, settings, SITE, now, "W001", OBSERVATION_STATES
                    )
                except Exception as err:  # ticket_ambiguous when both are observing
                    return err

            figures = {
                "call_next_heads_open_day_only": timed(before, args.rounds),
                "call_next_heads_with_carry_over": timed(now_call, args.rounds),
                "typed_ticket_at_exit": timed(typed, args.rounds),
                "scanned_ticket": timed(
                    lambda: service.resolve_ticket(conn, settings, SITE, now, scanned),
                    args.rounds,
                ),
                "carried_over_counts": timed(
                    lambda: views.carried_over_counts(conn, SITE, carry), args.rounds
                ),
                "recent_calls_open_day_only": timed(
                    lambda: views.recent_calls(conn, SITE, open_day, 12), args.rounds
                ),
                "recent_calls": timed(
                    lambda: views.recent_calls(conn, SITE, open_day, 12, carry), args.rounds
                ),
            }
            conn.rollback()
        db.dispose()
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--visits", type=int, default=20000, help="visits per site day")
    parser.add_argument("--days", type=int, default=60, help="site days before the open one")
    parser.add_argument("--carried", type=int, default=300, help="still waiting at the turn")
    parser.add_argument("--rounds", type=int, default=2000)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    results = {
        "nobody_carried": measure(args, 0),
        f"{args.carried}_carried": measure(args, args.carried),
    }
    if args.json:
        print(json.dumps(results, indent=2))
        return 0
    rows = args.visits * (args.days + 1)
    print(f"{rows:,} visits over {args.days + 1} days; {args.rounds} rounds each (µs)")
    for case, figures in results.items():
        print(case)
        for name, f in figures.items():
            print(f"  {name:34} p50 {f['p50_us']:8.1f}   p99 {f['p99_us']:8.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
