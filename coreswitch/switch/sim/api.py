"""API commands (``api`` / ``bgapi``) of the simulated switch, with FreeSWITCH's output texts.

Outputs are copied from the captures where they appear (``status``, ``show channels as json``
with its ``{"row_count": 0}\\n`` special case, ``uuid_recv_dtmf``, ``-ERR <cmd> Command not
found!``) and from mod_commands' source otherwise.
"""

from __future__ import annotations

import json
import uuid as uuidlib
from collections.abc import Awaitable, Callable

from coreswitch.switch.sim import dialstring
from coreswitch.switch.sim.apps import start_recording, stop_recording
from coreswitch.switch.sim.bridge import dial_group
from coreswitch.switch.sim.channel import CallState, Channel, Message
from coreswitch.switch.sim.clock import SimClock
from coreswitch.switch.sim.core import Route, SwitchCore

Api = Callable[[SwitchCore, str], Awaitable[str]]
COMMANDS: dict[str, Api] = {}
_NO_SUCH = "-ERR No such channel!\n"


def command(name: str) -> Callable[[Api], Api]:
    def register(fn: Api) -> Api:
        COMMANDS[name] = fn
        return fn
    return register


async def run(core: SwitchCore, cmd: str, args: str) -> str:
    fn = COMMANDS.get(cmd)
    if fn is None:
        return f"-ERR {cmd} Command not found!\n"
    return await fn(core, args)


def _channel(core: SwitchCore, uuid: str) -> Channel | None:
    ch = core.channels.get(uuid.strip())
    return ch if ch is not None else None


@command("status")
async def status(core: SwitchCore, args: str) -> str:
    up_us = max(0, core.clock.now_us() - core.started_us)
    secs, us = divmod(up_us, 1_000_000)
    mins, secs = divmod(secs, 60)
    hours, mins = divmod(mins, 60)
    days, hours = divmod(hours, 24)
    years, days = divmod(days, 365)
    live = len(core.channels)
    return (
        f"UP {years} years, {days} days, {hours} hours, {mins} minutes, {secs} seconds, "
        f"{us // 1000} milliseconds, {us % 1000} microseconds\n"
        "FreeSWITCH (Version 1.10.12-release  64bit) is ready\n"
        f"{core.session_count} session(s) since startup\n"
        f"{live} session(s) - peak {core.peak}, last 5min {core.peak} \n"
        "0 session(s) per Sec out of max 30, peak 0, last 5min 0 \n"
        "1000 session(s) max\n"
        "min idle cpu 0.00/100.00\n"
        "Current Stack Size/Max 240K/240K\n"
    )


@command("version")
async def version(core: SwitchCore, args: str) -> str:
    return "FreeSWITCH Version 1.10.12-release (simulated)\n"


@command("uuid_exists")
async def uuid_exists(core: SwitchCore, args: str) -> str:
    return "true" if _channel(core, args) else "false"


@command("uuid_kill")
async def uuid_kill(core: SwitchCore, args: str) -> str:
    uuid, _, cause = args.strip().partition(" ")
    ch = _channel(core, uuid)
    if ch is None or not ch.up():
        return _NO_SUCH
    core.hangup(ch, cause.strip() or "NORMAL_CLEARING")
    return "+OK\n"


@command("uuid_getvar")
async def uuid_getvar(core: SwitchCore, args: str) -> str:
    uuid, _, name = args.strip().partition(" ")
    ch = _channel(core, uuid)
    if ch is None:
        return _NO_SUCH
    return ch.variables.get(name.strip()) or "_undef_"


@command("uuid_setvar")
async def uuid_setvar(core: SwitchCore, args: str) -> str:
    parts = args.strip().split(" ", 2)
    if len(parts) < 2:
        return "-USAGE: <uuid> <var> [value]\n"
    ch = _channel(core, parts[0])
    if ch is None:
        return _NO_SUCH
    ch.variables.set(parts[1], parts[2] if len(parts) > 2 else None)
    return "+OK\n"


@command("uuid_setvar_multi")
async def uuid_setvar_multi(core: SwitchCore, args: str) -> str:
    uuid, _, rest = args.strip().partition(" ")
    ch = _channel(core, uuid)
    if ch is None:
        return _NO_SUCH
    for item in rest.split(";"):
        name, _, value = item.partition("=")
        if name.strip():
            ch.variables.set(name.strip(), value)
    return "+OK\n"


@command("uuid_recv_dtmf")
async def uuid_recv_dtmf(core: SwitchCore, args: str) -> str:
    uuid, _, digits = args.strip().partition(" ")
    ch = _channel(core, uuid)
    if ch is None:
        return _NO_SUCH
    core.dtmf(ch, digits.strip(), "APP")
    return f"+OK {uuid} received DTMF {digits.strip()}.\n"


@command("uuid_send_dtmf")
async def uuid_send_dtmf(core: SwitchCore, args: str) -> str:
    uuid, _, _digits = args.strip().partition(" ")
    return "+OK\n" if _channel(core, uuid) else _NO_SUCH


@command("uuid_answer")
async def uuid_answer(core: SwitchCore, args: str) -> str:
    ch = _channel(core, args)
    if ch is None:
        return _NO_SUCH
    core.answer(ch)
    return "+OK\n"


@command("uuid_break")
async def uuid_break(core: SwitchCore, args: str) -> str:
    ch = _channel(core, args.split(" ", 1)[0])
    if ch is None:
        return _NO_SUCH
    ch.break_media.set()
    return "+OK\n"


@command("uuid_transfer")
async def uuid_transfer(core: SwitchCore, args: str) -> str:
    parts = args.split()
    if len(parts) < 2:
        return "-USAGE: <uuid> [-bleg|-both] <dest-exten> [<dialplan>] [<context>]\n"
    ch = _channel(core, parts[0])
    if ch is None:
        return _NO_SUCH
    rest = [p for p in parts[1:] if p not in ("-bleg", "-both")]
    if parts[1] == "-bleg" and ch.bridged_to is not None:
        ch = ch.bridged_to
    rest += ["XML", "default"][len(rest) - 1:]
    ch.transfer_to = (rest[0], rest[1], rest[2])
    ch.break_media.set()
    ch.poke()
    return "+OK\n"


@command("uuid_park")
async def uuid_park(core: SwitchCore, args: str) -> str:
    ch = _channel(core, args)
    if ch is None:
        return _NO_SUCH
    core.dialplan.setdefault("park", [("park", "")])
    ch.transfer_to = ("park", "XML", "default")
    ch.break_media.set()
    ch.poke()
    return "+OK\n"


@command("uuid_bridge")
async def uuid_bridge(core: SwitchCore, args: str) -> str:
    parts = args.split()
    if len(parts) != 2:
        return "-USAGE: <uuid> <other_uuid>\n"
    a, b = _channel(core, parts[0]), _channel(core, parts[1])
    if a is None or b is None or not a.up() or not b.up():
        return f"-ERR Invalid uuid {parts[1] if a else parts[0]}\n"
    a.bridge_request, b.bridge_request = b, a
    a.bridge_driver = True
    core.answer(a)
    core.answer(b)
    for ch in (a, b):
        ch.break_media.set()
        ch.pending_route = ch.pending_route or []
        ch.poke()
    return f"+OK {b.uuid}\n"


@command("uuid_broadcast")
async def uuid_broadcast(core: SwitchCore, args: str) -> str:
    """``uuid_broadcast <uuid> <path> [aleg|bleg|both]``: queue a playback on the channel."""
    parts = args.split()
    if len(parts) < 2:
        return "-USAGE: <uuid> <path> [aleg|bleg|both]\n"
    ch = _channel(core, parts[0])
    if ch is None:
        return _NO_SUCH
    target = ch.bridged_to if len(parts) > 2 and parts[2] == "bleg" and ch.bridged_to else ch
    path = parts[1]
    app, _, arg = path.partition("::")
    message = Message(app, arg, str(uuidlib.uuid4())) if arg else Message(
        "playback", path, str(uuidlib.uuid4()))
    core.send(target, message)
    return "+OK Message sent\n"


@command("uuid_record")
async def uuid_record(core: SwitchCore, args: str) -> str:
    """``uuid_record <uuid> start|stop <path> [<limit>]``: record alongside whatever runs."""
    parts = args.split()
    if len(parts) < 3:
        return "-USAGE: <uuid> [start|stop|mask|unmask] <path> [<limit>]\n"
    ch = _channel(core, parts[0])
    if ch is None:
        return _NO_SUCH
    if parts[1] == "start":
        limit = float(parts[3]) if len(parts) > 3 and parts[3].isdigit() else None
        start_recording(core, ch, parts[2], limit)
    elif parts[1] == "stop":
        stop_recording(core, ch, parts[2])
    return "+OK Success\n"


@command("uuid_hold")
async def uuid_hold(core: SwitchCore, args: str) -> str:
    parts = args.split()
    off = bool(parts) and parts[0] == "off"
    ch = _channel(core, parts[-1] if parts else "")
    if ch is None:
        return _NO_SUCH
    state = CallState.ACTIVE if off else CallState.HELD
    if ch.call_state != state and ch.up():
        core.set_call_state(ch, state)
    return "+OK Success\n"


@command("hupall")
async def hupall(core: SwitchCore, args: str) -> str:
    cause = args.split(maxsplit=1)[0] if args.split() else "MANAGER_REQUEST"
    await core.hupall(cause)
    return f"+OK hangup all channels with cause {cause}\n"


@command("originate")
async def originate(core: SwitchCore, args: str) -> str:
    """``originate <dialstring> <&app(args)|extension> [dialplan] [context] [cid_name] [cid_num]
    [timeout]``."""
    dial, dest, extra = _split_originate(args)
    if not dial or not dest:
        return "-USAGE: <call url> <exten>|&<application_name>(<app_args>) [<dialplan>] " \
               "[<context>] [<cid_name>] [<cid_num>] [<timeout_sec>]\n"
    variables, groups = dialstring.parse(dial)
    if len(extra) > 2 and extra[2]:
        variables.setdefault("origination_caller_id_name", extra[2])
    if len(extra) > 3 and extra[3]:
        variables.setdefault("origination_caller_id_number", extra[3])
    timeout = float(extra[4]) if len(extra) > 4 and extra[4].isdigit() else float(
        variables.get("originate_timeout") or variables.get("call_timeout") or 60)
    cause = "DESTINATION_OUT_OF_ORDER"
    for group in groups:
        result = await dial_group(core, group, variables, None, timeout)
        if isinstance(result, Channel):
            core.flip_cid(result)
            route = route_of(core, dest)
            result.pending_route = route
            result.poke()
            await core.settled(result, route)  # parked before the reply: no sendmsg race
            return f"+OK {result.uuid}\n"
        cause = result
    return f"-ERR {cause}\n"


def route_of(core: SwitchCore, dest: str) -> Route:
    """``&park``, ``&socket(127.0.0.1:8084 async full)`` or an extension of the dialplan."""
    if dest.startswith("&"):
        body = dest[1:]
        name, sep, rest = body.partition("(")
        arg = rest[:-1] if sep and rest.endswith(")") else ""
        if not sep:
            name, _, arg = body.partition(" ")
        return [(name.strip(), arg)]
    return core.route_for(dest)


def _split_originate(args: str) -> tuple[str, str, list[str]]:
    text = args.strip()
    depth, quoted, cut = 0, False, -1
    for i, ch in enumerate(text):
        if ch in "{[":
            depth += 1
        elif ch in "}]":
            depth -= 1
        elif ch == "'":
            quoted = not quoted
        elif ch == " " and depth == 0 and not quoted:
            cut = i
            break
    if cut < 0:
        return text, "", []
    dial, rest = text[:cut], text[cut + 1:].strip()
    if rest.startswith("&") and "(" in rest.split(" ", 1)[0]:
        end = rest.find(")")
        dest, tail = (rest[:end + 1], rest[end + 1:]) if end >= 0 else (rest, "")
    else:
        dest, _, tail = rest.partition(" ")
    return dial, dest, [dest, *tail.split()]


# -- show channels -------------------------------------------------------------------------------

def channel_row(core: SwitchCore, ch: Channel) -> dict[str, str]:
    p = ch.profile
    peer = ch.bridged_to or ch.other_leg
    outbound = p.direction == "outbound"
    return {
        "uuid": ch.uuid, "direction": p.direction,
        "created": SimClock.local(ch.created_us), "created_epoch": str(ch.created_us // 1_000_000),
        "name": ch.name, "state": ch.running_state.name,
        "cid_name": p.caller_id_name, "cid_num": p.caller_id_number, "ip_addr": "",
        "dest": p.destination_number, "application": ch.application,
        "application_data": ch.application_data, "dialplan": p.dialplan, "context": p.context,
        "read_codec": "PCMA", "read_rate": "8000", "read_bit_rate": "64000",
        "write_codec": "PCMA", "write_rate": "8000", "write_bit_rate": "64000",
        "secure": "", "hostname": core.hostname, "presence_id": "", "presence_data": "",
        "accountcode": "", "callstate": ch.call_state.name,
        "callee_name": p.callee_id_name, "callee_num": p.callee_id_number,
        "callee_direction": "RECV" if outbound and peer is not None else "",
        "call_uuid": ch.uuid if outbound else "",
        "sent_callee_name": "", "sent_callee_num": "",
        "initial_cid_name": p.caller_id_name, "initial_cid_num": p.caller_id_number,
        "initial_ip_addr": "", "initial_dest": p.destination_number,
        "initial_dialplan": p.dialplan, "initial_context": p.context,
    }


@command("show")
async def show(core: SwitchCore, args: str) -> str:
    words = args.split()
    if not words or words[0] not in ("channels", "calls"):
        return "-USAGE: show channels|calls [as json]\n"
    rows = [channel_row(core, ch) for ch in core.channels.values()]
    if words[-2:] == ["as", "json"]:
        if not rows:
            return '{"row_count": 0}\n'
        return json.dumps({"row_count": len(rows), "rows": rows}, ensure_ascii=False,
                          separators=(",", ":"))
    head = ",".join(rows[0]) if rows else "uuid,direction,created,created_epoch,name,state"
    lines = [head] + [",".join(r.values()) for r in rows]
    return "\n".join(lines) + f"\n\n{len(rows)} total.\n"


@command("global_getvar")
async def global_getvar(core: SwitchCore, args: str) -> str:
    return {"hostname": core.hostname, "core_uuid": core.core_uuid}.get(args.strip(), "")
