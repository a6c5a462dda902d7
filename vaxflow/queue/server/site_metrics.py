"""The site's figures for Prometheus (`GET /metrics`), one registry per app.

Two kinds of figures. Counters and histograms move with what happens: committed events
(check-ins, doses, releases, call waits), refusals answered to clients, and the writer's
batches; they live as long as the process (Prometheus' `rate()` and `increase()` handle a
restart's reset). Gauges are read at each scrape from the marshal dashboard's own data
(`board_handlers.dashboard_data`): queue lengths, waits p50/p90, seats, stations, WAL, the
region shipper and the registry uplink, so whatever the dashboard shows, /metrics shows.

Never the global registry: tests build many apps in one process, each with its own figures.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from vaxflow.config import Settings
from vaxflow.queue.core.events import EventKind
from vaxflow.queue.store.writer import Event

log = logging.getLogger(__name__)

#: The media type of Prometheus' text format, version 0.0.4.
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

#: Call waits (check-in to first call), in seconds: a minute to two hours.
WAIT_BUCKETS = (60.0, 120.0, 300.0, 600.0, 900.0, 1200.0, 1800.0, 2700.0, 3600.0, 5400.0, 7200.0)
#: Requests per committed batch (the writer takes at most 256, 64 on SQLite).
BATCH_BUCKETS = (1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0)
#: A batch's transaction, BEGIN to COMMIT on disk, in seconds.
COMMIT_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
#: Visits checked in but not called yet that the wait histogram remembers (a bound, not a
#: limit of the site: a stadium has a few hundred waiting).
MAX_WAITING = 50_000


class SiteMetrics:
    """The figures of one site server; `render(dashboard)` is the scrape's answer."""

    def __init__(self, settings: Settings) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        self._lane_kind = {lane.prefix: lane.kind.value for lane in settings.lanes}
        self.checkins = Counter(
            "vaxflow_checkins",
            "Tickets issued (committed check-ins), by lane and the lane's kind.",
            ["lane", "kind"],
            registry=self.registry,
        )
        self.doses = Counter(
            "vaxflow_doses", "Doses recorded, by product.", ["product"], registry=self.registry
        )
        self.releases = Counter(
            "vaxflow_releases",
            "People released from observation (by observers or at the exit).",
            registry=self.registry,
        )
        self.refusals = Counter(
            "vaxflow_refusals",
            "Requests refused with a reason code (check-in rules, states, auth, storage).",
            ["reason"],
            registry=self.registry,
        )
        self.call_wait = Histogram(
            "vaxflow_call_wait_seconds",
            "From check-in to the first call, per lane (visits checked in since the start).",
            ["lane"],
            buckets=WAIT_BUCKETS,
            registry=self.registry,
        )
        self.batch_size = Histogram(
            "vaxflow_writer_batch_requests",
            "Requests per committed batch of the group-commit writer.",
            buckets=BATCH_BUCKETS,
            registry=self.registry,
        )
        self.commit_seconds = Histogram(
            "vaxflow_writer_commit_seconds",
            "A committed batch's transaction, BEGIN to COMMIT on disk.",
            buckets=COMMIT_BUCKETS,
            registry=self.registry,
        )
        for lane in settings.lanes:  # every lane shows, at 0, before its first ticket
            self.checkins.labels(lane.prefix, lane.kind.value)
        self._checked_in: dict[int, datetime] = {}
        self._snapshot = _Snapshot()
        self.registry.register(self._snapshot)

    def on_events(self, events: list[Event]) -> None:
        """A committed batch of events (the store's listener, on the loop)."""
        for event in events:
            kind = event.kind
            if kind == EventKind.CHECKED_IN:
                lane = str(event.payload.get("lane", ""))
                self.checkins.labels(lane, self._lane_kind.get(lane, "unknown")).inc()
                if event.visit_id is not None and len(self._checked_in) < MAX_WAITING:
                    self._checked_in[event.visit_id] = event.at
            elif kind == EventKind.CALLED and event.visit_id is not None:
                since = self._checked_in.pop(event.visit_id, None)
                if since is not None:
                    lane = str(event.payload.get("lane", ""))
                    self.call_wait.labels(lane).observe((event.at - since).total_seconds())
            elif kind == EventKind.CANCELLED and event.visit_id is not None:
                self._checked_in.pop(event.visit_id, None)
            elif kind == EventKind.DOSED:
                self.doses.labels(str(event.payload.get("product") or "unknown")).inc()
            elif kind == EventKind.RELEASED:
                self.releases.inc()

    def on_batch(self, requests: int, seconds: float) -> None:
        """A committed batch of the writer (the store's batch observer)."""
        self.batch_size.observe(requests)
        self.commit_seconds.observe(seconds)

    def refused(self, reason: str) -> None:
        """A refusal answered to a client (not a replayed one)."""
        self.refusals.labels(reason).inc()

    def render(self, dashboard: dict[str, Any]) -> bytes:
        """The text exposition with the gauges of this dashboard snapshot."""
        self._snapshot.data = dashboard  # then generated at once: no await between the two
        try:
            return generate_latest(self.registry)
        finally:
            self._snapshot.data = None


class _Snapshot(Collector):
    """The gauges read from the marshal dashboard's data at the scrape."""

    def __init__(self) -> None:
        self.data: dict[str, Any] | None = None

    def collect(self) -> Iterable[Metric]:
        return list(gauges(self.data)) if self.data is not None else []


def gauges(data: dict[str, Any]) -> Iterator[Metric]:
    """The dashboard's figures as metric families (pure: a dict in, families out)."""
    stats = data.get("stats") or {}
    lanes = data.get("lanes") or []
    yield _labelled(
        "vaxflow_queue_waiting",
        "People waiting to be called, per lane (today).",
        "lane",
        {lane["prefix"]: lane.get("waiting") for lane in lanes},
    )
    for name, key, what in (
        ("vaxflow_wait_p50_seconds", "wait_p50_minutes", "Median"),
        ("vaxflow_wait_p90_seconds", "wait_p90_minutes", "90th percentile of the"),
        ("vaxflow_oldest_wait_seconds", "oldest_wait_minutes", "Longest current"),
    ):
        yield _labelled(
            name,
            f"{what} wait from check-in to call per lane, as the marshal dashboard shows it "
            "(calls of the last hour; core/stats.py's percentile).",
            "lane",
            {lane["prefix"]: _seconds(lane.get(key)) for lane in lanes},
        )
    yield _labelled(
        "vaxflow_estimated_wait_seconds",
        "The wait a new ticket is told, per lane.",
        "lane",
        {lane["prefix"]: _seconds(lane.get("estimated_wait_minutes")) for lane in lanes},
    )
    yield _labelled(
        "vaxflow_visits",
        "Today's visits by state.",
        "state",
        dict(stats.get("by_state") or {}),
    )
    observation = data.get("observation") or {}
    yield _gauge(
        "vaxflow_observation_seats_in_use",
        "People in observation now.",
        observation.get("observing"),
    )
    yield _gauge("vaxflow_observation_seats", "Observation seats.", observation.get("seats"))
    stations = data.get("stations") or []
    yield _gauge("vaxflow_stations_open", "Stations open now.", stats.get("stations_open"))
    by_state: dict[str, float | None] = {}
    for station in stations:
        by_state[station["state"]] = (by_state.get(station["state"]) or 0) + 1
    yield _labelled("vaxflow_stations", "Stations of the site file by state.", "state", by_state)
    alerts = data.get("alerts") or {}
    yield _gauge(
        "vaxflow_adverse_open", "Adverse reactions not resolved.", len(alerts.get("adverse") or [])
    )
    devices: dict[str, float | None] = {}
    for device in data.get("devices") or []:
        devices[device["state"]] = (devices.get(device["state"]) or 0) + 1
    yield _labelled("vaxflow_devices", "Devices that reported, by state.", "state", devices)
    yield _gauge(
        "vaxflow_store_outage",
        "1 while the database cannot save (disk full, WAL backlog), else 0.",
        0 if alerts.get("storage") is None else 1,
    )
    day = data.get("site_day")
    if day is not None:  # issue 18
        yield _gauge(
            "vaxflow_site_day_closed",
            "1 while staff have closed the site day (check-ins refused until the next opens).",
            1 if day["closed"] else 0,
        )
    yield from _wal(data.get("wal"))
    yield from _region(data.get("region"))
    yield from _uplink(data.get("uplink"))


def _wal(wal: dict[str, Any] | None) -> Iterator[Metric]:
    if wal is None:  # PostgreSQL: no WAL of ours
        return
    yield _gauge("vaxflow_wal_bytes", "The SQLite write-ahead log's size.", wal.get("bytes"))
    yield _gauge(
        "vaxflow_wal_ceiling_bytes",
        "The WAL's ceiling: the writer checkpoints, then refuses, above it.",
        wal.get("ceiling"),
    )
    yield _gauge("vaxflow_database_bytes", "The SQLite database file's size.", wal.get("db_bytes"))
    yield _counter(
        "vaxflow_wal_checkpoints", "WAL checkpoints run by the writer.", wal.get("checkpoints")
    )
    yield _counter(
        "vaxflow_wal_refused_batches",
        "Batches refused because the WAL stayed at its ceiling.",
        wal.get("refused_batches"),
    )


def _region(region: dict[str, Any] | None) -> Iterator[Metric]:
    if region is None:  # no [region] url: nothing is shipped
        return
    yield _gauge(
        "vaxflow_region_backlog_events",
        "Events the region does not hold yet (absent until the first contact).",
        region.get("backlog"),
    )
    yield _counter(
        "vaxflow_region_sent_events", "Events shipped to the region.", region.get("sent")
    )
    yield _gauge(
        "vaxflow_region_error",
        "1 while the region cannot be reached, else 0.",
        0 if region.get("last_error") is None else 1,
    )


def _uplink(uplink: dict[str, Any] | None) -> Iterator[Metric]:
    """The registry uplink's outbox per target, as the marshal dashboard reads it."""
    if uplink is None:
        return
    targets: dict[str, dict[str, Any]] = uplink.get("targets") or {}
    rows = GaugeMetricFamily(
        "vaxflow_uplink_rows",
        "Dose records in the registry outbox per target and state (pending is the backlog).",
        labels=["target", "state"],
    )
    oldest = GaugeMetricFamily(
        "vaxflow_uplink_oldest_pending_seconds",
        "Age of the oldest record not yet acknowledged, per target.",
        labels=["target"],
    )
    late = GaugeMetricFamily(
        "vaxflow_uplink_past_alert",
        "1 when a target's oldest pending record is past the alert age, else 0.",
        labels=["target"],
    )
    for target, figures in targets.items():
        for state in ("pending", "sent", "needs_fixing"):
            if isinstance(figures.get(state), int | float):
                rows.add_metric([target, state], figures[state])
        age = _seconds(figures.get("oldest_pending_minutes"))
        if age is not None:
            oldest.add_metric([target], age)
        late.add_metric([target], 1 if figures.get("past_alert") else 0)
    yield rows
    yield oldest
    yield late


def _seconds(minutes: object) -> float | None:
    return float(minutes) * 60 if isinstance(minutes, int | float) else None


def _gauge(name: str, documentation: str, value: object) -> GaugeMetricFamily:
    family = GaugeMetricFamily(name, documentation)
    if isinstance(value, int | float):
        family.add_metric([], value)
    return family


def _counter(name: str, documentation: str, value: object) -> CounterMetricFamily:
    family = CounterMetricFamily(name, documentation)
    if isinstance(value, int | float):
        family.add_metric([], value)
    return family


def _labelled(
    name: str, documentation: str, label: str, values: dict[str, Any]
) -> GaugeMetricFamily:
    family = GaugeMetricFamily(name, documentation, labels=[label])
    for key, value in values.items():
        if isinstance(value, int | float):
            family.add_metric([str(key)], value)
    return family
