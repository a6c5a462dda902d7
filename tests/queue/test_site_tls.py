"""TLS by default (issue 17): `vaxflow tls init` makes a site CA and the server certificate;
clients pin the CA; a wrong CA is refused with a clear message; a real site will not serve
plain HTTP unless told to."""

from __future__ import annotations

import asyncio
import re
import stat
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from tests.conftest import DEMO_CONFIG
from vaxflow.cli import main
from vaxflow.cli.server_cmd import plain_http_allowed
from vaxflow.clock import FrozenClock
from vaxflow.config import Settings
from vaxflow.queue.client.site import ServerUnreachable, SiteClient
from vaxflow.queue.server.app import create_app
from vaxflow.site_tls import pinned_context, server_context


@pytest.fixture(scope="module")
def site_ca(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("tls")
    names = ["--name", "127.0.0.1", "--name", "localhost"]
    assert main(["tls", "init", str(folder), "--site", "city", *names]) == 0
    return folder


@pytest.fixture
async def https_url(
    site_ca: Path, settings: Settings, clock: FrozenClock, tmp_path: Path
) -> AsyncIterator[str]:
    app = create_app(settings, db=str(tmp_path / "t.sqlite"), clock=clock)
    runner = web.AppRunner(app)
    await runner.setup()
    context = server_context(str(site_ca / "server.crt"), str(site_ca / "server.key"))
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=context)
    await site.start()
    yield f"https://127.0.0.1:{runner.addresses[0][1]}"
    await runner.cleanup()


def test_init_writes_a_ca_and_a_server_certificate_with_private_keys(site_ca: Path) -> None:
    for name in ("ca.crt", "ca.key", "server.crt", "server.key"):
        assert (site_ca / name).is_file(), name
    for key in ("ca.key", "server.key"):
        assert stat.S_IMODE((site_ca / key).stat().st_mode) == 0o600
    assert main(["tls", "init", str(site_ca)]) == 1  # an existing CA is never overwritten
    assert main(["tls", "init", str(site_ca), "--renew", "--name", "127.0.0.1"]) == 0


async def test_kiosk_and_board_connect_to_the_site_ca_and_refuse_another(
    https_url: str, site_ca: Path, tmp_path: Path
) -> None:
    async with SiteClient(https_url, "demo-kiosk-token", ca=str(site_ca / "ca.crt")) as kiosk:
        assert (await kiosk.get("/api/health"))["status"] == "ok"
    connector = aiohttp.TCPConnector(ssl=pinned_context(site_ca / "ca.crt"))
    async with (
        aiohttp.ClientSession(connector=connector) as http,
        http.ws_connect(
            f"{https_url.replace('https', 'wss')}/ws/events",
            headers={"Authorization": "Bearer demo-board-token"},
        ) as board,
    ):
        live = await asyncio.wait_for(board.receive_json(), 5)
        assert live["kind"] == "live"

    other = tmp_path / "other"
    assert main(["tls", "init", str(other), "--name", "127.0.0.1"]) == 0
    async with SiteClient(https_url, "demo-kiosk-token", ca=str(other / "ca.crt")) as wrong:
        with pytest.raises(ServerUnreachable) as err:
            await wrong.get("/api/health")
    assert "not signed by the site CA" in str(err.value) and "tls_ca" in str(err.value)


def test_a_real_site_refuses_plain_http_unless_told(tmp_path: Path) -> None:
    text = DEMO_CONFIG.read_text(encoding="utf-8").replace('id = "demo-stadium"', 'id = "city"')
    # no shared machine tokens (a real site refuses those first): marshal and admin only
    text = re.sub(r'(?m)^(kiosk|station|observer|board) = \["demo-\w+-token"\]\n', "", text)
    real = tmp_path / "city.toml"
    real.write_text(text, encoding="utf-8")
    db = str(tmp_path / "c.sqlite")
    assert main(["server", "--config", str(real), "--port", "0", "--db", db]) == 2
    assert plain_http_allowed(True, "127.0.0.1", insecure=False)  # the demo on loopback
    assert not plain_http_allowed(True, "0.0.0.0", insecure=False)
    assert not plain_http_allowed(False, "127.0.0.1", insecure=False)
    assert plain_http_allowed(False, "0.0.0.0", insecure=True)
