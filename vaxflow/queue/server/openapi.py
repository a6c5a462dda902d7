"""The OpenAPI 3 document, generated from the route table and the pydantic models.

The table is given (`build(routes)`; the handler reads the one the app serves), so this
module does not import the table that lists its handler."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from aiohttp import web
from pydantic import BaseModel

from vaxflow import __version__
from vaxflow.queue.api import models as m
from vaxflow.queue.server.appkeys import ROUTE_TABLE
from vaxflow.queue.server.route import Route

_PARAM = re.compile(r"\{(\w+)\}")
_REF = "#/components/schemas/{model}"


def build(routes: Iterable[Route]) -> dict[str, Any]:
    """The document describing these routes."""
    schemas: dict[str, Any] = {}

    def ref(model: type[BaseModel]) -> dict[str, Any]:
        schema = model.model_json_schema(ref_template=_REF)
        for name, sub in schema.pop("$defs", {}).items():
            schemas[name] = sub
        schemas[model.__name__] = schema
        return {"$ref": _REF.format(model=model.__name__)}

    error = {"application/json": {"schema": ref(m.ErrorResponse)}}
    paths: dict[str, Any] = {}
    for route in routes:
        op: dict[str, Any] = {
            "operationId": route.handler.__name__ + "_" + route.method.lower(),
            "summary": route.summary,
            "x-roles": sorted(route.roles) if route.roles is not None else [],
        }
        op["security"] = [] if route.roles is None else [{"bearer": []}]
        parameters = [
            {
                "name": name,
                "in": "path",
                "required": True,
                "schema": {"type": "integer", "minimum": 1, "maximum": m.MAX_ID}
                if name == "visit_id"
                else {"type": "string", "minLength": 1, "maxLength": 120},
            }
            for name in _PARAM.findall(route.path)
        ]
        for name, description in route.query:
            parameters.append(
                {
                    "name": name,
                    "in": "query",
                    "required": False,
                    "schema": {"type": "string", "maxLength": 120},
                    "description": description,
                }
            )
        if route.websocket:
            parameters.append(
                {
                    "name": "batch",
                    "in": "query",
                    "required": False,
                    "schema": {"type": "integer", "enum": [0, 1]},
                    "description": "1: one JSON array of events per committed batch",
                }
            )
            parameters.append(
                {
                    "name": "since",
                    "in": "query",
                    "required": False,
                    "schema": {"type": "integer", "minimum": 0},
                }
            )
            op["description"] = (
                "WebSocket upgrade. Token in `Authorization: Bearer` or the subprotocol "
                "`bearer.TOKEN`. Messages are events `{seq, at, actor, device, kind, visit_id, "
                "payload}`, then `{kind: live}` once caught up."
            )
        if route.roles is not None and not route.staff_exempt and not route.websocket:
            parameters.append(
                {
                    "name": "X-Staff-Session",
                    "in": "header",
                    "required": route.staff_only,
                    "schema": {"type": "string", "maxLength": 200},
                    "description": "The signed-in person's session from POST /api/staff/sign-in; "
                    "required for staff actions when the site sets staff_sign_in.required "
                    "(always on the desk's routes).",
                }
            )
        if parameters:
            op["parameters"] = parameters
        if route.body is not None:
            op["requestBody"] = {
                "required": route.body is not m.EmptyRequest,
                "content": {"application/json": {"schema": ref(route.body)}},
            }
            op["parameters"] = [
                *op.get("parameters", []),
                {
                    "name": "Idempotency-Key",
                    "in": "header",
                    "required": False,
                    "schema": {"type": "string", "maxLength": 128},
                    "description": "A replay with the same key returns the first answer.",
                },
            ]
        ok: dict[str, Any] = {"description": "OK"}
        if route.response is not None:
            schema = ref(route.response)
            if route.response_is_list:
                schema = {"type": "array", "items": schema}
            ok["content"] = {"application/json": {"schema": schema}}
        if route.produces is not None:
            ok["content"] = {route.produces: {"schema": {"type": "string"}}}
        responses: dict[str, Any] = {"200": ok}
        if route.websocket:
            responses = {"101": {"description": "Switching to WebSocket"}}
        if route.roles is not None:
            responses["401"] = {"description": "No or unknown token", "content": error}
            responses["403"] = {"description": "Role not allowed", "content": error}
        if route.path == "/api/staff/sign-in":
            responses["423"] = {"description": "Staff number locked", "content": error}
        if route.body is not None or parameters:
            responses["404"] = {"description": "Not found", "content": error}
            responses["409"] = {"description": "Refused in the current state", "content": error}
            responses["422"] = {"description": "Invalid request", "content": error}
        op["responses"] = responses
        paths.setdefault(route.path, {})[route.method.lower()] = op
    return {
        "openapi": "3.1.0",
        "info": {"title": "vaxflow site server", "version": __version__},
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }


async def handler(request: web.Request) -> web.Response:
    routes: tuple[Route, ...] = request.app[ROUTE_TABLE]
    return web.json_response(build(routes))
