"""FreeSWITCH's Event Socket protocol, as mod_event_socket speaks it.

Layers, bottom up (one module each):

* :mod:`~coreswitch.esl.frame` — outer framing: headers, ``Content-Length``, body bytes;
* :mod:`~coreswitch.esl.event` — ``text/event-plain`` / ``text/event-json`` decoding and encoding;
* :mod:`~coreswitch.esl.command` — command builders that refuse injection;
* :mod:`~coreswitch.esl.connection` — the asyncio protocol and the reply FIFO;
* :mod:`~coreswitch.esl.dispatch` — per-channel ordered, bounded event delivery;
* :mod:`~coreswitch.esl.peer` — ``api``/``bgapi``/``execute`` and their completions;
* :mod:`~coreswitch.esl.inbound` — the inbound client with reconnect and reconciliation;
* :mod:`~coreswitch.esl.outbound` — the outbound (per-call) socket server.
"""

from coreswitch.esl.errors import (
    AccessDenied,
    AuthenticationError,
    ChannelGone,
    CommandError,
    ConnectionLost,
    ESLError,
    ProtocolError,
    UnsafeArgumentError,
)
from coreswitch.esl.event import Event
from coreswitch.esl.frame import Frame, FrameParser
from coreswitch.esl.inbound import Backoff, InboundClient, Reconciliation
from coreswitch.esl.names import ContentType, EventName
from coreswitch.esl.outbound import OutboundServer, OutboundSession

__all__ = [
    "AccessDenied",
    "AuthenticationError",
    "Backoff",
    "ChannelGone",
    "CommandError",
    "ConnectionLost",
    "ContentType",
    "ESLError",
    "Event",
    "EventName",
    "Frame",
    "FrameParser",
    "InboundClient",
    "OutboundServer",
    "OutboundSession",
    "ProtocolError",
    "Reconciliation",
    "UnsafeArgumentError",
]
