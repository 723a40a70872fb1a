"""The ``socket`` application: the switch connects to an outbound-socket server for one call.

As ``<action application="socket" data="127.0.0.1:8084 async full"/>`` does on a real switch: the
channel connects, parks (``CHANNEL_PARK``) and serves the connection as a :class:`Listener`
bound to this channel — ``connect`` answers with the channel data, ``myevents`` subscribes to
this channel only, ``sendmsg`` needs no UUID. On hangup the socket gets the linger notice (or,
without ``linger``, the disconnect notice) and the channel is not destroyed until the socket
closes. When the socket closes (``exit``, or the server going away) while the call is up, the
application running for the socket finishes, ``socket`` ends and the dialplan goes on with its
next action — as mod_event_socket's ``socket_function`` returns once the listener clears
CF_CONTROLLED; with no action left the call hangs up (NORMAL_CLEARING, "executed the last
dialplan instruction"). ``resume`` is accepted; the simulator does not model FreeSWITCH's
CS_RESET re-execution that it triggers.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping

from coreswitch.esl.memory import connect_pair
from coreswitch.esl.names import EventName
from coreswitch.switch.sim.channel import Channel
from coreswitch.switch.sim.core import SwitchCore
from coreswitch.switch.sim.listener import Listener
from coreswitch.switch.sim.wire import Command

log = logging.getLogger("coreswitch.switch.sim")


def parse_address(arg: str) -> tuple[str, int]:
    target = arg.split(maxsplit=1)[0] if arg.split() else ""
    host, _, port = target.rpartition(":")
    if not host or not port.isdigit():
        raise ValueError(f"socket address must be host:port, not {target!r}")
    return host.strip("[]"), int(port)


ProtocolFactory = Callable[[], asyncio.Protocol]

#: Address prefix of in-memory targets (:meth:`SimSwitch.attach_socket`): no TCP at all.
MEMORY = "memory:"


async def run_socket(core: SwitchCore, ch: Channel, arg: str, command_log: list[Command], *,
                     sockets: set[Listener] | None = None,
                     memory: Mapping[str, ProtocolFactory] | None = None) -> str:
    target = arg.split(maxsplit=1)[0] if arg.split() else ""
    factory = (memory or {}).get(target[len(MEMORY):]) if target.startswith(MEMORY) else None
    if factory is not None:
        host, port = target, 0
    else:
        try:
            host, port = parse_address(arg)
        except ValueError as exc:
            log.error("socket: %s", exc)
            return "_none_"
    ch.variables.set("socket_host", host)
    ch.socket_done = False
    loop = asyncio.get_running_loop()

    def done(listener: Listener) -> None:
        if sockets is not None:
            sockets.discard(listener)
        ch.socket_done = True  # CF_CONTROLLED cleared: park ends, the dialplan goes on
        ch.poke()
        core.release(ch)

    core.hold(ch)
    try:
        if factory is not None:
            listener = Listener(core, password="", command_log=command_log, channel=ch,
                                on_close=done)
            connect_pair(listener, factory(), name=host)
        else:
            _, listener = await loop.create_connection(
                lambda: Listener(core, password="", command_log=command_log, channel=ch,
                                 on_close=done), host, port)
    except OSError as exc:
        log.warning("socket: cannot connect to %s:%s: %s", host, port, exc)
        core.release(ch)
        return "_none_"
    if sockets is not None and listener.is_open:
        sockets.add(listener)
    core.fire(EventName.CHANNEL_PARK, ch)
    await core.control_loop(ch, socket=True)
    core.fire(EventName.CHANNEL_UNPARK, ch)
    return "_none_"
