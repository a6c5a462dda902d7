"""Floods refused per kiosk, and HTTPS when the site asks for it."""

from __future__ import annotations

import datetime as dt
import ipaddress
import ssl
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.conftest import DEMO_CONFIG
from vaxflow.clock import FrozenClock
from vaxflow.config import Settings
from vaxflow.queue.server.app import create_app
from vaxflow.queue.server.ratelimit import RateLimiter

from .conftest import AiohttpClient, auth

VAXFLOW = str(Path(sys.executable).with_name("vaxflow"))


def test_token_bucket_refills_at_its_rate() -> None:
    now = [0.0]
    limiter = RateLimiter(rate=2.0, burst=3, clock=lambda: now[0])
    assert [limiter.allow("k") for _ in range(4)] == [True, True, True, False]
    assert limiter.retry_after("k") == 0.5
    now[0] += 0.5
    assert limiter.allow("k") and not limiter.allow("k")
    assert limiter.allow("other")  # every kiosk has its own bucket


async def test_a_flooding_kiosk_is_refused_and_others_are_not(
    aiohttp_client: AiohttpClient, settings: Settings, clock: FrozenClock, tmp_path: Path
) -> None:
    strict = settings.model_copy(
        update={
            "server": settings.server.model_copy(
                update={"kiosk_requests_per_second": 0.01, "kiosk_burst": 3}
            )
        }
    )
    client = await aiohttp_client(create_app(strict, db=str(tmp_path / "r.sqlite"), clock=clock))
    flood = {**auth("kiosk"), "X-Device-Id": "kiosk-07"}
    statuses = []
    for _ in range(5):
        response = await client.get("/api/tickets/A001", headers=flood)
        statuses.append(response.status)
        body = await response.json()
    assert statuses == [404, 404, 404, 429, 429]
    assert body["error"]["reason"] == "rate_limited"
    assert body["error"]["messages"]["zh-CN"] == "此设备请求过于频繁，请稍候。"
    other = await client.get("/api/tickets/A001", headers={**auth("kiosk"), "X-Device-Id": "k2"})
    assert other.status == 404
    station = await client.get("/api/tickets/A001", headers=auth("station"))
    assert station.status == 404


def _self_signed(directory: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "site.crt", directory / "site.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


@pytest.fixture
def tls_server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    cert, key = _self_signed(tmp_path)
    command = [
        VAXFLOW,
        "server",
        "--config",
        str(DEMO_CONFIG),
        "--port",
        "0",
        "--db",
        str(tmp_path / "s.sqlite"),
        "--tls-cert",
        str(cert),
        "--tls-key",
        str(key),
    ]
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert "https://127.0.0.1:" in line, line
        yield line.rsplit(" ", 1)[1].strip(), cert
    finally:
        process.terminate()
        process.wait(10)
        if process.stdout:
            process.stdout.close()


@pytest.mark.slow  # a real `vaxflow server` process
async def test_server_speaks_https_with_a_certificate(tls_server: tuple[str, Path]) -> None:
    url, cert = tls_server
    trusted = ssl.create_default_context(cafile=str(cert))
    async with aiohttp.ClientSession() as session:
        async with session.get(url + "/api/health", ssl=trusted) as response:
            assert (await response.json())["status"] == "ok"
        with pytest.raises(aiohttp.ClientError):
            async with session.get(url.replace("https", "http") + "/api/health"):
                pass


@pytest.mark.slow
def test_half_a_tls_configuration_is_refused(tmp_path: Path) -> None:
    cert, _key = _self_signed(tmp_path)
    result = subprocess.run(
        [VAXFLOW, "server", "--config", str(DEMO_CONFIG), "--tls-cert", str(cert)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert "give both a TLS certificate and its key" in result.stderr
