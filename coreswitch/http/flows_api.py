"""``/api/flows``: list, versions, validate, publish, rollback and diff flows.

Publish and validate take the flow source as the request body (``text/plain``, UTF-8), or JSON
``{"source": …, "note": …, "filename": …}``. ``?note=`` and ``?filename=`` work with a text body;
``filename`` is the name diagnostics are rendered with. ``X-Coreswitch-User`` names who did it.

Status codes: 200 done (or unchanged), 422 refused (diagnostics and a message in the body),
404 unknown flow or version, 400 malformed request, 413 body too large, 401 no/wrong token.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from coreswitch.flows import FlowRegistry, PublishResult
from coreswitch.flows.live import served_numbers
from coreswitch.http.responses import error

MAX_SOURCE_BYTES = 1 << 20
_WHO_HEADER = "x-coreswitch-user"


def _registry(request: Request) -> FlowRegistry:
    registry: FlowRegistry = request.app.state.registry
    return registry


def _who(request: Request) -> str:
    who = request.headers.get(_WHO_HEADER, "").strip()
    return who[:200] or "api"


class _BadRequest(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


async def _source(request: Request) -> tuple[str, str, str]:
    """(source, note, filename) from the body and query string."""
    body = await request.body()
    if len(body) > MAX_SOURCE_BYTES:
        raise _BadRequest(413, f"flow source larger than {MAX_SOURCE_BYTES} bytes")
    name = request.path_params["name"]
    note = request.query_params.get("note", "")
    filename = request.query_params.get("filename", f"{name}.flow")
    if request.headers.get("content-type", "").startswith("application/json"):
        try:
            data = json.loads(body)
        except ValueError:
            raise _BadRequest(400, "the body is not valid JSON") from None
        if not isinstance(data, dict) or not isinstance(data.get("source"), str):
            raise _BadRequest(400, 'expected JSON {"source": "<flow text>", "note": "..."}')
        return data["source"], str(data.get("note", note)), str(data.get("filename", filename))
    try:
        return body.decode("utf-8"), note, filename
    except UnicodeDecodeError:
        raise _BadRequest(400, "the flow source is not valid UTF-8") from None


def _result(result: PublishResult) -> JSONResponse:
    return JSONResponse(result.to_json(), status_code=200 if result.ok else 422)


async def list_flows(request: Request) -> JSONResponse:
    registry = _registry(request)
    table = registry.table
    flows = [{"name": f.name, "version": f.version, "content_hash": f.content_hash,
              "title": f.ir.get("title"), "dnis": served_numbers(table, f.name)}
             for f in registry.flows()]
    return JSONResponse({"flows": flows,
                         "routes": {d: f.name for d, f in sorted(table.routes.items())},
                         "dangling_routes": dict(table.dangling)})


async def versions(request: Request) -> JSONResponse:
    name = request.path_params["name"]
    infos = await _registry(request).versions(name)
    return JSONResponse({"name": name, "versions": [v.to_json() for v in infos]})


async def version(request: Request) -> JSONResponse:
    name, number = request.path_params["name"], request.path_params["version"]
    info = await _registry(request).version(name, number)
    return JSONResponse(info.to_json())


async def validate(request: Request) -> Response:
    try:
        source, _note, filename = await _source(request)
    except _BadRequest as exc:
        return error(exc.status, str(exc))
    checked = await _registry(request).validate(source, filename=filename)
    return JSONResponse(checked.to_json())


async def publish(request: Request) -> Response:
    try:
        source, note, filename = await _source(request)
    except _BadRequest as exc:
        return error(exc.status, str(exc))
    result = await _registry(request).publish(request.path_params["name"], source,
                                              _who(request), note, filename=filename)
    return _result(result)


async def rollback(request: Request) -> Response:
    try:
        data: Any = json.loads(await request.body())
    except ValueError:
        data = None
    number = data.get("version") if isinstance(data, dict) else None
    if not isinstance(number, int) or isinstance(number, bool) or number < 1:
        return error(400, 'expected JSON {"version": N} with N a version number (1, 2, …)')
    result = await _registry(request).rollback(request.path_params["name"], number,
                                               _who(request))
    return _result(result)


async def diff(request: Request) -> Response:
    name = request.path_params["name"]
    try:
        a, b = int(request.query_params["a"]), int(request.query_params["b"])
    except (KeyError, ValueError):
        return error(400, "give the two versions to compare: ?a=N&b=M")
    text = await _registry(request).diff(name, a, b)
    return JSONResponse({"name": name, "a": a, "b": b, "diff": text})


routes = [
    Route("/flows", list_flows, methods=["GET"]),
    Route("/flows/{name}/versions", versions, methods=["GET"]),
    Route("/flows/{name}/versions/{version:int}", version, methods=["GET"]),
    Route("/flows/{name}/validate", validate, methods=["POST"]),
    Route("/flows/{name}/publish", publish, methods=["POST"]),
    Route("/flows/{name}/rollback", rollback, methods=["POST"]),
    Route("/flows/{name}/diff", diff, methods=["GET"]),
]
