"""Bearer-token authentication for the admin API (``Authorization: Bearer <token>``).

The admin API never runs unauthenticated: with no ``[http].admin_token`` configured,
:func:`resolve_token` makes a random one for this run and logs it once.
"""

from __future__ import annotations

import hmac
import logging
import secrets

from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

log = logging.getLogger("coreswitch.http")


def resolve_token(configured: str) -> str:
    """The configured admin token, or a fresh random one (logged once) when it is empty."""
    if configured.strip():
        return configured.strip()
    token = secrets.token_urlsafe(32)
    log.warning("no [http].admin_token configured; the admin API token for this run is: %s",
                token)
    return token


class BearerAuth:
    """ASGI middleware: 401 unless the request carries the admin token (constant-time check)."""

    def __init__(self, app: ASGIApp, token: str) -> None:
        if not token:
            raise ValueError("the admin API needs a token")
        self.app = app
        self._token = token.encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        header = Headers(scope=scope).get("authorization", "")
        scheme, _, credential = header.partition(" ")
        if scheme.lower() != "bearer" or not credential.strip():
            message = "authentication required: send 'Authorization: Bearer <admin token>'"
        elif not hmac.compare_digest(credential.strip().encode(), self._token):
            message = "invalid admin token"
        else:
            await self.app(scope, receive, send)
            return
        response = JSONResponse({"error": message}, status_code=401,
                                headers={"WWW-Authenticate": 'Bearer realm="coreswitch"'})
        await response(scope, receive, send)
