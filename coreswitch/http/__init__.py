"""The admin HTTP API (starlette): health, and flows under ``/api`` with token auth.

:func:`create_app` builds the app; :func:`build_server` runs it with uvicorn in the server's
event loop. Routes live one concern per module (``health``, ``flows_api``).
"""

from coreswitch.http.app import create_app
from coreswitch.http.auth import BearerAuth, resolve_token
from coreswitch.http.server import build_server

__all__ = ["BearerAuth", "build_server", "create_app", "resolve_token"]
