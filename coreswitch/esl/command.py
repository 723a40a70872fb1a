"""Building ESL commands so that no argument can ever put a second command on the wire.

An ESL command is a line (``api uuid_kill <uuid>``) followed by optional ``Name: value`` header
lines and a blank line. A CR or LF inside any of those would end the line early and let the rest of
the text be read as another command. Every builder here enforces one of three rules for each
argument:

* **tokens** (UUIDs, application names, event names, header names, variable names) must match a
  strict pattern, otherwise :class:`UnsafeArgumentError`;
* **free text on a command line** (``api`` arguments, a ``sendmsg`` header value) must not contain
  CR, LF or NUL: there is no way to carry them, so they are refused with
  :class:`UnsafeArgumentError`, never silently stripped;
* **free text that may hold newlines** (an ``execute`` application argument: TTS text, a ``set``
  value) travels as the message *body* with ``content-length``, which FreeSWITCH reads byte for
  byte, exactly as the captures show for ``set``.

DTMF strings, channel-variable blocks (``{name='value'}``) and hangup causes have their own
validators. Every argument that can carry caller-controlled text goes through one of these.

A second, FreeSWITCH-side injection exists: the switch expands ``${name}`` in application
arguments, and ``${api(args)}`` runs an API command. Text that comes from a caller or a CRM (TTS
text, a name read back, a file name) must go through :func:`literal` before it is placed in an
application argument.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from coreswitch.esl.errors import UnsafeArgumentError

_TOKEN = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.:@+/-]{0,255}")
_UUID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:@-]{0,127}")
_HEADER_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_-]{0,127}")
_VARIABLE = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]{0,127}")
_DTMF = re.compile(r"[0-9A-Da-d*#wW]{1,128}")
_CAUSE = re.compile(r"[A-Z_]{1,64}|[0-9]{1,3}")
_LINE_BREAKERS = ("\r", "\n", "\0")


def token(value: str, what: str = "argument") -> str:
    if not isinstance(value, str) or not _TOKEN.fullmatch(value):
        raise UnsafeArgumentError(f"{what} {value!r} is not a valid token")
    return value


def uuid(value: str) -> str:
    """A channel or job UUID (FreeSWITCH accepts custom ``origination_uuid`` values too)."""
    if not isinstance(value, str) or not _UUID.fullmatch(value):
        raise UnsafeArgumentError(f"{value!r} is not a valid channel UUID")
    return value


def variable_name(value: str) -> str:
    if not isinstance(value, str) or not _VARIABLE.fullmatch(value):
        raise UnsafeArgumentError(f"{value!r} is not a valid channel variable name")
    return value


def header_name(value: str) -> str:
    if not isinstance(value, str) or not _HEADER_NAME.fullmatch(value):
        raise UnsafeArgumentError(f"{value!r} is not a valid header name")
    return value


def dtmf(value: str) -> str:
    """DTMF digits as ``uuid_send_dtmf`` takes them: 0-9, A-D, ``*``, ``#``, ``w``/``W`` pauses."""
    if not isinstance(value, str) or not _DTMF.fullmatch(value):
        raise UnsafeArgumentError(f"{value!r} is not a DTMF string (0-9 A-D * # w)")
    return value


def hangup_cause(value: str) -> str:
    if not isinstance(value, str) or not _CAUSE.fullmatch(value):
        raise UnsafeArgumentError(f"{value!r} is not a hangup cause")
    return value


def line_text(value: str, what: str = "argument") -> str:
    """Free text that must fit on one command line."""
    if not isinstance(value, str):
        raise UnsafeArgumentError(f"{what} must be text, not {type(value).__name__}")
    for ch in _LINE_BREAKERS:
        if ch in value:
            raise UnsafeArgumentError(
                f"{what} contains {ch!r}, which would end the command line: {value[:60]!r}"
            )
    return value


def literal(text: str) -> str:
    """Protect text from FreeSWITCH's variable expansion in an application argument.

    FreeSWITCH expands an argument when it contains ``${`` or escaped data; while expanding, ``\\$``
    is a literal dollar and ``\\\\`` a literal backslash. Text without ``$`` is never expanded and
    is returned unchanged (escaping it would leave the backslashes visible).
    """
    if "$" not in text:
        return text
    return text.replace("\\", "\\\\").replace("$", "\\$")


def channel_variables(values: Mapping[str, str | int | bool]) -> str:
    """A ``{name=value,...}`` block for ``originate`` and bridge dial strings.

    Values are single-quoted; a quote inside is escaped as ``\\'`` and a comma as ``\\,`` (what
    FreeSWITCH's bracket parser unescapes). Names must be plain variable names; CR/LF are refused,
    and so are ``{`` and ``}``: FreeSWITCH ends the block at the matching brace, quotes or not.
    """
    items = []
    for name, raw in values.items():
        variable_name(name)
        text = ("true" if raw else "false") if isinstance(raw, bool) else str(raw)
        line_text(text, f"channel variable {name}")
        if "{" in text or "}" in text:
            # FreeSWITCH finds the end of the block by counting braces, ignoring quotes.
            raise UnsafeArgumentError(
                f"channel variable {name} contains a brace, which would end the "
                f"{{...}} block: {text[:60]!r}")
        escaped = text.replace("\\", "\\\\").replace("'", "\\'").replace(",", "\\,")
        items.append(f"{name}='{escaped}'")
    return "{" + ",".join(items) + "}" if items else ""


# -- whole commands ------------------------------------------------------------------------------

def simple(line: str) -> bytes:
    """One command line (already validated), terminated as ESL requires."""
    line_text(line, "command")
    return line.encode() + b"\n\n"


def with_headers(line: str, headers: Iterable[tuple[str, str]], body: bytes = b"") -> bytes:
    """A command line, ``Name: value`` headers, and an optional body with ``content-length``."""
    parts = [line_text(line, "command")]
    for name, value in headers:
        parts.append(f"{header_name(name)}: {line_text(value, f'header {name}')}")
    if body:
        parts.append("content-type: text/plain")
        parts.append(f"content-length: {len(body)}")
    return ("\n".join(parts) + "\n\n").encode() + body


def api(command: str, args: str = "") -> bytes:
    token(command, "api command")
    line = f"api {command} {line_text(args, 'api argument')}" if args else f"api {command}"
    return simple(line)


def bgapi(command: str, args: str, job_uuid: str) -> bytes:
    token(command, "api command")
    line = f"bgapi {command} {line_text(args, 'bgapi argument')}" if args else f"bgapi {command}"
    return with_headers(line, [("Job-UUID", uuid(job_uuid))])


def execute(
    channel: str | None,
    app: str,
    arg: str = "",
    *,
    event_uuid: str,
    event_lock: bool = False,
    loops: int = 1,
) -> bytes:
    """``sendmsg`` execute. ``channel`` is None in outbound mode (the socket's own channel).

    An argument with CR or LF (TTS text, a multi-line ``set``), or with leading white space (which
    FreeSWITCH strips from header values), is sent as the body.
    """
    token(app, "application name")
    line = f"sendmsg {uuid(channel)}" if channel else "sendmsg"
    headers = [("call-command", "execute"), ("execute-app-name", app)]
    body = b""
    if arg:
        if arg[0] in " \t" or any(ch in arg for ch in _LINE_BREAKERS):
            if "\0" in arg:
                raise UnsafeArgumentError(f"argument of {app} contains NUL")
            body = arg.encode()
        else:
            headers.append(("execute-app-arg", arg))
    if loops != 1:
        headers.append(("loops", str(int(loops))))
    if event_lock:
        headers.append(("event-lock", "true"))
    headers.append(("Event-UUID", uuid(event_uuid)))
    return with_headers(line, headers, body)


def hangup(channel: str | None, cause: str = "NORMAL_CLEARING") -> bytes:
    line = f"sendmsg {uuid(channel)}" if channel else "sendmsg"
    return with_headers(line, [("call-command", "hangup"), ("hangup-cause", hangup_cause(cause))])


def event_subscription(fmt: str, names: Iterable[str]) -> bytes:
    if fmt not in ("plain", "json", "xml"):
        raise UnsafeArgumentError(f"event format must be plain, json or xml, not {fmt!r}")
    words = [token(n, "event name") for n in names] or ["ALL"]
    return simple(f"event {fmt} {' '.join(words)}")


def filter_command(header: str, value: str, *, delete: bool = False) -> bytes:
    verb = "filter delete" if delete else "filter"
    if not value:
        raise UnsafeArgumentError("filter value must not be empty")
    return simple(f"{verb} {header_name(header)} {line_text(value, 'filter value')}")
