"""What one endpoint declares: the route table (routes.py) is a list of these, and the app
(app.py) and the OpenAPI document (openapi.py) are both built from that list."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiohttp import web
from pydantic import BaseModel

from vaxflow.config.schema import Role

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True)
class Route:
    """One endpoint; `roles` None means public (health, time, the API description)."""

    method: str
    path: str
    handler: Handler
    roles: frozenset[Role] | None
    summary: str
    body: type[BaseModel] | None = None
    response: type[BaseModel] | None = None
    response_is_list: bool = False
    websocket: bool = False
    staff_exempt: bool = False
    """A device's own call, never a person's action: no staff session is asked or checked."""
    staff_only: bool = False
    """A signed-in person must act, for every role, even where sign-in is optional: identity
    typed by staff (the desk) is audited with their name."""
    query: tuple[tuple[str, str], ...] = ()
    """Optional text query parameters: (name, what it means)."""
    produces: str | None = None
    """The media type of an answer that is text, not JSON (the Prometheus exposition)."""
