"""The soak's invariants: checked against the answers the clients got and the database file."""

from __future__ import annotations

import contextlib
import sqlite3
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

from vaxflow.queue.demo.soak.day import Day, Person
from vaxflow.queue.store.repo import WALK_IN_PLACES


def expected_refusals(people: list[Person]) -> dict[str, int]:
    """The refusals the day must get, by reason: no more, no fewer."""
    expected = Counter(p.refused for p in people if p.refused)
    rescans = sum(p.rescans for p in people)
    if rescans:
        expected["already_checked_in"] += rescans
    return dict(expected)


def check(day: Day, stats: dict[str, Any], db: Path) -> dict[str, int]:
    """Every invariant of the day, from the answers the clients got and the database file.

    Raises AssertionError naming the first one broken; returns how many things were checked.
    """

    acked = list(day.acked.values())
    people = {p.index: p for p in day.people}
    expected = expected_refusals(day.people)
    assert day.figures.refused == expected, f"refused {day.figures.refused}, not {expected}"
    assert not day.figures.server_errors, f"{day.figures.server_errors} answers were 5xx"
    # Those to be turned away were, with their reason; everyone else has a ticket.
    turned_away = {p.index: p.refused for p in day.people if p.refused}
    assert day.turned_away == turned_away, f"turned away {day.turned_away}, not {turned_away}"
    assert set(day.acked) == set(people) - set(turned_away), "someone has no ticket"
    with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        visits = conn.execute(
            "SELECT id, site_day, ticket, lane, number, state, observation_ends_at, finished_at,"
            " print_failed, booking_code, walk_in FROM visits"
        ).fetchall()
        doses = Counter(v for (v,) in conn.execute("SELECT visit_id FROM doses"))
        dose_numbers = dict(conn.execute("SELECT visit_id, dose_number FROM doses").fetchall())
        dose_kinds = dict(conn.execute("SELECT id, dose_kind FROM visits").fetchall())
        guardians = {
            visit: (relation, version)
            for visit, relation, version in conn.execute(
                "SELECT visit_id, guardian_relation, guardian_consent_version FROM visit_identity"
                " WHERE guardian_relation IS NOT NULL"
            )
        }
        counters = {
            (d, lane): n
            for d, lane, n in conn.execute(
                "SELECT site_day, lane, last_number FROM ticket_counters"
            )
        }
        checked_in_events = Counter(
            v for (v,) in conn.execute("SELECT visit_id FROM events WHERE kind = 'checked_in'")
        )
        bookings = {
            code: (visit_id, source)
            for code, visit_id, source in conn.execute(
                "SELECT code, visit_id, source FROM bookings"
            )
        }
    by_id = {row[0]: row for row in visits}
    # Every acknowledged check-in is there with the answer's ticket; nothing else is.
    lost = [
        a for a in acked if a["visit_id"] not in by_id or by_id[a["visit_id"]][2] != a["ticket"]
    ]
    assert not lost, f"{len(lost)} acknowledged check-ins lost, e.g. {lost[:3]}"
    assert len(visits) == len(acked), f"{len(visits)} visits for {len(acked)} check-ins"
    assert len({a["visit_id"] for a in acked}) == len(acked), "two answers name one visit"
    # No ticket twice; numbers per lane and day run 1..N.
    tickets = Counter((row[1], row[2]) for row in visits)
    assert max(tickets.values()) == 1, f"tickets issued twice: {tickets.most_common(3)}"
    numbers: dict[tuple[str, str], list[int]] = defaultdict(list)
    for row in visits:
        numbers[(row[1], row[3])].append(row[4])
    for lane, issued in numbers.items():
        assert sorted(issued) == list(range(1, counters[lane] + 1)), f"gap or reuse in {lane}"
    # The walk-in places counter ("*") is not a lane: it counts every walk-in, in any lane.
    places = {day: n for (day, lane), n in counters.items() if lane == WALK_IN_PLACES}
    walk_ins = Counter(row[1] for row in visits if row[10])
    assert places == dict(walk_ins), f"walk-in places {places} for walk-ins {dict(walk_ins)}"
    lane_counters = {key for key in counters if key[1] != WALK_IN_PLACES}
    assert set(numbers) == lane_counters, "a lane counter without its tickets"
    # Everyone in the lane they belong in: the booked, the priority lane, the walk-ins;
    # the counts per lane reconcile with the people sent, the counters and the marshal.
    wrong_lane = [
        (i, people[i].lane, by_id[a["visit_id"]][3])
        for i, a in day.acked.items()
        if by_id[a["visit_id"]][3] != people[i].lane or not a["ticket"].startswith(people[i].lane)
    ]
    assert not wrong_lane, f"{len(wrong_lane)} in the wrong lane, e.g. {wrong_lane[:3]}"
    per_lane = Counter(row[3] for row in visits)
    sent = Counter(people[i].lane for i in day.acked)
    counted = {lane: n for (_day, lane), n in counters.items() if lane != WALK_IN_PLACES}
    assert per_lane == sent == Counter(counted), f"lanes {per_lane}, sent {sent}, {counted}"
    assert not any(stats["waiting_by_lane"].values()), stats["waiting_by_lane"]
    assert sum(per_lane.values()) == stats["tickets_issued"]
    day.figures.by_lane = dict(sorted(per_lane.items()))
    # Each booking used once: one visit per booking code, the booking linked to it; the
    # walk-ins have none; the bookings nobody used are those of the people turned away.
    used = Counter(row[9] for row in visits if row[9] is not None)
    assert max(used.values(), default=1) == 1, f"a booking used twice: {used.most_common(3)}"
    for i, answer in day.acked.items():
        person, row = people[i], by_id[answer["visit_id"]]
        assert row[9] == person.code and bool(row[10]) == (person.code is None), (person, row)
        if person.code is not None:
            assert bookings[person.code][0] == row[0], f"{person.code} not linked to its visit"
    unused = {code for code, (visit_id, _source) in bookings.items() if visit_id is None}
    assert unused == {p.code for p in day.people if p.refused}, f"bookings unused: {unused}"
    # Every signed-QR person is there, their booking remembered from the QR.
    with_qr = {p.code for i, p in people.items() if p.kind == "qr" and i in day.acked}
    assert with_qr == {p.code for p in day.people if p.kind == "qr"}, "a signed-QR person lost"
    assert with_qr == {c for c, (_v, source) in bookings.items() if source == "qr"}
    assert with_qr <= set(used), "a signed-QR person without their visit"
    # A second scan of a used booking was told so, with the ticket already issued.
    for i, (status, answer) in day.rescanned.items():
        details = (answer or {}).get("error", {}).get("details", {})
        assert status == 409 and details.get("ticket") == day.acked[i]["ticket"], answer
    assert len(day.rescanned) == sum(p.rescans for p in day.people)
    # One dose each, never two: the dose the history decides, a booster after a whole series.
    assert max(doses.values(), default=1) == 1, f"doses twice: {doses.most_common(3)}"
    assert set(doses) == set(by_id) == set(day.doses), "someone dosed without a record, or not"
    wrong_dose = [
        (i, people[i].dose, people[i].booster, dose_numbers[a["visit_id"]])
        for i, a in day.acked.items()
        if dose_numbers[a["visit_id"]] != people[i].dose
        or (dose_kinds[a["visit_id"]] == "booster") != people[i].booster
    ]
    assert not wrong_dose, f"{len(wrong_dose)} with the wrong dose, e.g. {wrong_dose[:3]}"
    boosters = sum(people[i].booster for i in day.acked)
    # Each child's guardian and consent recorded with the visit, and nobody else's.
    consented = {
        day.acked[i]["visit_id"]: (p.guardian, day.consent)
        for i, p in people.items()
        if p.guardian and i in day.acked
    }
    assert guardians == consented, f"guardians {len(guardians)}, not {len(consented)}"
    # Card-only people were checked in on their booking (above), never as walk-ins.
    card_only = [i for i in day.acked if people[i].card_only]
    # Nobody released before the end of observation; everyone released.
    early = [row for row in visits if row[7] is None or row[7] < row[6]]
    assert not early, f"released before ends_at: {early[:3]}"
    assert {row[5] for row in visits} == {"released"}, Counter(row[5] for row in visits)
    assert day.released == set(by_id)
    # The marshal's counts reconcile with the states.
    by_state = stats["by_state"]
    assert stats["checked_in"] == sum(by_state.values()) - by_state["cancelled"] == len(visits)
    assert stats["tickets_issued"] == len(visits) == stats["released"]
    # Print faults were reported and cleared by the reprint; one checked_in event per visit.
    assert not [row for row in visits if row[8]], "a print failure is still flagged"
    assert set(checked_in_events) == set(by_id) and max(checked_in_events.values()) == 1
    return {
        "acknowledged check-ins found": len(acked),
        "tickets unique": len(visits),
        "lanes numbered without gaps": len(numbers),
        "in their lane": len(acked),
        "bookings used once": len(used),
        "signed-QR people present": len(with_qr),
        "second scans answered with their ticket": len(day.rescanned),
        "expected refusals": sum(expected.values()),
        "doses once": sum(doses.values()),
        "dose numbers decided from the history": len(dose_numbers),
        "boosters": boosters,
        "children with their guardian's consent": len(consented),
        "card-only people on their booking": len(card_only),
        "released on time": len(visits),
    }
