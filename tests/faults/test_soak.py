"""A bounded soak: a few hundred people through a real server killed twice mid-day.

The same day as `./dev bench soak` (vaxflow/queue/demo/soak), at high speed: the day list is
imported before the server opens and a key pair made for signed booking QRs; kiosks check in
the booked (code or link scanned, or typed, with the ID card; or the card alone, the server
finding the booking), the signed-QR holders and the walk-ins, elderly and unverified second
doses in the priority lane; the day list holds second doses, boosters, children with a
guardian and people whose earlier dose is another manufacturer's (refused, expected);
stations and the exit drive a `vaxflow server` with a rehearsal clock; the server is
SIGKILLed and restarted at random points; a share of prints fail and are reprinted; every
request is retried with its key. At the end every invariant of the day is checked against the
answers the clients got and the database file (`vaxflow.queue.demo.soak.check`), the expected
refusals counted by reason.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.figures import Figures
from vaxflow.cli.server_cmd import site_clock
from vaxflow.clock import ScaledClock, SteadyClock
from vaxflow.queue.demo.soak import Plan, soak

PLAN = Plan(people=300, speed=600, kiosks=12, kills=2, print_faults=0.05, opens="06:00")


@pytest.mark.slow
async def test_a_day_with_kills_and_printer_faults_keeps_every_invariant(
    tmp_path: Path, figures: Figures
) -> None:
    day, stats = await soak(PLAN, tmp_path)  # raises on any broken invariant
    assert day.kills == PLAN.kills and day.printer_faults > 0
    assert day.early_scans > 0  # people who tried to leave early were told "not yet"
    assert day.mix == {"list": 195, "qr": 45, "walk_in": 60}
    # The day list holds every class the schedule policy is for (vaxflow/queue/demo/demo_day.py).
    assert day.day_list == {
        "adult": 160,
        "booster": 21,
        "child": 9,
        "other_maker": 5,
        "card_only": 15,
    }
    checks = day.invariants
    assert checks["boosters"] == 21 and checks["children with their guardian's consent"] == 9
    assert checks["card-only people on their booking"] == 14  # one is another maker's, refused
    # Walk-ins 60 or older see a doctor (review lane E) like the booked; the rest lane W.
    assert set(day.by_lane) == {"A", "E", "W"} and day.by_lane["W"] == 50
    expected = {"too_early": 1, "already_checked_in": 2, "manufacturer_mismatch": 5}
    assert day.refused == expected and day.rescans == 2
    assert day.checked_in == day.dosed == day.released == PLAN.people - 6
    assert stats["released"] == PLAN.people - 6
    print(
        f"soak: {day.people} people {day.mix}, lanes {day.by_lane}, refused {day.refused},"
        f" {day.kills} kills, {day.printer_faults} printer faults,"
        f" {day.requests} requests ({day.retried} retried) in {day.wall_seconds:.1f} s"
    )
    figures.add("faults injected", day.kills + day.printer_faults)
    figures.add("early exits refused", day.early_scans)
    figures.add("soak people through a full walk", day.people)
    figures.add("soak requests", day.requests)
    figures.add("soak requests retried with their key", day.retried)
    figures.add("acknowledged check-ins verified", day.checked_in)
    figures.add("soak refusals expected and met", sum(day.refused.values()))
    figures.add("anything lost", day.lost)


def test_rehearsal_clock_runs_fast_from_the_given_time() -> None:
    assert isinstance(site_clock(1, None), SteadyClock)  # served time: steps left out
    clock = site_clock(60, "2026-11-21T07:00:00+08:00")
    assert isinstance(clock, ScaledClock) and clock.speed == 60
    started = datetime(2026, 11, 20, 23, 0, tzinfo=UTC)
    assert started <= clock.now() < started + timedelta(minutes=1)  # 60x for under a second
    for speed, start in ((0, None), (2, "07:00"), (2, "2026-11-21T07:00:00")):
        with pytest.raises(ValueError, match=r"speed|ISO|offset"):
            site_clock(speed, start)
