"""``POST /api/sim/calls``: place a call in the embedded simulated switch (``[switch] kind="sim"``).

Body (JSON): ``{"dnis": "95598", "ani": "13800138000", "caller": "press 2 on prompt 3 after 1;
press 1 next prompt"}`` — ``caller`` is a caller script (see ``coreswitch sim --help``); all
fields are optional. The call is routed to coreswitch's own outbound socket, exactly as a
FreeSWITCH dialplan ``socket`` action would, and runs the flow that serves ``dnis``. The answer
is ``{"uuid": …}``; the call record with its transcript is at ``GET /api/calls/{uuid}`` once the
call has ended. 404 when serve is not running the simulated switch.
"""

from __future__ import annotations

import json
import re

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from coreswitch.http.responses import error
from coreswitch.switch.sim import SimSwitch
from coreswitch.switch.sim import caller as caller_mod

_NUMBER = re.compile(r"[0-9A-Za-z+*#._-]{1,32}")


async def place(request: Request) -> Response:
    sim: SimSwitch | None = getattr(request.app.state, "sim", None)
    if sim is None:
        return error(404, "serve is not running the simulated switch ([switch] kind = \"sim\")")
    try:
        body = json.loads(await request.body() or b"{}")
    except (json.JSONDecodeError, UnicodeDecodeError):
        return error(400, "the body must be JSON")
    if not isinstance(body, dict):
        return error(400, "the body must be a JSON object")
    ani, dnis = str(body.get("ani", "13800138000")), str(body.get("dnis", "95598"))
    for field, value in (("ani", ani), ("dnis", dnis)):
        if not _NUMBER.fullmatch(value):
            return error(400, f"{field} must be a phone number or extension")
    try:
        steps = caller_mod.parse(str(body.get("caller", "")))
    except ValueError as exc:
        return error(400, f"caller script: {exc}")
    address: str = request.app.state.outbound_address
    call = await sim.place_call(ani, dnis, socket=address, caller=steps)
    return JSONResponse({"uuid": call.uuid, "ani": ani, "dnis": dnis})


routes = [Route("/sim/calls", place, methods=["POST"])]
