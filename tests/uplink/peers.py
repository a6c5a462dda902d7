"""Real peers on loopback for the uplink tests: a FHIR server (sekmet-fhir, its own process),
an MLLP listener (python-hl7's server) and a TCP proxy the test cuts for WAN outages."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import hl7
from hl7.mllp import start_hl7_server

from tests.queue.conftest import Site


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class FhirServer:
    """`sekmet serve` on a free port with its own SQLite file (a real FHIR R4 server)."""

    def __init__(self, folder: Path) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}/fhir"
        env = {
            **os.environ,
            "SEKMET_DB": str(folder / "sekmet.db"),
            "SEKMET_BASE_URL": self.base,
            "SEKMET_CONFIG": str(folder / "none.yaml"),
        }
        self.log = folder / "sekmet.log"
        sekmet = Path(sys.executable).with_name("sekmet")
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen(
                [str(sekmet), "serve", "--host", "127.0.0.1", "--port", str(self.port)],
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=folder,
                env=env,
            )

    def wait(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                break
            with (
                contextlib.suppress(OSError, urllib.error.URLError),
                urllib.request.urlopen(f"{self.base}/metadata", timeout=1) as answer,
            ):
                if answer.status == 200:
                    return
            time.sleep(0.1)
        raise AssertionError(f"sekmet did not start:\n{self.log.read_text()[-2000:]}")

    def get(self, path: str) -> Any:
        with urllib.request.urlopen(f"{self.base}/{path}", timeout=10) as answer:
            return json.loads(answer.read())

    def put(self, resource: dict[str, Any]) -> None:
        """Store a resource as another site would have (its own id)."""
        request = urllib.request.Request(
            f"{self.base}/{resource['resourceType']}/{resource['id']}",
            data=json.dumps(resource).encode(),
            headers={"Content-Type": "application/fhir+json"},
            method="PUT",
        )
        with urllib.request.urlopen(request, timeout=10) as answer:
            assert answer.status in (200, 201)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)


@dataclass
class MllpListener:
    """A registry's MLLP listener: ACKs each VXU, keeps one record per ORC-3 (dropping a
    repeated MSH-10), answers AE for the keys in `reject` with the registry's words, and AR
    (busy, send again later) for the keys in `busy`."""

    reject: set[str] = field(default_factory=set)
    busy: set[str] = field(default_factory=set)
    received: list[tuple[str, str, str]] = field(default_factory=list)  # MSH-10, ORC-3, RXA-21
    stored: dict[str, str] = field(default_factory=dict)  # ORC-3 -> last RXA-21
    seen_ids: set[str] = field(default_factory=set)
    server: asyncio.Server | None = None
    port: int = 0

    async def start(self) -> None:
        self.server = await start_hl7_server(self._client, "127.0.0.1", 0, encoding="utf-8")
        self.port = int(self.server.sockets[0].getsockname()[1])

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()

    async def _client(self, reader: Any, writer: Any) -> None:
        try:
            while not writer.is_closing():
                message = await reader.readmessage()
                control = str(message.segment("MSH")[10])
                key = str(message.segment("ORC")[3]).split("^")[0]
                action = str(message.segment("RXA")[21])
                self.received.append((control, key, action))
                if key in self.reject:
                    ack = hl7.parse(
                        str(message.create_ack("AE")).rstrip("\r")
                        + "|RXA-15 lot unknown to the IIS"
                    )
                elif key in self.busy:
                    ack = hl7.parse(
                        str(message.create_ack("AR")).rstrip("\r") + "|IIS busy, resend later"
                    )
                else:
                    if control not in self.seen_ids:
                        self.seen_ids.add(control)
                        self.stored[key] = action
                    ack = message.create_ack("AA")
                writer.writemessage(ack)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    def copies(self) -> Counter[str]:
        """How many distinct messages (by MSH-10) each dose key arrived in."""
        firsts: dict[str, str] = {}
        for control, key, _action in self.received:
            firsts.setdefault(control, key)
        return Counter(firsts.values())


class TcpProxy:
    """Forwards a local port to a peer; `cut()` is a WAN outage (connections dropped, new ones
    refused at once), `lose_answers` forwards requests but drops the peer's replies."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.listen_port = 0
        self.up = True
        self.lose_answers = False
        self.answers_lost = 0
        self._server: asyncio.Server | None = None
        self._links: set[asyncio.StreamWriter] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.listen_port = int(self._server.sockets[0].getsockname()[1])

    def cut(self) -> None:
        self.up = False
        for writer in list(self._links):
            writer.transport.abort()
        self._links.clear()

    def restore(self) -> None:
        self.up = True

    async def stop(self) -> None:
        self.cut()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if not self.up:
            writer.transport.abort()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(self.host, self.port)
        except OSError:
            writer.transport.abort()
            return
        self._links |= {writer, up_writer}

        def on_answer() -> bool:
            if self.lose_answers:
                self.answers_lost += 1
                writer.transport.abort()
                up_writer.transport.abort()
                return False
            return True

        await asyncio.gather(
            _pipe(reader, up_writer, lambda: True),
            _pipe(up_reader, writer, on_answer),
            return_exceptions=True,
        )
        self._links -= {writer, up_writer}


async def _pipe(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, allow: Callable[[], bool]
) -> None:
    try:
        while data := await reader.read(65536):
            if not allow():
                return
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        writer.transport.abort()


async def dose(site: Site, code: str) -> dict[str, Any]:
    ticket = await site.check_in(code)
    await site.post("station", "/api/stations/S01/call-next")
    await site.post("station", "/api/stations/S01/start-service", {"code": ticket["qr"]})
    return await site.post(  # type: ignore[no-any-return]
        "station", "/api/stations/S01/record-dose", {"visit_id": ticket["visit_id"]}
    )


def fhir_copies(fhir: FhirServer, keys: set[str]) -> Counter[str]:
    """How many Immunization resources the FHIR server holds per dose key (ours only)."""
    bundle = fhir.get("Immunization?_count=500")
    found: Counter[str] = Counter()
    for entry in bundle.get("entry", []):
        for identifier in entry["resource"].get("identifier", []):
            if identifier.get("value") in keys:
                found[identifier["value"]] += 1
    return found
