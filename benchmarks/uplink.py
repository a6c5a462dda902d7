"""The uplink through a 20,000-dose day with the WAN down for 2 hours in the middle.

    .venv/bin/python benchmarks/uplink.py [--doses 20000] [--down-hours 2] [--json]

The site day runs on a simulated clock (a 10-hour day: one dose every 1.8 s of site time) and
is recorded as fast as the store takes it: each dose is a visit, a dose row, its event and
its outbox row in one transaction (`ops/outbox_rows.dose_changed`), through the real
group-commit `Store` on a temporary SQLite file. The real FHIR worker (`uplink/worker.py`,
`uplink/fhir.py`: `PUT Patient` then `PUT Immunization`) sends to a FHIR-shaped receiver in
another process on loopback that keeps resources by id and counts every PUT. For the middle
`--down-hours` of the day the receiver drops every connection (a WAN cut); the worker backs off
on the site clock and the site goes on recording. Printed:

* recorded: doses per second the site stored with their outbox rows (link up / link down);
* delivered: doses per second the worker sent while catching up (two PUTs per dose);
* backlog: rows pending when the link came back (the morning was sent before the cut);
* catch-up: wall seconds from the link's return until nothing was pending, and what that
  means at a real site's pace (doses keep coming at 20,000 a day while the backlog drains);
* once: Immunization resources at the receiver = doses, each identifier once.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from vaxflow.clock import FrozenClock  # noqa: E402
from vaxflow.config import Settings, load_settings  # noqa: E402
from vaxflow.config.schema import FhirUplink, UplinkSettings  # noqa: E402
from vaxflow.queue.core.events import EventKind  # noqa: E402
from vaxflow.queue.core.outbox import Action, Target  # noqa: E402
from vaxflow.queue.ops import outbox_rows  # noqa: E402
from vaxflow.queue.store import outbox, repo  # noqa: E402
from vaxflow.queue.store.db import database_url  # noqa: E402
from vaxflow.queue.store.writer import Store, Tx  # noqa: E402
from vaxflow.queue.uplink.fhir import FhirSender  # noqa: E402
from vaxflow.queue.uplink.worker import Worker  # noqa: E402

DEMO_CONFIG = ROOT / "vaxflow" / "config" / "demo.toml"
DAY_HOURS = 10.0
START = datetime(2026, 11, 21, 0, 30, tzinfo=UTC)  # 08:30 in Shanghai
CONCURRENT_WRITES = 64


# --- the receiver: a FHIR-shaped store in its own process ----------------------------------


def receiver_main(port: int) -> None:
    """PUT {type}/{id} stores by id (200/201); /control/down|up cut and restore the link."""
    resources: dict[str, dict[str, Any]] = {}
    puts: dict[str, int] = {}
    down = [False]

    async def put(request: web.Request) -> web.StreamResponse:
        if down[0]:
            assert request.transport is not None
            request.transport.abort()  # the WAN is cut: the connection just dies
            raise web.HTTPServiceUnavailable()
        key = f"{request.match_info['type']}/{request.match_info['id']}"
        body = await request.json()
        created = key not in resources
        resources[key] = body
        puts[key] = puts.get(key, 0) + 1
        return web.json_response(body, status=201 if created else 200)

    async def control(request: web.Request) -> web.Response:
        down[0] = request.match_info["what"] == "down"
        return web.json_response({"down": down[0]})

    async def tally(request: web.Request) -> web.Response:
        identifiers: dict[str, int] = {}
        for key, body in resources.items():
            if key.startswith("Immunization/"):
                for identifier in body.get("identifier", []):
                    value = identifier["value"]
                    identifiers[value] = identifiers.get(value, 0) + 1
        return web.json_response(
            {
                "immunizations": sum(k.startswith("Immunization/") for k in resources),
                "patients": sum(k.startswith("Patient/") for k in resources),
                "puts": sum(puts.values()),
                "identifiers_more_than_once": sum(n > 1 for n in identifiers.values()),
            }
        )

    app = web.Application(client_max_size=1 << 20)
    app.router.add_put("/fhir/{type}/{id}", put)
    app.router.add_post("/control/{what}", control)
    app.router.add_get("/control/tally", tally)
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# --- the site day --------------------------------------------------------------------------


def record_dose(tx: Tx, settings: Settings, n: int, day: date) -> None:
    """One dose as the station records it: visit, dose, event and outbox row, one transaction."""
    product = settings.products[0]
    values: dict[str, Any] = {
        "site_id": tx.site_id,
        "site_day": day,
        "ticket": f"A{n:05d}"[-10:],
        "lane": "A",
        "number": n,
        "state": "observing",
        "product": product.code,
        "dose_number": 1,
        "dose_kind": "primary",
        "person_name": "王芳",
        "id_number": f"11010119800101{n:04d}"[-18:],
        "id_type": "cn_resident",
        "birth_date": date(1980, 1, 1),
        "sex": "female",
        "booking_code": None,
        "walk_in": True,
        "checked_in_at": tx.now,
        "call_count": 1,
        "adverse_open": False,
        "print_failed": False,
        "device": "bench",
        "screening": None,
        "consent_version": None,
        "review_reasons": None,
        "schedule_notes": None,
    }
    visit_id = repo.insert_visit(tx.conn, values)
    repo.insert_dose(
        tx.conn,
        {
            "site_id": tx.site_id,
            "visit_id": visit_id,
            "product": product.code,
            "manufacturer": product.manufacturer,
            "lot": "LOT-2611",
            "dose_number": 1,
            "vaccinator": "Nurse Li",
            "station_id": "S01",
            "given_at": tx.now,
        },
    )
    outbox_rows.dose_changed(tx, settings, visit_id, Action.ADD)
    tx.emit(EventKind.DOSED, visit_id, {"ticket": values["ticket"]})


def run(doses: int, down_hours: float) -> dict[str, Any]:
    """The day with the receiver in its own process."""
    port = free_port()
    receiver = subprocess.Popen([sys.executable, __file__, "--receiver", str(port)])
    try:
        return asyncio.run(_day(doses, down_hours, port))
    finally:
        receiver.terminate()
        receiver.wait(10)


async def _day(doses: int, down_hours: float, port: int) -> dict[str, Any]:
    base = f"http://127.0.0.1:{port}"
    settings = load_settings(DEMO_CONFIG)
    settings = settings.model_copy(
        update={
            "uplink": UplinkSettings(
                fhir=FhirUplink(url=f"{base}/fhir", timeout_seconds=5.0, history=False),
                retry_base_seconds=2.0,
                retry_max_seconds=300.0,
            )
        }
    )
    clock = FrozenClock(START)
    step = timedelta(hours=DAY_HOURS) / doses
    down_from = int(doses * (0.5 - down_hours / DAY_HOURS / 2))
    down_until = int(doses * (0.5 + down_hours / DAY_HOURS / 2))
    with tempfile.TemporaryDirectory() as folder:
        store = Store(
            database_url(str(Path(folder) / "site.sqlite")), site_id=settings.site.id, clock=clock
        )
        await store.start()
        day = date(2026, 11, 21)
        async with aiohttp.ClientSession() as http:
            for _ in range(100):
                try:
                    async with http.get(f"{base}/control/tally") as answer:
                        if answer.status == 200:
                            break
                except aiohttp.ClientError:
                    await asyncio.sleep(0.1)
            assert settings.uplink.fhir is not None
            worker = Worker(
                store,
                settings,
                Target.FHIR,
                FhirSender(http, settings.uplink.fhir, store, settings),
                clock,
                deadline_seconds=5.0,
            )
            task = asyncio.create_task(worker.run())
            site_id = settings.site.id

            async def pending() -> int:
                counts = await store.read(lambda c: outbox.summary(c, site_id))
                return int(counts.get("fhir", {}).get("pending", 0))

            def dose_op(n: int) -> Callable[[Tx], None]:
                return lambda tx: record_dose(tx, settings, n, day)

            async def record(first: int, last: int) -> float:
                started = time.perf_counter()
                for lo in range(first, last, CONCURRENT_WRITES):
                    batch = range(lo, min(last, lo + CONCURRENT_WRITES))
                    await asyncio.gather(*(store.write(dose_op(n), actor="bench") for n in batch))
                    clock.advance((step * len(batch)).total_seconds())
                return time.perf_counter() - started

            async def drain() -> int:
                """Wait until nothing is pending; the most that was pending meanwhile."""
                most = 0
                while (left := await pending()) > 0:
                    most = max(most, left)
                    clock.advance(10)  # a worker waiting for its retry sees it due
                    worker.kick()
                    await asyncio.sleep(0.05)
                return most

            # the morning, link up: at a site's pace the worker keeps up (drained here, as
            # the day is recorded far faster than people come)
            up_seconds = await record(1, down_from)
            await drain()
            await http.post(f"{base}/control/down")
            down_seconds = await record(down_from, down_until)
            backlog = await pending()
            await http.post(f"{base}/control/up")
            restored = time.perf_counter()
            sent_before = worker.sent
            worker.kick()
            await drain()
            caught_up = time.perf_counter() - restored
            delivered = worker.sent - sent_before
            after_seconds = await record(down_until, doses + 1)  # the afternoon
            await drain()
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            async with http.get(f"{base}/control/tally") as answer:
                tally = await answer.json()
        await store.stop()
    recorded_up = (down_from - 1 + doses + 1 - down_until) / (up_seconds + after_seconds)
    rate = delivered / caught_up
    site_pace = doses / (DAY_HOURS * 3600)
    return {
        "doses": doses,
        "down_hours": down_hours,
        "recorded_per_second_link_up": round(recorded_up, 1),
        "recorded_per_second_link_down": round((down_until - down_from) / down_seconds, 1),
        "backlog_at_link_return": backlog,
        "catch_up_seconds": round(caught_up, 1),
        "delivered_per_second": round(rate, 1),
        "catch_up_seconds_at_site_pace": round(backlog / max(rate - site_pace, 1e-9), 1),
        "immunizations_at_receiver": tally["immunizations"],
        "identifiers_more_than_once": tally["identifiers_more_than_once"],
        "puts": tally["puts"],
        "each_once": tally["immunizations"] == doses and tally["identifiers_more_than_once"] == 0,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--doses", type=int, default=20_000)
    parser.add_argument("--down-hours", type=float, default=2.0)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--receiver", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.receiver:
        receiver_main(args.receiver)
        return
    figures = run(args.doses, args.down_hours)
    if args.json:
        print(json.dumps(figures, indent=2))
        return
    for key, value in figures.items():
        print(f"{key:36} {value}")


if __name__ == "__main__":
    main()
