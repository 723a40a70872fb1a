"""Running the admin app with uvicorn inside the server's own event loop.

    server = build_server(app, config.http.bind)
    task = asyncio.create_task(server.serve())   # or: await server.serve(sockets=[sock])
    ...
    server.should_exit = True; await task
"""

from __future__ import annotations

import uvicorn
from starlette.types import ASGIApp

from coreswitch.config import parse_address


def build_server(app: ASGIApp, bind: str) -> uvicorn.Server:
    """A uvicorn server for ``app`` on ``bind`` (``host:port``) that leaves logging alone."""
    host, port = parse_address(bind, "http.bind")
    config = uvicorn.Config(app, host=host, port=port, log_config=None, access_log=False,
                            lifespan="off", server_header=False)
    return uvicorn.Server(config)
