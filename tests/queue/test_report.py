"""The daily report against a scripted site day whose every count is known in advance.

The day is driven through the real server (HTTP, store, engine) with a frozen clock, on
SQLite and on PostgreSQL. The clock starts at 08:00 UTC, which is 16:00 at the demo site
(Asia/Shanghai), so hours below are site hours.
"""

from __future__ import annotations

import csv
import re
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from vaxflow.cli import main
from vaxflow.queue.core import engine
from vaxflow.queue.core.report import (
    DayRows,
    DoseRow,
    EventRow,
    VisitRow,
    age_band,
    build,
    percentile,
)
from vaxflow.queue.demo.demo_data import make_people
from vaxflow.queue.records.report_html import render_html
from vaxflow.queue.server.appkeys import STORE
from vaxflow.queue.store.records import day_rows

from .conftest import Site, auth, booking_codes

TZ = "Asia/Shanghai"


def _band(birth: date, day: date) -> str:
    age = engine.age_on(birth, day)
    if age >= 80:
        return "80+"
    return "18-29" if age < 30 else f"{age // 10 * 10}-{age // 10 * 10 + 9}"


class Day:
    """Walks people through the site one at a time, so each wait is exactly as scripted."""

    def __init__(self, site: Site) -> None:
        self.site = site
        self.dosed: list[tuple[str, dict[str, Any]]] = []  # booking code, visit

    async def arrive(self, code: str, wait: int) -> dict[str, Any]:
        ticket = await self.site.check_in(code)
        self.site.clock.advance(minutes=wait)
        return ticket  # type: ignore[no-any-return]

    async def serve(self, station: str, ticket: dict[str, Any]) -> None:
        called = (await self.site.post("station", f"/api/stations/{station}/call-next"))["called"]
        assert called["ticket"] == ticket["ticket"]
        await self.site.post(
            "station", f"/api/stations/{station}/start-service", {"code": ticket["qr"]}
        )
        self.site.clock.advance(minutes=1)

    async def dose(self, station: str, code: str, wait: int) -> dict[str, Any]:
        ticket = await self.arrive(code, wait)
        await self.serve(station, ticket)
        dosed = await self.site.post(
            "station", f"/api/stations/{station}/record-dose", {"visit_id": ticket["visit_id"]}
        )
        self.dosed.append((code, dosed))
        return dosed  # type: ignore[no-any-return]

    async def end(self, station: str, code: str, wait: int, how: str, reason: str) -> None:
        ticket = await self.arrive(code, wait)
        await self.serve(station, ticket)
        body = {"visit_id": ticket["visit_id"], "reason": reason}
        await self.site.post("station", f"/api/stations/{station}/{how}", body)


async def script_the_day(site: Site) -> Day:
    """16:00-17:50 at two stations: 8 people, 5 doses, a deferral, a referral, a no-show."""
    coronavac = booking_codes(site.settings, site.clock, product="CORONAVAC", elderly=False)
    bbibp = booking_codes(site.settings, site.clock, product="BBIBP", elderly=False)
    await site.open("S01", "CORONAVAC")
    await site.open("S05", "BBIBP")
    day = Day(site)
    await day.dose("S01", coronavac[0], wait=2)  # in 16:00, called 16:02, dosed 16:03
    await day.dose("S01", coronavac[1], wait=4)  # 16:03 -> 16:07, dosed 16:08
    await day.dose("S05", bbibp[0], wait=6)  # 16:08 -> 16:14, dosed 16:15
    await day.end("S01", coronavac[2], 8, "defer", "发烧 fever")  # 16:15 -> 16:23
    await day.end("S05", bbibp[1], 10, "refer", "allergy history")  # 16:24 -> 16:34
    # 16:35 in; called 16:38, again 16:39, skipped, recalled 16:40, skipped: no-show
    no_show = await day.arrive(coronavac[3], wait=3)
    await site.post("station", "/api/stations/S01/call-next")
    site.clock.advance(minutes=1)
    await site.post("station", "/api/stations/S01/recall")
    await site.post("station", "/api/stations/S01/skip")
    site.clock.advance(minutes=1)
    await site.post("station", "/api/stations/S01/recall", {"visit_id": no_show["visit_id"]})
    gone = await site.post("station", "/api/stations/S01/skip")
    assert gone["state"] == "no_show"
    site.clock.set(site.clock.now().replace(hour=9, minute=5))  # 17:05
    dizzy = await day.dose("S01", coronavac[4], wait=12)  # 17:05 -> 17:17, dosed 17:18
    rash = await day.dose("S05", bbibp[2], wait=2)  # 17:18 -> 17:20, dosed 17:21
    await site.post(
        "observer",
        f"/api/observation/{dizzy['visit_id']}/flag",
        {"kind": "dizziness", "severity": "mild"},
    )
    await site.post(
        "observer",
        f"/api/observation/{rash['visit_id']}/flag",
        {"kind": "rash", "severity": "moderate"},
    )
    site.clock.set(site.clock.now().replace(hour=9, minute=30))
    await site.post(
        "observer", f"/api/observation/{dizzy['visit_id']}/resolve", {"outcome": "resolved"}
    )
    site.clock.set(site.clock.now().replace(hour=9, minute=50))  # 17:50: all but `rash` leave
    for _, person in day.dosed:
        if person["visit_id"] != rash["visit_id"]:
            left = await site.post("observer", "/api/exit-scan", {"code": person["qr"]})
            assert left["may_leave"] is True
    return day


@pytest.mark.slow  # > 2 s (./dev test --fast leaves it out)
async def test_report_figures_match_the_scripted_day(site: Site, tmp_path: Path) -> None:
    day = await script_the_day(site)
    store = site.app[STORE]
    site_day = engine.site_day(site.clock.now(), TZ)
    rows = await store.read(
        lambda conn: day_rows(
            conn,
            site_day,
            [store.site_id],
            timezone=TZ,
            as_of=site.clock.now(),
            seats={store.site_id: 4},
        )
    )
    report = build(rows)

    failed = [(c.name, c.tables, c.events) for c in report.checks if not c.ok]
    assert failed == []
    assert len(report.checks) >= 14
    totals = report.totals
    assert (totals["checked_in"], totals["doses"]) == (8, 5)
    assert (totals["deferred"], totals["referred"], totals["no_show"]) == (1, 1, 1)
    assert (totals["released"], totals["observing"], totals["adverse"]) == (4, 1, 2)
    assert [(h.hour, h.doses, h.doses_by_product) for h in report.hours] == [
        (16, 3, {"BBIBP": 1, "CORONAVAC": 2}),
        (17, 2, {"BBIBP": 1, "CORONAVAC": 1}),
    ]
    # waits by hour of check-in: 16h: 2, 4, 6, 8, 10 and the no-show's 5 (its last call)
    assert [(h.hour, h.checked_in, h.waits) for h in report.hours] == [(16, 6, 6), (17, 2, 2)]
    assert [(h.wait_p50_minutes, h.wait_p90_minutes) for h in report.hours] == [
        (5.5, 9.0),
        (7.0, 11.0),
    ]
    stations = {s.station_id: s for s in report.stations}
    assert (stations["S01"].doses, stations["S01"].deferred, stations["S01"].referred) == (3, 1, 0)
    assert (stations["S05"].doses, stations["S05"].deferred, stations["S05"].referred) == (2, 0, 1)
    assert stations["S01"].service_p50_minutes == 1.0
    assert report.reasons == [("deferred", "发烧 fever", 1), ("referred", "allergy history", 1)]
    assert report.adverse == [("dizziness", "mild", 1), ("rash", "moderate", 1)]
    assert report.adverse_outcomes == {"open": 1, "resolved": 1}
    # in observation: 3 from 16:03-16:15, the 2 flagged join at 17:18 and 17:21; 4 leave 17:50
    occ = report.occupancy
    assert (occ.peak, occ.peak_at, occ.seats) == (5, datetime(2026, 11, 21, 9, 25, tzinfo=UTC), 4)
    assert occ.minutes_over_seats == 25  # 17:25 .. 17:45 at 5-minute steps
    people = {p.code: p for p in make_people(site.settings, site_day, 200)}
    expected: Counter[tuple[str, str, int, str, str | None]] = Counter()
    for code, dosed in day.dosed:
        person = people[code]
        product = site.settings.product(person.product)
        assert product is not None and dosed["product"] == person.product
        assert person.birth_date is not None
        band = _band(person.birth_date, site_day)
        key = (person.product, product.manufacturer, person.dose_number, band, person.sex)
        expected[key] += 1
    got = Counter(
        {
            (g.product, g.manufacturer, g.dose_number, g.age_band, g.sex): g.doses
            for g in report.dose_groups
        }
    )
    assert got == expected and sum(got.values()) == 5

    page = render_html(report)
    assert '<meta charset="utf-8">' in page and "Noto Sans CJK SC" in page
    assert "发烧 fever" in page and "全部数字与事件日志一致" in page
    assert page.count('<img src="data:image/svg+xml;base64,') == 6

    # the same day through the command line: CSV, HTML and charts, exit 0 (all reconciled)
    out = tmp_path / "report"
    exit_code = main(
        ["report", "daily", "--date", site_day.isoformat(), "--db", store.url, "--out", str(out)]
    )
    assert exit_code == 0
    stem = f"daily-{site_day.isoformat()}"
    with (out / f"{stem}.csv").open(encoding="utf-8", newline="") as f:
        table = list(csv.DictReader(f))
    doses = [r for r in table if r["section"] == "doses"]
    assert sum(int(r["value"]) for r in doses) == 5
    assert {r["sex"] for r in doses} <= {"male", "female"}
    checks = [r for r in table if r["section"] == "reconciliation"]
    assert len(checks) == len(report.checks) and {r["value"] for r in checks} == {"1"}
    assert (out / f"{stem}.html").read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert (out / f"{stem}-observation.svg").read_bytes().startswith(b"<?xml")

    # and from the site server, for the marshal
    response = await site.client.get("/api/reports/daily", headers=auth("marshal"))
    assert response.status == 200 and response.content_type == "text/html"
    served = await response.text()
    assert "全部数字与事件日志一致" in served and "Demo Stadium" in served
    assert not re.search(r"\d{17}[\dXx]", served)  # figures only: no ID numbers, no names
    assert not any(p.person_name in served for p in people.values())
    bad = await site.client.get("/api/reports/daily?date=21/11", headers=auth("admin"))
    assert bad.status == 422 and (await bad.json())["error"]["reason"] == "bad_date"


# --- the pure figures --------------------------------------------------------------------

T0 = datetime(2026, 11, 21, 1, 0, tzinfo=UTC)  # 09:00 at the site
DAY = date(2026, 11, 21)


def _rows(site: str = "s1", *, people: int = 3, first_id: int = 1) -> DayRows:
    """People checked in 10 minutes apart, called after 5 + i minutes, dosed 2 minutes later."""
    visits, doses, events = [], [], []
    seq = first_id * 100
    for i in range(people):
        vid = first_id + i
        arrived = T0 + timedelta(minutes=10 * i)
        called = arrived + timedelta(minutes=5 + i)
        dosed = called + timedelta(minutes=2)
        visits.append(
            VisitRow(
                site,
                vid,
                "observing",
                "P",
                1,
                date(1950 + 20 * i, 1, 1),
                "female",
                arrived,
                called,
                "S01",
                dosed,
                None,
                None,
            )
        )
        doses.append(DoseRow(site, vid, "P", "Maker", "L1", 1, "S01", "Nurse", dosed))
        for kind, at, payload in (
            ("checked_in", arrived, {}),
            ("called", called, {}),
            ("dosed", dosed, {"product": "P", "station_id": "S01", "lot": "L1"}),
        ):
            seq += 1
            events.append(EventRow(site, seq, at, kind, vid, payload))
    return DayRows(DAY, TZ, (site,), T0 + timedelta(hours=2), visits, doses, [], events)


@pytest.mark.parametrize(
    ("values", "q", "expected"),
    [([], 50, None), ([3.0], 90, 3.0), ([1, 2, 3, 4], 50, 2.5), ([1, 2, 3, 4, 5], 90, 4.6)],
)
def test_percentile_interpolates_between_ranks(
    values: list[float], q: float, expected: float | None
) -> None:
    assert percentile(values, q) == expected


@pytest.mark.parametrize(
    ("birth", "band"),
    [
        (None, "unknown"),
        (date(2009, 11, 22), "<18"),
        (date(2008, 11, 21), "18-29"),
        (date(1966, 11, 22), "50-59"),
        (date(1966, 11, 21), "60-69"),
        (date(1930, 1, 1), "80+"),
    ],
)
def test_age_bands_use_completed_years_on_the_site_day(birth: date | None, band: str) -> None:
    assert age_band(birth, DAY) == band


def test_a_dose_missing_from_the_event_log_is_a_reported_mismatch() -> None:
    rows = _rows()
    assert build(rows).reconciled
    without = [e for e in rows.events if not (e.kind == "dosed" and e.visit_id == 2)]
    broken = build(DayRows(DAY, TZ, rows.sites, rows.as_of, rows.visits, rows.doses, [], without))
    assert not broken.reconciled
    bad = {c.name for c in broken.checks if not c.ok}
    assert {"doses", "doses by product", "doses by station", "doses by lot"} <= bad
    assert "disagree with the event log" in render_html(broken, charts={})


def test_a_region_adds_up_its_sites() -> None:
    north, south = _rows("north", people=3), _rows("south", people=2, first_id=10)
    region = build(
        DayRows(
            DAY,
            TZ,
            ("north", "south"),
            north.as_of,
            [*north.visits, *south.visits],
            [*north.doses, *south.doses],
            [],
            [*north.events, *south.events],
            seats={"north": 2, "south": 1},
            site_names={"north": "北区体育馆", "south": "South Hall"},
        )
    )
    assert region.reconciled and region.region
    assert [(s.site_id, s.doses, s.wait_p50_minutes) for s in region.per_site] == [
        ("north", 3, 6.0),
        ("south", 2, 5.5),
    ]
    assert region.totals["doses"] == 5 and region.occupancy.seats == 3
    assert [(g.site_id, g.age_band, g.doses) for g in region.dose_groups] == [
        ("north", "30-39", 1),
        ("north", "50-59", 1),
        ("north", "70-79", 1),
        ("south", "50-59", 1),
        ("south", "70-79", 1),
    ]
    assert "北区体育馆" in render_html(region, charts={})
