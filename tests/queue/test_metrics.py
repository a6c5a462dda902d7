"""`GET /metrics`: Prometheus' parser reads it, and its counters move with real traffic."""

from __future__ import annotations

import json
import re
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.deploy.demo_site import demo_server
from vaxflow.clock import FrozenClock
from vaxflow.config import Settings
from vaxflow.config.schema import FhirUplink
from vaxflow.queue.core import engine
from vaxflow.queue.demo.demo_data import seed_bookings
from vaxflow.queue.server.app import create_app
from vaxflow.queue.server.appkeys import STORE
from vaxflow.queue.server.site_metrics import gauges

from .conftest import AiohttpClient, Site, auth, booking_codes

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def samples(text: str) -> Samples:
    """Every sample by (name, sorted labels); the parser raises on a malformed exposition."""
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(found: Samples, name: str, **labels: str) -> float:
    return found.get((name, tuple(sorted(labels.items()))), 0.0)


async def scrape(site: Site, role: str = "metrics") -> Samples:
    response = await site.client.get("/metrics", headers=auth(role))
    text = await response.text()
    assert response.status == 200, text
    assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    return samples(text)


async def test_counters_move_with_check_ins_doses_and_refusals(site: Site) -> None:
    before = await scrape(site)
    assert value(before, "vaxflow_checkins_total", lane="A", kind="regular") == 0
    assert value(before, "vaxflow_observation_seats") == site.settings.observation.seats
    if site.app[STORE].wal is not None:  # SQLite; PostgreSQL keeps its own log
        assert value(before, "vaxflow_wal_ceiling_bytes") > 0
    await site.open("S01")
    codes = booking_codes(site.settings, site.clock, product="CORONAVAC", elderly=False)[:3]
    tickets = [await site.check_in(code) for code in codes]
    assert {t["lane"] for t in tickets} == {"A"}
    middle = await scrape(site)
    assert value(middle, "vaxflow_checkins_total", lane="A", kind="regular") == 3
    assert value(middle, "vaxflow_queue_waiting", lane="A") == 3
    assert value(middle, "vaxflow_stations_open") == 1
    assert value(middle, "vaxflow_writer_batch_requests_count") >= 4  # the open, 3 check-ins
    assert value(middle, "vaxflow_writer_commit_seconds_count") >= 4

    site.clock.advance(minutes=7)
    called = (await site.post("station", "/api/stations/S01/call-next"))["called"]
    await site.post("station", "/api/stations/S01/start-service", {"code": called["qr"]})
    await site.post("station", "/api/stations/S01/record-dose", {"visit_id": called["visit_id"]})
    again = await site.post("kiosk", "/api/checkins", site.check_in_body(codes[0]), expect=409)
    assert again["error"]["reason"] == "already_checked_in"
    key = {"Idempotency-Key": "retry-1", **auth("kiosk")}
    for _ in range(2):  # a replayed refusal is the same refusal: counted once
        response = await site.client.post(
            "/api/checkins", json=site.check_in_body(codes[1]), headers=key
        )
        assert response.status == 409

    after = await scrape(site, "marshal")
    assert value(after, "vaxflow_doses_total", product="CORONAVAC") == 1
    assert value(after, "vaxflow_refusals_total", reason="already_checked_in") == 2
    assert value(after, "vaxflow_observation_seats_in_use") == 1
    assert value(after, "vaxflow_queue_waiting", lane="A") == 2
    assert value(after, "vaxflow_call_wait_seconds_count", lane="A") == 1
    assert value(after, "vaxflow_call_wait_seconds_sum", lane="A") == 7 * 60
    assert value(after, "vaxflow_call_wait_seconds_bucket", lane="A", le="300.0") == 0
    assert value(after, "vaxflow_call_wait_seconds_bucket", lane="A", le="600.0") == 1
    # the dashboard's p50/p90 (core/stats.py's percentile) as gauges, in seconds
    assert value(after, "vaxflow_wait_p50_seconds", lane="A") == 7 * 60
    assert value(after, "vaxflow_wait_p90_seconds", lane="A") == 7 * 60
    assert value(after, "vaxflow_visits", state="observing") == 1

    site.clock.advance(minutes=31)
    released = await site.post("observer", "/api/exit-scan", {"code": called["qr"]})
    assert released["may_leave"] is True
    last = await scrape(site, "admin")
    assert value(last, "vaxflow_releases_total") == 1
    assert value(last, "vaxflow_observation_seats_in_use") == 0


async def test_the_uplink_backlog_is_what_the_marshal_dashboard_shows(
    aiohttp_client: AiohttpClient, settings: Settings, clock: FrozenClock, db_url: str
) -> None:
    """A dose for a registry that does not answer: pending in both, from the same read."""
    unreachable = FhirUplink(url="http://127.0.0.1:9/fhir", history=False, timeout_seconds=1)
    uplink = settings.uplink.model_copy(update={"fhir": unreachable})
    with_uplink = settings.model_copy(update={"uplink": uplink})
    app = create_app(with_uplink, db=db_url, clock=clock)
    site = Site(await aiohttp_client(app), clock, with_uplink)
    day = engine.site_day(clock.now(), settings.site.timezone)
    await app[STORE].write(lambda tx: seed_bookings(tx, settings, day, 200), actor="test")
    await site.open("S01")
    code = booking_codes(settings, clock, product="CORONAVAC", elderly=False)[0]
    ticket = await site.check_in(code)
    await site.post("station", "/api/stations/S01/call-next")
    await site.post("station", "/api/stations/S01/start-service", {"code": ticket["qr"]})
    await site.post("station", "/api/stations/S01/record-dose", {"visit_id": ticket["visit_id"]})
    clock.advance(minutes=3)
    found = await scrape(site)
    dashboard = await site.get("marshal", "/api/dashboard")
    figures = dashboard["uplink"]["targets"]["fhir"]
    assert figures["pending"] == 1
    for state in ("pending", "sent", "needs_fixing"):
        assert value(found, "vaxflow_uplink_rows", target="fhir", state=state) == figures[state]
    assert value(found, "vaxflow_uplink_oldest_pending_seconds", target="fhir") == 180
    assert value(found, "vaxflow_uplink_past_alert", target="fhir") == 0


async def test_only_scrapers_the_marshal_and_admin_read_metrics(site: Site) -> None:
    for role in ("kiosk", "station", "observer", "board"):
        response = await site.client.get("/metrics", headers=auth(role))
        assert response.status == 403, role
    response = await site.client.get("/metrics")
    assert response.status == 401
    # the scraper's token reads /metrics and nothing else
    for path in ("/api/dashboard", "/api/stats", "/api/boards/calls"):
        response = await site.client.get(path, headers=auth("metrics"))
        assert response.status == 403, path
    document = await (await site.client.get("/api/openapi.json")).json()
    ok = document["paths"]["/metrics"]["get"]["responses"]["200"]
    assert list(ok["content"]) == ["text/plain; version=0.0.4"]


#: The dashboard's entries a plain test site has none of: the region shipper, the registry
#: uplink (issue 15's outbox), a WAL's figures on PostgreSQL.
OPTIONAL: dict[str, Any] = {
    "region": {"cursor": 10, "backlog": 5, "sent": 10, "last_error": "timeout"},
    "uplink": {
        "targets": {
            "registry": {
                "pending": 12,
                "sent": 30,
                "needs_fixing": 1,
                "oldest_pending_minutes": 2.5,
                "past_alert": False,
            }
        }
    },
    "wal": {"bytes": 1, "ceiling": 2, "db_bytes": 3, "checkpoints": 4, "refused_batches": 0},
}


def test_the_dashboard_s_uplink_and_region_figures_become_gauges() -> None:
    """What the dashboard carries under `uplink` and `region` (pure: a dict in)."""
    found = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in gauges(OPTIONAL)
        for s in family.samples
    }
    assert value(found, "vaxflow_region_backlog_events") == 5
    assert value(found, "vaxflow_region_error") == 1
    assert value(found, "vaxflow_uplink_rows", target="registry", state="pending") == 12
    assert value(found, "vaxflow_uplink_rows", target="registry", state="needs_fixing") == 1
    assert value(found, "vaxflow_uplink_oldest_pending_seconds", target="registry") == 150
    assert value(found, "vaxflow_uplink_past_alert", target="registry") == 0


DOCUMENTED = [
    Path(__file__).parents[2] / name
    for name in ("docs/metrics.md", "deploy/grafana/vaxflow-site.json")
]


async def test_the_docs_and_the_dashboard_name_only_metrics_the_server_has(site: Site) -> None:
    response = await site.client.get("/metrics", headers=auth("metrics"))
    families = [*text_string_to_metric_families(await response.text()), *gauges(OPTIONAL)]
    known = {f.name for f in families} | {s.name for f in families for s in f.samples}
    known |= {f"{f.name}_total" for f in families if f.type == "counter"}
    known |= {f"{f.name}_{end}" for f in families for end in ("bucket", "sum", "count")}
    for path in DOCUMENTED:
        named = set(re.findall(r"\bvaxflow_[a-z0-9_]*[a-z0-9]", path.read_text("utf-8")))
        assert named and named <= known, (path.name, named - known)
    dashboard = json.loads(DOCUMENTED[1].read_text("utf-8"))
    assert {p["type"] for p in dashboard["panels"]} >= {"row", "timeseries", "stat"}
    listed = re.findall(r"^\| `(vaxflow_[a-z0-9_]+)`", DOCUMENTED[0].read_text("utf-8"), re.M)
    exposed = {f.name for f in families} | {f"{f.name}_total" for f in families}
    assert set(listed) <= exposed


def _scrape_url(url: str) -> Samples:
    request = urllib.request.Request(
        f"{url}/metrics", headers={"Authorization": "Bearer demo-metrics-token"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return samples(response.read().decode("utf-8"))


def _total(found: Samples, name: str) -> float:
    return sum(v for (n, _labels), v in found.items() if n == name)


@pytest.mark.slow
def test_a_demo_s_counters_grow(tmp_path: Path) -> None:
    with demo_server(tmp_path, tmp_path / "demo.sqlite") as url:
        first = _scrape_url(url)
        deadline = time.monotonic() + 40
        while True:
            later = _scrape_url(url)
            grew = (
                _total(later, "vaxflow_checkins_total") > _total(first, "vaxflow_checkins_total")
                and _total(later, "vaxflow_doses_total") > _total(first, "vaxflow_doses_total")
                and _total(later, "vaxflow_writer_batch_requests_count")
                > _total(first, "vaxflow_writer_batch_requests_count")
            )
            if grew:
                break
            assert time.monotonic() < deadline, later
            time.sleep(0.5)
        assert _total(later, "vaxflow_stations_open") > 0
        assert _total(later, "vaxflow_wal_bytes") >= 0
