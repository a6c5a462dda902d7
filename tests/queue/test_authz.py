"""Every route against every role: allowed roles get through, the others are refused."""

from __future__ import annotations

import aiohttp
import pytest

from vaxflow.clock import FrozenClock
from vaxflow.config import ROLES, Settings
from vaxflow.queue.core.staff_auth import PERSON_ROLES
from vaxflow.queue.server.app import create_app
from vaxflow.queue.server.route import Route
from vaxflow.queue.server.routes import ROUTES

from .conftest import AiohttpClient, Site, auth

PATH_VALUES = {"{visit_id}": "1", "{station_id}": "S01", "{ticket}": "A001"}
CALLERS = [*ROLES, None]


def _path(route: Route) -> str:
    path = route.path
    for name, value in PATH_VALUES.items():
        path = path.replace(name, value)
    return path


async def _status(site: Site, route: Route, role: str | None) -> int:
    headers = auth(role) if role else {}
    if route.websocket:
        try:
            ws = await site.client.ws_connect(_path(route), headers=headers)
        except aiohttp.WSServerHandshakeError as err:
            return err.status
        await ws.close()
        return 101
    response = await site.client.request(
        route.method, _path(route), json={} if route.method == "POST" else None, headers=headers
    )
    await response.read()
    return response.status


@pytest.mark.parametrize("route", ROUTES, ids=lambda r: f"{r.method} {r.path}")
async def test_route_refuses_the_roles_it_is_not_for(site: Site, route: Route) -> None:
    outcome = {caller: await _status(site, route, caller) for caller in CALLERS}
    for caller, status in outcome.items():
        if route.roles is None:
            assert status not in (401, 403), (caller, status)
        elif caller is None:
            assert status == 401, outcome
        elif caller in route.roles and route.staff_only:
            assert status == 401, outcome  # a device token without a signed-in person
        elif caller in route.roles:
            assert status not in (401, 403), (caller, outcome)
        else:
            assert status == 403, (caller, outcome)


def test_clinical_actions_belong_to_clinical_roles() -> None:
    by_path = {(r.method, r.path): r.roles for r in ROUTES}
    assert by_path[("POST", "/api/stations/{station_id}/record-dose")] == {"station"}
    assert by_path[("POST", "/api/observation/{visit_id}/release")] == {"observer"}
    assert by_path[("POST", "/api/observation/{visit_id}/withdraw")] == {"observer"}
    assert by_path[("POST", "/api/checkins")] == {"kiosk", "admin"}
    assert "board" not in (by_path[("GET", "/api/tickets/{ticket}")] or set())
    assert by_path[("GET", "/metrics")] == {"marshal", "admin", "metrics"}  # a scraper's token
    # striking out a dose given in error is for the marshal and admin only (issue 15)
    assert by_path[("POST", "/api/visits/{visit_id}/strike-dose")] == {"marshal", "admin"}
    public = {path for (_, path), roles in by_path.items() if roles is None}
    # and the certificate verifier (issue 15): anyone may check a certificate, nothing changes
    assert public == {"/api/health", "/api/time", "/api/openapi.json", "/api/certificates/verify"}


def test_staff_sign_in_routes_are_for_devices_people_use() -> None:
    by_path = {(r.method, r.path): r for r in ROUTES}
    sign_in = by_path[("POST", "/api/staff/sign-in")]
    assert sign_in.roles == {"station", "observer", "marshal", "admin"} and sign_in.staff_exempt
    assert by_path[("POST", "/api/devices/health")].staff_exempt  # a tablet's own report


@pytest.fixture
async def strict_site(
    aiohttp_client: AiohttpClient, settings: Settings, clock: FrozenClock, db_url: str
) -> Site:
    rules = settings.staff_sign_in.model_copy(update={"required": True})
    strict = settings.model_copy(update={"staff_sign_in": rules})
    return Site(await aiohttp_client(create_app(strict, db=db_url, clock=clock)), clock, strict)


PERSON_POSTS = [
    r
    for r in ROUTES
    if r.method == "POST" and r.roles and r.roles & PERSON_ROLES and not r.staff_exempt
]


@pytest.mark.parametrize("route", PERSON_POSTS, ids=lambda r: f"{r.method} {r.path}")
async def test_with_sign_in_required_people_roles_need_a_staff_session(
    strict_site: Site, route: Route
) -> None:
    for role in sorted(route.roles or ()):
        response = await strict_site.client.post(_path(route), json={}, headers=auth(role))
        body = await response.json()
        if role in PERSON_ROLES or route.staff_only:
            assert response.status == 401, (role, body)
            assert body["error"]["reason"] == "staff_sign_in_required"
        else:  # kiosks and admin scripts are not people at a console
            assert response.status not in (401, 403), (role, body)
