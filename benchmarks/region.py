"""The region under load: N sites × R events/s into a Patroni cluster, the leader killed midway.

    .venv/bin/python benchmarks/region.py [--sites 20] [--rate 100] [--seconds 40]
                                          [--kill-at 15] [--interval 0.25] [--json]

Starts the dev cluster (3 etcd + 2 PostgreSQL under Patroni, `vaxflow.region.devcluster`) and a
`vaxflow region serve` process, then runs `--sites` simulated sites in this process. Each site
commits `--rate` events a second (a `dosed` event with its dose record one time in four) and
ships them the way the site shipper does: everything after the region's cursor in one batch
per request, a request as soon as the previous one answered (or `--interval` when nothing is
new), resending the same events after a failure. At `--kill-at` seconds the Patroni leader
(Patroni and its PostgreSQL) is SIGKILLed. Printed:

* ingest rate: events the region applied per second over the run;
* lag p50 / p99 / max: from a site's commit to the answer saying the region holds the event;
* failover gap: from the kill to the first accepted ingest after it;
* loss and doubles: per site, the region's seqs against the site's (must be equal, once each).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from vaxflow.queue.core.stats import percentile  # noqa: E402
from vaxflow.region.devcluster import DevCluster  # noqa: E402
from vaxflow.region.store import RegionStore  # noqa: E402


class SimulatedSite:
    """A site's events (commit times kept) and its shipper's cursor."""

    def __init__(self, site_id: str, token: str) -> None:
        self.site_id = site_id
        self.token = token
        self.committed: list[float] = []  # monotonic commit time of seq i+1
        self.cursor = 0
        self.lags: list[tuple[float, float]] = []  # (commit time, lag) per event
        self.wake = asyncio.Event()

    def commit(self) -> None:
        self.committed.append(time.monotonic())
        self.wake.set()

    def event(self, seq: int) -> dict[str, Any]:
        at = datetime.now(UTC).isoformat()
        event: dict[str, Any] = {
            "seq": seq,
            "at": at,
            "kind": "dosed" if seq % 4 == 0 else "checked_in",
            "actor": "kiosk",
            "device": "K01",
            "visit_id": seq,
            "payload": json.dumps({"visit_id": seq, "ticket": f"A{seq:04d}", "lane": "A"}),
        }
        if seq % 4 == 0:
            event["dose"] = {
                "given_at": at,
                "given_on": at[:10],
                "product": "CORONAVAC",
                "manufacturer": "Sinovac",
                "dose_number": 1,
                "lot": "LOT-1",
                "person_key": f"{self.site_id}-{seq:08d}".encode().hex()[:64],
            }
        return event


async def produce(site: SimulatedSite, rate: float, until: float) -> None:
    """Commit `rate` events a second, evenly, until `until`."""
    start = time.monotonic()
    n = 0
    while time.monotonic() < until:
        due = int((time.monotonic() - start) * rate) - n
        for _ in range(max(0, due)):
            site.commit()
        n += max(0, due)
        await asyncio.sleep(0.01)


async def ship(
    site: SimulatedSite,
    http: aiohttp.ClientSession,
    url: str,
    interval: float,
    done: asyncio.Event,
    accepted: list[float],
) -> None:
    """Batch everything after the cursor; resend after a failure; lag per event on answer."""
    headers = {"Authorization": f"Bearer {site.token}"}
    while not (done.is_set() and site.cursor >= len(site.committed)):
        last = len(site.committed)
        if last <= site.cursor:
            site.wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(site.wake.wait(), interval)
            continue
        batch = [site.event(s) for s in range(site.cursor + 1, last + 1)]
        try:
            async with http.post(
                f"{url}/api/region/v1/ingest",
                json={"events": batch},
                headers=headers,
                timeout=aiohttp.ClientTimeout(total=15),
            ) as response:
                if response.status != 200:
                    await asyncio.sleep(0.25)
                    continue
                answer = await response.json()
        except (aiohttp.ClientError, TimeoutError):
            await asyncio.sleep(0.25)
            continue
        now = time.monotonic()
        accepted.append(now)
        cursor = int(answer["cursor"])
        site.lags.extend(
            (site.committed[s - 1], now - site.committed[s - 1])
            for s in range(site.cursor + 1, cursor + 1)
        )
        site.cursor = max(site.cursor, cursor)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def wait_up(url: str) -> None:
    async with aiohttp.ClientSession() as http:
        for _ in range(150):
            try:
                async with http.get(f"{url}/api/region/v1/dashboard") as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.2)
    raise RuntimeError("the region server did not start")


def make_sites(count: int) -> list[SimulatedSite]:
    return [
        SimulatedSite(f"bench-{i:03d}", f"bench-{i:03d}-token-0123456789") for i in range(count)
    ]


def start_region(
    cluster: DevCluster, folder: Path, sites: list[SimulatedSite]
) -> tuple[subprocess.Popen[bytes], str]:
    """`vaxflow region serve` on a free port with every simulated site's token."""
    port = free_port()
    config = folder / "region.toml"
    lines = [f'database = "{cluster.url}"', f"port = {port}", "retry_deadline_seconds = 30"]
    for site in sites:
        lines += ["[[sites]]", f'id = "{site.site_id}"', f'token = "{site.token}"']
    config.write_text("\n".join(lines) + "\n")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    server = subprocess.Popen(
        [sys.executable, "-m", "vaxflow", "region", "serve", "--config", str(config)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=(folder / "region.log").open("wb"),
    )
    return server, f"http://127.0.0.1:{port}"


async def run(
    args: argparse.Namespace, cluster: DevCluster, sites: list[SimulatedSite], url: str
) -> dict[str, Any]:
    await wait_up(url)
    done = asyncio.Event()
    accepted: list[float] = []
    t0 = time.monotonic()
    until = t0 + args.seconds
    connector = aiohttp.TCPConnector(limit=args.sites * 2)
    async with aiohttp.ClientSession(connector=connector) as http:
        producers = [asyncio.create_task(produce(s, args.rate, until)) for s in sites]
        shippers = [
            asyncio.create_task(ship(s, http, url, args.interval, done, accepted)) for s in sites
        ]
        killed = float("inf")
        if args.kill_at >= 0:
            await asyncio.sleep(args.kill_at)
            leader = cluster.leader()
            assert leader is not None
            killed = time.monotonic()
            await asyncio.to_thread(cluster.kill_node, leader)
        await asyncio.gather(*producers)
        done.set()
        await asyncio.wait_for(asyncio.gather(*shippers), 120)
    elapsed = time.monotonic() - t0
    # the gap: the longest time without an accepted ingest from the kill on (an answer for a
    # transaction committed just before the kill may still arrive just after it)
    times = sorted(a for a in accepted if a >= killed)
    after = [killed, *times]
    pairs = list(itertools.pairwise(after))
    gap_start, gap_end = max(pairs, key=lambda p: p[1] - p[0]) if pairs else (killed, killed)
    gap = gap_end - gap_start if pairs else float("nan")
    store = RegionStore(cluster.url)
    problems = []
    total = 0
    for site in sites:
        seqs = store.event_seqs(site.site_id)
        total += len(seqs)
        if seqs != list(range(1, len(site.committed) + 1)):
            problems.append(f"{site.site_id}: {len(seqs)} held, {len(site.committed)} committed")
        if store.event_count(site.site_id) != len(seqs):
            problems.append(f"{site.site_id}: doubles")
    store.close()
    lags = [lag for s in sites for _at, lag in s.lags]
    # events committed well away from the failover: before the kill, or once it was over
    recovered = gap_end + 5 if times else float("inf")
    steady = [lag for s in sites for at, lag in s.lags if at < killed or at > recovered]
    return {
        "sites": args.sites,
        "rate_per_site": args.rate,
        "events": total,
        "ingest_per_second": round(total / elapsed, 1),
        "lag_p50_s": round(percentile(steady, 50) or 0, 3),
        "lag_p99_s": round(percentile(steady, 99) or 0, 3),
        "lag_p99_all_s": round(percentile(lags, 99) or 0, 3),
        "lag_max_all_s": round(max(lags), 3),
        "failover_gap_s": round(gap, 2),
        "cluster_start_s": round(cluster.started_in, 1),
        "loss_or_doubles": problems,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sites", type=int, default=20)
    parser.add_argument("--rate", type=float, default=100.0, help="events per second per site")
    parser.add_argument("--seconds", type=float, default=40.0, help="how long sites commit")
    parser.add_argument("--kill-at", type=float, default=15.0, help="seconds in; <0: no kill")
    parser.add_argument("--interval", type=float, default=0.25, help="idle pause, seconds")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="vaxflow-region-bench-"))
    cluster = DevCluster(folder)
    cluster.start()
    sites = make_sites(args.sites)
    server, url = start_region(cluster, folder, sites)
    try:
        figures = asyncio.run(run(args, cluster, sites, url))
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(30)
        cluster.stop()
        shutil.rmtree(folder, ignore_errors=True)  # about 500 MB of WAL and data
    if args.json:
        print(json.dumps(figures))
    else:
        for key, value in figures.items():
            print(f"{key:>20}: {value}")
    return 1 if figures["loss_or_doubles"] else 0


if __name__ == "__main__":
    raise SystemExit(main())
