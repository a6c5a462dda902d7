"""The site client and the server cannot drift: every typed `SiteClient` call answers the model
its route declares, and the real server's answers parse as those models."""

from __future__ import annotations

import inspect
from typing import Any, get_type_hints

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from vaxflow.queue.api import models as m
from vaxflow.queue.client.site import CALLS, AnswerBroken, ServerUnreachable, SiteClient
from vaxflow.queue.core.model import VisitState
from vaxflow.queue.server.routes import ROUTES

from .conftest import Site, booking_codes

#: SiteClient's own coroutine methods that are not typed calls: the generic ones the kiosk's
#: flow uses and the session's life.
UNTYPED = {"request", "get", "post", "close", "__aenter__", "__aexit__"}


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
