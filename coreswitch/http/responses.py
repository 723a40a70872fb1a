"""JSON error responses: every failure of the admin API is ``{"error": MESSAGE, ...}``."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse

from coreswitch.flows import UnknownFlow, UnknownVersion


def error(status: int, message: str, **extra: Any) -> JSONResponse:
    return JSONResponse({"error": message, **extra}, status_code=status)


async def unknown_flow(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, (UnknownFlow, UnknownVersion))
    return error(404, str(exc))


async def internal_error(request: Request, exc: Exception) -> JSONResponse:
    return error(500, f"internal error: {type(exc).__name__}; see the server log")
