"""Every route against every role: allowed roles get through, the others are refused."""

from __future__ import annotations

import aiohttp
import pytest

from vaxflow.config import ROLES
from vaxflow.queue.routes import ROUTES, Route

from .conftest import Site, auth

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
        elif caller in route.roles:
            assert status not in (401, 403), (caller, outcome)
        else:
            assert status == 403, (caller, outcome)


def test_clinical_actions_belong_to_clinical_roles() -> None:
    by_path = {(r.method, r.path): r.roles for r in ROUTES}
    assert by_path[("POST", "/api/stations/{station_id}/record-dose")] == {"station"}
    assert by_path[("POST", "/api/observation/{visit_id}/release")] == {"observer"}
    assert by_path[("POST", "/api/checkins")] == {"kiosk", "admin"}
    assert "board" not in (by_path[("GET", "/api/tickets/{ticket}")] or set())
    public = {path for (_, path), roles in by_path.items() if roles is None}
    assert public == {"/api/health", "/api/time", "/api/openapi.json"}
