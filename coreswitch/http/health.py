"""``GET /healthz``: liveness, without authentication."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from coreswitch import __version__
from coreswitch.flows import FlowRegistry


async def healthz(request: Request) -> JSONResponse:
    registry: FlowRegistry = request.app.state.registry
    return JSONResponse({"status": "ok", "version": __version__,
                         "flows": len(registry.flows())})


routes = [Route("/healthz", healthz, methods=["GET"])]
