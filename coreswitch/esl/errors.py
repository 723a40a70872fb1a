"""Exceptions raised by the Event Socket layer.

::

    ESLError                      base of everything below
    ├── ProtocolError             the peer sent bytes that are not ESL (bad header line, bad
    │                             Content-Length, oversized frame, undecodable event body)
    ├── CommandError              a command got a ``-ERR`` reply (``api``, ``bgapi``, ``sendmsg``)
    ├── UnsafeArgumentError       a command argument could smuggle a second command onto the wire
    │                             (CR, LF or NUL where the protocol has no way to carry it) or
    │                             does not match the shape FreeSWITCH expects (UUID, DTMF …)
    ├── AuthenticationError       the switch refused our password: permanent, never retried
    ├── AccessDenied              the switch sent ``text/rude-rejection`` (ACL): permanent
    └── ConnectionLost            the connection closed; in-flight commands fail with this
        └── ChannelGone           the channel hung up (or vanished in a reconnect) before an
            │                     ``execute`` completed, or was already destroyed
            └── ChannelGoneRefused  (also a CommandError) the switch refused a command for a
                                  channel it has destroyed: ``reply`` holds its answer

``ValueError`` is also a base of ``ProtocolError`` and ``UnsafeArgumentError`` so generic callers
that validate input can catch them as such.
"""

from __future__ import annotations


class ESLError(Exception):
    """Base class of every Event Socket error."""


class ProtocolError(ESLError, ValueError):
    """The bytes received do not follow the Event Socket framing or event formats."""


class CommandError(ESLError):
    """FreeSWITCH answered a command with ``-ERR``.

    ``reply`` holds the full reply text, e.g. ``-ERR nosuchcommand Command not found!``.
    """

    def __init__(self, command: str, reply: str) -> None:
        super().__init__(f"{command!r} failed: {reply.strip()}")
        self.command = command
        self.reply = reply


class UnsafeArgumentError(ESLError, ValueError):
    """An argument would break the command line it is written into."""


class AuthenticationError(ESLError):
    """The switch rejected the ESL password. Retrying cannot help."""


class AccessDenied(ESLError):
    """The switch's ACL rejected this connection (``text/rude-rejection``)."""


class ConnectionLost(ESLError):
    """The ESL connection closed while something was still waiting on it."""


class ChannelGone(ConnectionLost):
    """The channel hung up or disappeared before the awaited ``execute`` completed.

    ``cause`` is the hangup cause when FreeSWITCH told us one (``NORMAL_CLEARING`` …).
    """

    def __init__(self, uuid: str, cause: str | None = None, detail: str = "") -> None:
        super().__init__(_gone_text(uuid, cause, detail))
        self.uuid = uuid
        self.cause = cause


class ChannelGoneRefused(ChannelGone, CommandError):
    """The switch answered ``-ERR`` to a command for a channel it has already destroyed.

    Both a :class:`ChannelGone` (what happened) and a :class:`CommandError` (what the switch
    said, in ``reply``, e.g. ``-ERR invalid session id [<uuid>]``).
    """

    def __init__(self, uuid: str, cause: str | None, command: str, reply: str,
                 detail: str = "") -> None:
        ESLError.__init__(self, _gone_text(uuid, cause, detail) + f" ({reply.strip()})")
        self.uuid = uuid
        self.cause = cause
        self.command = command
        self.reply = reply


def _gone_text(uuid: str, cause: str | None, detail: str) -> str:
    text = f"channel {uuid} is gone"
    if cause:
        text += f" ({cause})"
    if detail:
        text += f": {detail}"
    return text
