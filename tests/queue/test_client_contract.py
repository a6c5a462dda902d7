"""The site client and the server cannot drift: every typed `SiteClient` call answers the model
its route declares, and the real server's answers parse as those models."""

from __future__ import annotations

import asyncio
import inspect
import json
from pathlib import Path
from typing import Any, get_type_hints

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from tests.hardware.printer_emulator import PrinterEmulator
from vaxflow.clock import FrozenClock
from vaxflow.config import Settings
from vaxflow.hardware.certificate_print import print_outcome
from vaxflow.queue.api import models as m
from vaxflow.queue.client.site import CALLS, AnswerBroken, ServerUnreachable, SiteClient
from vaxflow.queue.core import certificate_qr
from vaxflow.queue.core.model import VisitState
from vaxflow.queue.server.app import create_app
from vaxflow.queue.server.board_handlers import PRINT_TASKS
from vaxflow.queue.server.routes import ROUTES

from .conftest import AiohttpClient, Site, booking_codes
from .people import walk_in_body

#: SiteClient's own coroutine methods that are not typed calls: the generic ones the kiosk's
#: flow uses and the session's life.
UNTYPED = {"request", "get", "post", "close", "__aenter__", "__aexit__"}


#: Routes that answer JSON with a model that no typed call parses yet (the desk is a web page
#: whose staff must sign in), and the tests that exercise their answers as raw JSON meanwhile.
#: A new typed call removes its line.
NOT_CALLED = {
    ("POST", "/api/desk/checkins/precheck"): "test_guardian_api.py",
    ("POST", "/api/desk/checkins"): "test_guardian_api.py",
    ("POST", "/api/visits/{visit_id}/birth-date"): "test_identity_api.py",
}


def _route(method: str, path: str) -> Any:
    found = [r for r in ROUTES if r.method == method and r.path == path]
    assert len(found) == 1, f"{method} {path} is not one route of server/routes.py"
    return found[0]


@pytest.mark.parametrize("name", sorted(CALLS))
def test_each_call_answers_the_model_its_route_declares(name: str) -> None:
    call = CALLS[name]
    route = _route(call.method, call.path)
    assert route.response is call.answer, f"{name}: {route.response} on the server"
    assert route.response_is_list == call.many
    answer = get_type_hints(getattr(SiteClient, name))["return"]
    assert answer == (list[call.answer] if call.many else call.answer)  # type: ignore[name-defined]


def test_every_json_route_declares_the_model_of_its_answer() -> None:
    """Only the WebSocket, the API description itself and non-JSON answers have no model."""
    unmodelled = [
        f"{r.method} {r.path}"
        for r in ROUTES
        if r.response is None
        and not r.websocket
        and r.produces is None
        and r.handler.__module__ != "vaxflow.queue.server.openapi"
    ]
    assert unmodelled == []


def test_every_route_with_a_model_is_a_typed_call() -> None:
    called = {(c.method, c.path) for c in CALLS.values()}
    modelled = {(r.method, r.path) for r in ROUTES if r.response is not None}
    assert modelled - called == set(NOT_CALLED)
    assert not called & set(NOT_CALLED)


def test_every_typed_method_is_in_the_table() -> None:
    methods = {
        name
        for name, value in inspect.getmembers(SiteClient, inspect.iscoroutinefunction)
        if not name.startswith("_") or name in UNTYPED
    }
    assert methods - UNTYPED == set(CALLS)


async def test_an_answer_that_breaks_the_contract_is_a_clear_error() -> None:
    async def stats(_request: web.Request) -> web.Response:
        return web.json_response({"site_id": "S", "waiting": "many"})

    app = web.Application()
    app.router.add_get("/api/stats", stats)
    async with TestServer(app) as server, SiteClient(str(server.make_url("")), "t") as client:
        with pytest.raises(AnswerBroken, match="GET /api/stats: the answer is not a StatsResponse"):
            await client.stats()
        with pytest.raises(ServerUnreachable):  # callers that handle an outage handle this too
            await client.stats()


async def test_a_day_through_the_typed_client(site: Site) -> None:
    """Every typed call against the real server: each answer parses as its route's model."""
    codes = booking_codes(site.settings, site.clock, product="CORONAVAC", elderly=False)
    base = str(site.client.make_url("")).rstrip("/")
    async with (
        SiteClient(base, "demo-kiosk-token") as kiosk,
        SiteClient(base, "demo-station-token") as station,
        SiteClient(base, "demo-observer-token") as observer,
        SiteClient(base, "demo-marshal-token") as marshal,
    ):
        ticket = await kiosk.check_in(site.check_in_body(codes[0]))
        assert isinstance(ticket, m.TicketResponse) and ticket.state is VisitState.CHECKED_IN
        assert (await kiosk.print_status(ticket.visit_id, True)).visit_id == ticket.visit_id
        assert (await kiosk.ticket(ticket.ticket)).ticket == ticket.ticket
        assert (await kiosk.time()).timezone == site.settings.site.timezone
        assert (await marshal.stats()).tickets_issued == 1
        assert (await kiosk.report_device("k1-printer", "printer", "sim://", "ok")).ok
        assert [q.id for q in await station.questions()] == [q.id for q in site.settings.questions]
        assert "S01" in {s.station_id for s in await station.stations()}
        opened = await station.open_station("S01", "CORONAVAC", "LOT-1", "Nurse Li")
        assert opened.state == "open" and opened.lot == "LOT-1"
        assert (await station.pause_station("S01")).state == "paused"
        assert (await station.resume_station("S01")).state == "open"
        called = (await station.call_next("S01")).called
        assert called is not None and called.ticket == ticket.ticket
        assert (await station.recall("S01")).call_count == 2
        verified = await station.verify("S01", ticket.ticket)
        assert verified.match and verified.visit.doctor_decisions.needed == []
        assert (
            verified.found is None and verified.visit.id_number == site.card(codes[0])["id_number"]
        )
        dosed = await station.record_dose("S01", ticket.visit_id)
        assert dosed.state is VisitState.OBSERVING and dosed.ends_at
        second = await kiosk.check_in(site.check_in_body(codes[1]))
        assert (await station.call_next("S01")).called is not None
        assert (await station.skip("S01")).visit_id == second.visit_id
        assert (await station.recall("S01", second.visit_id)).visit_id == second.visit_id
        assert (await station.start_service("S01", second.qr)).state is VisitState.IN_SERVICE
        assert (await station.refer("S01", second.visit_id, "fever")).visit_id == second.visit_id
        lots = await station.lots("CORONAVAC")
        assert [(lot.lot, lot.doses_today) for lot in lots.lots] == [("LOT-1", 1)]
        board = await observer.observation()
        assert [p.ticket for p in board.people] == [ticket.ticket]
        assert (await observer.flag(ticket.visit_id, "dizziness", "mild")).adverse_open
        assert not (await observer.resolve(ticket.visit_id, "resolved")).adverse_open
        scan = await observer.exit_scan(ticket.ticket)
        assert scan.visit.ticket == ticket.ticket
        me = await station.staff_me()
        assert not me.signed_in and me.staff is None
        assert not (await station.staff_sign_out()).signed_out
        assert (await station.close_station("S01")).state == "closed"


async def test_observation_and_corrections_through_the_typed_client(site: Site) -> None:
    """Precheck, cancel, withdraw, left-early, strike-dose, release and health: each answer
    parses as its route's model."""
    codes = booking_codes(site.settings, site.clock, product="CORONAVAC", elderly=False)
    base = str(site.client.make_url("")).rstrip("/")
    async with (
        SiteClient(base, "demo-kiosk-token") as kiosk,
        SiteClient(base, "demo-station-token") as station,
        SiteClient(base, "demo-observer-token", device="obs-1") as observer,
        SiteClient(base, "demo-marshal-token") as marshal,
    ):
        assert (await kiosk.health()).status == "ok"
        checked = await kiosk.precheck({"booking_code": codes[0], "id_card": site.card(codes[0])})
        assert checked.eligible and checked.product == "CORONAVAC"
        gone = await kiosk.check_in(site.check_in_body(codes[0]))
        assert (await kiosk.cancel(gone.visit_id, "left")).state is VisitState.CANCELLED
        await station.open_station("S01", "CORONAVAC", "LOT-1", "Nurse Li")
        dosed = []
        for code in codes[1:4]:
            ticket = await kiosk.check_in(site.check_in_body(code))
            await station.call_next("S01")
            await station.start_service("S01", ticket.ticket)
            dosed.append(await station.record_dose("S01", ticket.visit_id))
        first, second, third = (visit.visit_id for visit in dosed)
        assert (await observer.flag(first, "rash", "mild")).adverse_open
        assert not (await observer.withdraw(first)).adverse_open
        assert (await observer.left_early(second)).state is VisitState.LEFT_EARLY
        struck = await marshal.strike_dose(third, "given in error")
        assert (struck.visit_id, struck.reason) == (third, "given in error")
        site.clock.advance(minutes=31)
        assert (await observer.release(first)).state is VisitState.RELEASED


async def test_boards_exit_and_marshal_through_the_typed_client(
    aiohttp_client: AiohttpClient, settings: Settings, clock: FrozenClock, tmp_path: Path
) -> None:
    """The boards', the exit point's and the marshal's answers parse as their routes' models,
    with a reprint listed (the exit printer offline) and then printed."""
    async with PrinterEmulator() as printer:
        private, public = certificate_qr.new_key()
        key_file = tmp_path / "key.json"
        key = {"key_id": "k1", "site": settings.site.id, "private_key": private}
        key_file.write_text(json.dumps({**key, "public_key": public}))
        uplink = settings.uplink.model_copy(update={"certificate_key_file": str(key_file)})
        observation = settings.observation.model_copy(update={"exit_printer": printer.url()})
        printing = settings.model_copy(update={"observation": observation, "uplink": uplink})
        db = str(tmp_path / "typed.sqlite")
        app = create_app(printing, db=db, clock=clock, certificate_printer=print_outcome)
        server = await aiohttp_client(app)
        base = str(server.make_url("")).rstrip("/")
        async with (
            SiteClient(base, "demo-kiosk-token") as kiosk,
            SiteClient(base, "demo-station-token") as station,
            SiteClient(base, "demo-observer-token") as observer,
            SiteClient(base, "demo-marshal-token") as marshal,
            SiteClient(base, "demo-board-token") as board,
        ):
            await kiosk.report_device("k1-printer", "printer", "sim://", "fault", "paper_out")
            (device,) = await marshal.devices()
            assert (device.device_id, device.state, device.reason) == (
                "k1-printer",
                "fault",
                "paper_out",
            )
            assert (await marshal.set_walk_in_capacity(40)).capacity == 40
            await station.open_station("S01", "CORONAVAC", "LOT-1", "Nurse Li")
            ticket = await kiosk.check_in(walk_in_body(printing, 1))
            await station.call_next("S01")
            calls = await board.call_board()
            assert [c.ticket for c in calls.calls] == [ticket.ticket] and calls.stations
            await station.start_service("S01", ticket.ticket)
            await station.record_dose("S01", ticket.visit_id)
            watched = await board.observation_board()
            assert [p.ticket for p in watched.people] == [ticket.ticket]
            assert watched.people[0].remaining_seconds > 0 and not watched.people[0].may_leave
            waiting = await observer.exit_certificate_scan(ticket.ticket)
            assert not waiting.may_leave and waiting.certificate is None
            clock.advance(minutes=30)
            printer.offline = True
            scan = await observer.exit_certificate_scan(ticket.ticket)
            assert scan.may_leave and scan.print == "queued" and scan.certificate is not None
            await asyncio.gather(*app[PRINT_TASKS])
            (listed,) = (await observer.reprints()).certificates
            assert (listed.ticket, listed.reason) == (ticket.ticket, "offline")
            dash = await marshal.dashboard()
            assert [r.ticket for r in dash.alerts.reprints] == [ticket.ticket]
            assert dash.walk_in.capacity == 40 and dash.stats.released == 1
            assert [d.device_id for d in dash.alerts.devices] == ["k1-printer"]
            assert dash.uplink is not None and dash.region is None
            assert not dash.site_day.closed and dash.site_day.turns_at == "04:00"
            printer.offline = False
            done = await marshal.reprint_certificate(ticket.visit_id)
            assert done.printed and not done.already_printed
            assert scan.certificate.qr is not None
            valid = await board.verify_certificate(scan.certificate.qr)
            assert valid.valid and valid.certificate is not None and valid.error is None
            assert valid.certificate.lot == "LOT-1"
            broken = await board.verify_certificate("not a certificate")
            assert not broken.valid and broken.error is not None and broken.error.reason
            assert (await marshal.clear_throttles(staff_id="N001")).cleared == 0
            await station.close_station("S01")
            closed = await marshal.close_day()
            assert closed.unfinished == 0 and closed.closed < closed.next_turn
            opened = await marshal.open_next_day()
            assert opened.closed == closed.closed < opened.open
