"""schemathesis against the server's own OpenAPI document, with a valid token for each route:
no 5xx, and every 4xx is a JSON error with a reason code."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings

from tests.conftest import load_test_site
from vaxflow.queue.server.openapi import build
from vaxflow.queue.server.routes import ROUTES

VAXFLOW = str(Path(sys.executable).with_name("vaxflow"))
EXAMPLES_PER_ROUTE = 12

DOCUMENT = build(ROUTES)
DOCUMENT["paths"].pop("/ws/events")  # a WebSocket upgrade: covered by tests/queue/test_api.py
SCHEMA = schemathesis.openapi.from_dict(DOCUMENT)


@pytest.fixture(scope="module")
def server_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    folder = tmp_path_factory.mktemp("schemathesis")
    site = load_test_site(folder)
    process = subprocess.Popen(
        [VAXFLOW, "server", "--config", str(site), "--port", "0", "--db", str(folder / "s.db")],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert process.stdout is not None
        yield process.stdout.readline().rsplit(" ", 1)[1].strip()
    finally:
        process.terminate()
        process.wait(10)
        if process.stdout:
            process.stdout.close()


@pytest.mark.slow
@SCHEMA.parametrize()
@hypothesis_settings(
    max_examples=EXAMPLES_PER_ROUTE, deadline=None, suppress_health_check=list(HealthCheck)
)
def test_no_request_breaks_the_server(case: Any, server_url: str) -> None:
    roles = case.operation.definition.raw.get("x-roles", [])
    headers = {"Authorization": f"Bearer demo-{roles[0]}-token"} if roles else {}
    response = case.call(base_url=server_url, headers=headers)
    assert response.status_code < 500, f"{case.method} {case.formatted_path}: {response.text}"
    if response.status_code >= 400:
        error = response.json()["error"]
        assert error["reason"] and error["message"], response.text
