"""The site server's client: kiosks, stations, boards and the demo talk to the server through it.

Every call has a deadline; every change carries an Idempotency-Key, so a retry after a timeout
never issues a second ticket or records a second dose.
"""

from __future__ import annotations

import uuid
from typing import Any

import aiohttp

from vaxflow.site_tls import certificate_problem, pinned_context

DEFAULT_TIMEOUT = 5.0


class ServerUnreachable(ConnectionError):
    """No answer from the site server within the deadline, or no connection at all."""


class ServerRefused(Exception):
    """The server answered with an error: a reason code and a message for people."""

    def __init__(
        self,
        status: int,
        reason: str,
        message: str,
        details: Any = None,
        *,
        messages: dict[str, str] | None = None,
        hints: dict[str, str] | None = None,
    ) -> None:
        super().__init__(f"{status} {reason}: {message}")
        self.status = status
        self.reason = reason
        self.message = message
        self.details = details or {}
        self.messages = dict(messages or {})  # the message in every language, when given
        self.hints = dict(hints or {})  # staff hints in every language, when given


def new_request_id() -> str:
    """A fresh idempotency key; keep it and reuse it when retrying the same request."""
    return uuid.uuid4().hex


class SiteClient:
    """A session with the site server for one device and its token."""

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        device: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        session: aiohttp.ClientSession | None = None,
        ca: str | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._headers = {"Authorization": f"Bearer {token}"}
        if device:
            self._headers["X-Device-Id"] = device
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._session = session
        self._own_session = session is None
        self.ca = ca  # the site CA the server's certificate must be signed by (pinned)

    def set_staff_session(self, session: str | None) -> None:
        """Send a signed-in person's session (X-Staff-Session) with every call, or stop."""
        if session:
            self._headers["X-Staff-Session"] = session
        else:
            self._headers.pop("X-Staff-Session", None)

    async def __aenter__(self) -> SiteClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        if self._own_session and self._session is not None:
            await self._session.close()
            self._session = None

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None:
            connector = aiohttp.TCPConnector(ssl=pinned_context(self.ca)) if self.ca else None
            self._session = aiohttp.ClientSession(timeout=self._timeout, connector=connector)
        return self._session

    async def request(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None = None,
        *,
        request_id: str | None = None,
    ) -> Any:
        """One call; POSTs get an Idempotency-Key (the given one when retrying)."""
        headers = dict(self._headers)
        if method == "POST":
            headers["Idempotency-Key"] = request_id or new_request_id()
        try:
            async with self._http().request(
                method, self.base_url + path, json=body, headers=headers, timeout=self._timeout
            ) as response:
                data = await response.json(content_type=None)
        except (aiohttp.ClientConnectionError, TimeoutError) as err:
            why = certificate_problem(err, self.ca) or err or type(err).__name__
            raise ServerUnreachable(f"{method} {path}: {why}") from err
        except (aiohttp.ContentTypeError, ValueError) as err:  # e.g. a proxy's HTML 502 page
            raise ServerUnreachable(f"{method} {path}: not a JSON answer") from err
        if response.status >= 400:
            error = (data or {}).get("error", {}) if isinstance(data, dict) else {}
            raise ServerRefused(
                response.status,
                str(error.get("reason", "http_error")),
                str(error.get("message", response.reason)),
                error.get("details"),
                messages=error.get("messages") if isinstance(error.get("messages"), dict) else None,
                hints=error.get("hints") if isinstance(error.get("hints"), dict) else None,
            )
        return data

    async def get(self, path: str) -> Any:
        return await self.request("GET", path)

    async def post(
        self, path: str, body: dict[str, Any] | None = None, *, request_id: str | None = None
    ) -> Any:
        return await self.request("POST", path, body or {}, request_id=request_id)

    # --- the calls clients make ------------------------------------------------------------

    async def check_in(self, body: dict[str, Any], *, request_id: str | None = None) -> Any:
        return await self.post("/api/checkins", body, request_id=request_id)

    async def server_time(self) -> Any:
        return await self.get("/api/time")

    async def stats(self) -> Any:
        return await self.get("/api/stats")
