"""Personal data by need: every route and every device, on a site with one token per device.

A person called to station S01 is looked up through every route by every device: only S01
(and its verifying step) ever receives the full ID number or the screening answers; S02, the
kiosk, the observer, the board, the marshal and the admin get masks. The public board's feed
says "flagged" without the reaction and never carries staff events.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vaxflow.cli import main
from vaxflow.clock import FrozenClock
from vaxflow.config import Settings
from vaxflow.queue.core.audience import PUBLIC_KEYS, Audience, for_audience
from vaxflow.queue.core.events import EventKind
from vaxflow.queue.core.privacy import serves
from vaxflow.queue.server.app import create_app
from vaxflow.queue.server.routes import ROUTES

from .conftest import AiohttpClient, Site, booking_codes
from .devices import CALLERS, device_site, headers, real_site

__all__ = ["device_site"]  # the fixture, used by name


async def _as(site: Site, caller: str | None, method: str, path: str, body: Any = None) -> Any:
    response = await site.client.request(method, path, json=body, headers=headers(caller))
    text = await response.text()
    return response.status, text


async def _called_at_s01(site: Site) -> tuple[dict[str, Any], str]:
    """A person checked in (answering yes to an allergy: the review lane) and called to S01."""
    code = booking_codes(site.settings, site.clock, product="CORONAVAC", elderly=False)[0]
    body = site.check_in_body(code, answers=site.answers(severe_allergy=True))
    status, text = await _as(site, "kiosk-1", "POST", "/api/checkins", body)
    assert status == 200, text
    ticket = json.loads(text)
    opened = {"product": "CORONAVAC", "lot": "LOT-2611", "vaccinator": "Nurse Li"}
    for path, payload in (("open", opened), ("call-next", {})):
        status, text = await _as(site, "station-s01", "POST", f"/api/stations/S01/{path}", payload)
        assert status == 200, text
    return ticket, site.person(code).id_number


def _path(path: str, ticket: dict[str, Any]) -> str:
    return (
        path.replace("{visit_id}", str(ticket["visit_id"]))
        .replace("{station_id}", "S01")
        .replace("{ticket}", ticket["ticket"])
    )


#: (method, path, caller) that may see the called person's full number and answers.
ALLOWED = {
    ("GET", "/api/tickets/{ticket}", "station-s01"),
    ("POST", "/api/stations/{station_id}/verify", "station-s01"),
}


async def test_every_route_shows_the_full_number_only_to_the_serving_station(
    device_site: Site,
) -> None:
    site = device_site
    ticket, full = await _called_at_s01(site)
    seen: dict[tuple[str, str, str | None], bool] = {}
    for route in ROUTES:
        if route.websocket:
            continue
        body = {"code": ticket["qr"]} if route.method == "POST" else None
        for caller in CALLERS:
            if route.method == "POST" and not route.path.endswith("/verify"):
                continue  # writes change the day; their answers are checked below
            status, text = await _as(site, caller, route.method, _path(route.path, ticket), body)
            answers = '"screening"' in text or 'severe_allergy": true' in text
            # The API description names the `screening` field; it holds nobody's answers.
            leaked = full in text or (answers and route.path != "/api/openapi.json")
            seen[(route.method, route.path, caller)] = leaked
            if leaked:
                assert (route.method, route.path, caller) in ALLOWED, (route.path, caller, status)
    assert all(seen[key] for key in ALLOWED), "the serving station must see the person"


async def test_another_station_may_not_act_for_s01_and_sees_masks(device_site: Site) -> None:
    site = device_site
    ticket, full = await _called_at_s01(site)
    status, text = await _as(
        site, "station-s02", "POST", "/api/stations/S01/verify", {"code": ticket["qr"]}
    )
    assert status == 403 and json.loads(text)["error"]["reason"] == "not_your_station"
    assert "接种台" in json.loads(text)["error"]["messages"]["zh-CN"]
    status, text = await _as(site, "station-s02", "GET", f"/api/tickets/{ticket['ticket']}")
    assert status == 200 and full not in text and "screening" not in text
    # The serving station's own writes answer it in full; the marshal's are masked.
    status, text = await _as(
        site, "station-s01", "POST", "/api/stations/S01/start-service", {"code": ticket["qr"]}
    )
    assert status == 200 and full in text
    status, text = await _as(
        site,
        "marshal",
        "POST",
        f"/api/visits/{ticket['visit_id']}/birth-date",
        {"birth_date": "1990-03-07"},
    )
    assert full not in text


async def test_the_public_board_feed_says_flagged_and_nothing_more(device_site: Site) -> None:
    site = device_site
    ticket, _full = await _called_at_s01(site)
    for path, payload in (
        ("/api/stations/S01/start-service", {"code": ticket["qr"]}),
        ("/api/stations/S01/record-dose", {"visit_id": ticket["visit_id"]}),
    ):
        status, text = await _as(site, "station-s01", "POST", path, payload)
        assert status == 200, text
    flag = {"kind": "anaphylaxis", "severity": "severe"}
    path = f"/api/observation/{ticket['visit_id']}/flag"
    status, text = await _as(site, "observer-1", "POST", path, flag)
    assert status == 200, text
    await site.client.post(
        "/api/staff/sign-in",
        json={"staff_id": "N9999", "pin": "0000"},
        headers=headers("observer-1"),
    )
    board = await _feed(site, "board-1")
    marshal = await _feed(site, "marshal")
    flagged = [e for e in board if e["kind"] == "adverse_flagged"]
    assert flagged and flagged[0]["payload"]["adverse_open"] is True
    assert "anaphylaxis" not in json.dumps(board) and "severe" not in json.dumps(board)
    assert not any(e["kind"].startswith("staff_") for e in board)
    assert all(set(e["payload"]) <= PUBLIC_KEYS for e in board)
    assert "anaphylaxis" in json.dumps(marshal)
    assert any(e["kind"] == "staff_sign_in_failed" for e in marshal)


async def _feed(site: Site, caller: str) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    async with site.client.ws_connect("/ws/events?since=0", headers=headers(caller)) as ws:
        while True:
            message = await asyncio.wait_for(ws.receive_json(), 5)
            if message["kind"] == "live":
                return events
            events.append(message)


async def test_a_device_token_is_its_own_kiosk_for_the_rate_limit(
    aiohttp_client: AiohttpClient, settings: Settings, clock: FrozenClock, tmp_path: Path
) -> None:
    """Rotating X-Device-Id buys a kiosk nothing: it is limited as the token's device."""
    real = real_site(settings)
    server = real.server.model_copy(update={"kiosk_requests_per_second": 0.01, "kiosk_burst": 3})
    strict = real.model_copy(update={"server": server})
    client = await aiohttp_client(create_app(strict, db=str(tmp_path / "k.sqlite"), clock=clock))
    statuses = []
    for n in range(5):
        response = await client.get(
            "/api/tickets/A001", headers={**headers("kiosk-1"), "X-Device-Id": f"fake-{n}"}
        )
        statuses.append(response.status)
    assert statuses == [404, 404, 404, 429, 429]


def test_config_check_refuses_shared_device_tokens_on_a_real_site(
    settings: Settings, tmp_path: Path
) -> None:
    from tests.conftest import DEMO_CONFIG

    text = DEMO_CONFIG.read_text(encoding="utf-8").replace('id = "demo-stadium"', 'id = "city"')
    shared = tmp_path / "shared.toml"
    shared.write_text(text, encoding="utf-8")
    assert main(["config", "check", str(shared)]) == 1
    assert main(["config", "check", str(DEMO_CONFIG)]) == 0  # the demo may share tokens
    example = Path(__file__).parents[2] / "config" / "site.example.toml"
    assert main(["config", "check", str(example)]) == 0


def test_server_refuses_shared_device_tokens_on_a_real_site(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from tests.conftest import DEMO_CONFIG

    text = DEMO_CONFIG.read_text(encoding="utf-8").replace('id = "demo-stadium"', 'id = "city"')
    shared = tmp_path / "shared.toml"
    shared.write_text(text, encoding="utf-8")
    for more in ([], ["--insecure"]):  # --insecure is about the wire, not about who asks
        assert main(["server", "--config", str(shared), "--port", "0", *more]) == 1
        said = capsys.readouterr().err
        assert "shared device tokens for board, kiosk, observer, station" in said, said
        assert "[device_tokens.<name>]" in said and "shared.toml" in said


def test_a_station_token_must_name_a_known_station(settings: Settings) -> None:
    data = settings.model_dump(mode="json", exclude_none=True)
    data["device_tokens"] = {"s": {"token": "x" * 20, "kind": "station", "station": "S99"}}
    with pytest.raises(ValueError, match="S99"):
        Settings.model_validate(data)
    data["device_tokens"] = {"s": {"token": "x" * 20, "kind": "station"}}
    with pytest.raises(ValueError, match="names its station"):
        Settings.model_validate(data)


@pytest.mark.parametrize(
    ("role", "own", "shared", "at", "state", "full"),
    [
        ("station", "S01", False, "S01", "called", True),
        ("station", "S01", False, "S01", "in_service", True),
        ("station", "S01", False, "S01", "observing", False),
        ("station", "S01", False, "S02", "called", False),
        ("station", None, True, "S02", "called", True),  # a demo's shared station token
        ("station", None, True, None, "checked_in", False),
        ("marshal", None, True, "S01", "in_service", False),
        ("board", None, False, "S01", "called", False),
    ],
)
def test_who_serves_whom(
    role: str, own: str | None, shared: bool, at: str | None, state: str, full: bool
) -> None:
    answer = serves(role=role, own_station=own, shared=shared, visit_station=at, visit_state=state)
    assert answer is full


@given(
    kind=st.sampled_from([k.value for k in EventKind]),
    payload=st.dictionaries(st.text(max_size=12), st.text(max_size=12), max_size=8),
)
def test_the_public_audience_never_gets_more_than_its_keys(
    kind: str, payload: dict[str, str]
) -> None:
    event = {
        "seq": 1,
        "at": "t",
        "actor": "staff:N1",
        "device": "d",
        "kind": kind,
        "visit_id": 1,
        "payload": payload,
    }
    shown = for_audience(event, Audience.PUBLIC)
    if shown is not None:
        assert set(shown["payload"]) <= PUBLIC_KEYS and "actor" not in shown
        assert not kind.startswith("staff_")
    staff = for_audience(event, Audience.STAFF)
    assert (staff is None) == kind.startswith("staff_")
    assert for_audience(event, Audience.MARSHAL) == event
