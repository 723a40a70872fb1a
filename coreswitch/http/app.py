"""The admin HTTP application (starlette).

``GET /healthz`` is open; everything under ``/api`` needs ``Authorization: Bearer <token>``.
"""

from __future__ import annotations

from collections.abc import Sequence

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import BaseRoute, Mount

from coreswitch.flows import FlowRegistry, UnknownFlow, UnknownVersion
from coreswitch.http import flows_api, health
from coreswitch.http.auth import BearerAuth, resolve_token
from coreswitch.http.responses import internal_error, unknown_flow


def create_app(registry: FlowRegistry, *, token: str, extra_routes: Sequence[BaseRoute] = (),
               public_routes: Sequence[BaseRoute] = ()) -> Starlette:
    """The admin app for ``registry``.

    ``token`` is the admin token (``[http].admin_token``); when empty a random one is made and
    logged once (``app.state.admin_token`` holds it). ``extra_routes`` are mounted under
    ``/api`` behind the same token (plugins' and other subsystems' admin routes);
    ``public_routes`` at the top level without authentication (e.g. a dashboard page).
    """
    token = resolve_token(token)
    api = Mount("/api", routes=[*flows_api.routes, *extra_routes],
                middleware=[Middleware(BearerAuth, token=token)])
    app = Starlette(
        routes=[*health.routes, api, *public_routes],
        exception_handlers={UnknownFlow: unknown_flow, UnknownVersion: unknown_flow,
                            Exception: internal_error},
    )
    app.state.registry = registry
    app.state.admin_token = token
    return app
