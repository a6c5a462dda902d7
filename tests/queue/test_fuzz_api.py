"""Arbitrary HTTP bodies against a real server process: never a 5xx, always a JSON reason."""

from __future__ import annotations

import http.client
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import load_test_site

VAXFLOW = str(Path(sys.executable).with_name("vaxflow"))

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**40), 2**40)
    | st.text(max_size=30)
    | st.floats(allow_nan=False),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=15), children, max_size=5)
    ),
    max_leaves=15,
)

FIELDS = st.sampled_from(
    [
        "booking_code",
        "walk_in",
        "name",
        "id_number",
        "birth_date",
        "product",
        "visit_id",
        "code",
        "reason",
        "outcome",
        "kind",
        "severity",
        "ok",
        "lot",
        "vaccinator",
        "state",
    ]
)
bodies = (
    st.dictionaries(FIELDS, json_values, max_size=5).map(lambda d: json.dumps(d).encode())
    | json_values.map(lambda v: json.dumps(v).encode())
    | st.binary(max_size=200)
)
POSTS = [
    ("kiosk", "/api/checkins"),
    ("kiosk", "/api/visits/1/print-status"),
    ("kiosk", "/api/visits/1/cancel"),
    ("kiosk", "/api/devices/health"),
    ("station", "/api/stations/S01/open"),
    ("station", "/api/stations/S01/call-next"),
    ("station", "/api/stations/S01/recall"),
    ("station", "/api/stations/S01/start-service"),
    ("station", "/api/stations/S01/record-dose"),
    ("station", "/api/stations/S01/defer"),
    ("station", "/api/stations/S99/open"),
    ("observer", "/api/observation/1/flag"),
    ("observer", "/api/observation/1/resolve"),
    ("observer", "/api/exit-scan"),
]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, int]]:
    folder = tmp_path_factory.mktemp("fuzz")
    db = folder / "site.sqlite"
    site = load_test_site(folder)
    process = subprocess.Popen(
        [VAXFLOW, "server", "--config", str(site), "--port", "0", "--db", str(db)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        host, port = line.rsplit("http://", 1)[1].strip().rsplit(":", 1)
        yield host, int(port)
    finally:
        process.terminate()
        process.wait(10)
        if process.stdout:
            process.stdout.close()


def _post(server: tuple[str, int], role: str, path: str, body: bytes) -> tuple[int, Any]:
    conn = http.client.HTTPConnection(*server, timeout=10)
    try:
        conn.request(
            "POST",
            path,
            body=body,
            headers={
                "Authorization": f"Bearer demo-{role}-token",
                "Content-Type": "application/json",
            },
        )
        response = conn.getresponse()
        return response.status, json.loads(response.read())
    finally:
        conn.close()


@pytest.mark.slow  # 300 examples
@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(target=st.sampled_from(POSTS), body=bodies)
def test_no_body_breaks_the_server(
    server: tuple[str, int], target: tuple[str, str], body: bytes
) -> None:
    status, answer = _post(server, *target, body)
    assert status < 500, answer
    if status >= 400:
        assert isinstance(answer["error"]["reason"], str) and answer["error"]["message"]
