"""The uplink tests' peers: one FHIR server process for the session, listeners per test."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from tests.uplink.peers import FhirServer, MllpListener, TcpProxy


@pytest.fixture(scope="session")
def fhir_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FhirServer]:
    folder: Path = tmp_path_factory.mktemp("sekmet")
    server = FhirServer(folder)
    try:
        server.wait()
        yield server
    finally:
        server.stop()


@pytest.fixture
async def mllp() -> AsyncIterator[MllpListener]:
    listener = MllpListener()
    await listener.start()
    yield listener
    await listener.stop()


@pytest.fixture
async def fhir_link(fhir_server: FhirServer) -> AsyncIterator[TcpProxy]:
    proxy = TcpProxy("127.0.0.1", fhir_server.port)
    await proxy.start()
    yield proxy
    await proxy.stop()


@pytest.fixture
async def hl7_link(mllp: MllpListener) -> AsyncIterator[TcpProxy]:
    proxy = TcpProxy("127.0.0.1", mllp.port)
    await proxy.start()
    yield proxy
    await proxy.stop()
