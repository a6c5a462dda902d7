"""A site day against a real server process, with faults at random moments; then every invariant.

A `vaxflow server` process runs vaxflow/config/demo.toml (walk-in capacity raised, no per-kiosk rate
limit, the public key of a key pair made for the run) on a SQLite file with a rehearsal clock
(`--speed`: 30 minutes of observation take 90 s at 20x). Before it starts, the day list is
written as the booking CSV, checked by the importer and imported, as `vaxflow demo` does, for
the site day of the rehearsal clock. The `--people` who come are a site's mix: 65 % on the
day list (a booking window of the morning session, or none), their kiosk sending the scanned
code or booking link, or the typed code, with the ID card as the reader took it; 15 % with a
signed booking QR (VXB1..., signed with the run's key); 20 % walk-ins (a fifth of them 60 or
older). The day list is the demo's (vaxflow/queue/demo/demo_day.py): first and second doses (the
first in the CSV history), boosters after a completed inactivated series, children 3-17 with
a guardian's card, relation and consent, one in a hundred whose earlier dose is another
manufacturer's booking that product's dose 1 (refused `manufacturer_mismatch`, expected), and
a tenth who bring only the ID card (sent as a walk-in; the server finds the booking). Booked
people and walk-ins 60 or older, children brought by a grandparent and booked second doses
with no earlier dose on record go to the priority lane E, the other booked to A, the other
walk-ins to W. A few on the list are booked
for the evening session but come in the morning and are turned away `too_early`; one in a
hundred booked people scans the booking again after the ticket is out and is told
`already_checked_in` with that ticket. Kiosks report each print, and a share of prints fail
with paper out and are reprinted; the site's 12 stations call, scan and record doses; four
exit desks scan people when the server's clock (synced through /api/time) says their
observation is over, and one in twenty tries five minutes early and must be told "not yet".
Meanwhile the server is killed with SIGKILL
`--kills` times, at random points of the day, and restarted on the same file with its clock
where the day had got to. Every request is retried with its own Idempotency-Key until it is
answered, as the kiosks and consoles do. At the end the server is stopped and its database checked:

* every acknowledged check-in is there, with the ticket and visit it was answered with;
* no ticket number twice, and numbers in each lane run 1..N without a gap;
* everyone in the lane they belong in; per lane, the tickets counted in the file, the lane's
  counter and the people sent agree, and nobody is left waiting in any lane;
* the refusals are exactly the expected ones, by reason, and nobody else was turned away;
* each booking used once (one visit per booking code, the booking linked to it), walk-ins
  without one, card-only people on their booking, the unused bookings exactly those of the
  people turned away; every signed-QR
  person there, their booking remembered; a second scan answered with the ticket issued;
* no dose recorded twice, and one for every person, its number the earlier doses plus one
  and a booster exactly after a whole series; each child's guardian and consent recorded;
  nobody released before `ends_at`;
* counts reconcile: the marshal's `checked_in` is the sum of every state, all released;
* every failed print was reported and cleared by its reprint.

The test suite runs a bounded day (tests/faults/test_soak.py); `./dev bench soak`
(benchmarks/soak.py) the full one. Both import this package; neither imports the other.
"""

from vaxflow.queue.demo.soak.checks import check, expected_refusals
from vaxflow.queue.demo.soak.day import Day, Figures, Person, Plan, Server
from vaxflow.queue.demo.soak.run import soak

__all__ = [
    "Day",
    "Figures",
    "Person",
    "Plan",
    "Server",
    "check",
    "expected_refusals",
    "soak",
]
