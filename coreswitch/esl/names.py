"""Names the Event Socket protocol uses: frame content types and event names."""

from __future__ import annotations

from enum import StrEnum


class ContentType(StrEnum):
    """Values of the outer ``Content-Type`` header of a frame."""

    AUTH_REQUEST = "auth/request"
    COMMAND_REPLY = "command/reply"
    API_RESPONSE = "api/response"
    EVENT_PLAIN = "text/event-plain"
    EVENT_JSON = "text/event-json"
    EVENT_XML = "text/event-xml"
    LOG_DATA = "log/data"
    DISCONNECT_NOTICE = "text/disconnect-notice"
    RUDE_REJECTION = "text/rude-rejection"


EVENT_CONTENT_TYPES = frozenset(
    {ContentType.EVENT_PLAIN, ContentType.EVENT_JSON, ContentType.EVENT_XML}
)


class EventName(StrEnum):
    """The FreeSWITCH event names coreswitch uses (``Event-Name`` header)."""

    ALL = "ALL"
    API = "API"
    BACKGROUND_JOB = "BACKGROUND_JOB"
    CALL_UPDATE = "CALL_UPDATE"
    CHANNEL_ANSWER = "CHANNEL_ANSWER"
    CHANNEL_BRIDGE = "CHANNEL_BRIDGE"
    CHANNEL_CALLSTATE = "CHANNEL_CALLSTATE"
    CHANNEL_CREATE = "CHANNEL_CREATE"
    CHANNEL_DATA = "CHANNEL_DATA"
    CHANNEL_DESTROY = "CHANNEL_DESTROY"
    CHANNEL_EXECUTE = "CHANNEL_EXECUTE"
    CHANNEL_EXECUTE_COMPLETE = "CHANNEL_EXECUTE_COMPLETE"
    CHANNEL_HANGUP = "CHANNEL_HANGUP"
    CHANNEL_HANGUP_COMPLETE = "CHANNEL_HANGUP_COMPLETE"
    CHANNEL_ORIGINATE = "CHANNEL_ORIGINATE"
    CHANNEL_OUTGOING = "CHANNEL_OUTGOING"
    CHANNEL_PARK = "CHANNEL_PARK"
    CHANNEL_PROGRESS = "CHANNEL_PROGRESS"
    CHANNEL_PROGRESS_MEDIA = "CHANNEL_PROGRESS_MEDIA"
    CHANNEL_STATE = "CHANNEL_STATE"
    CHANNEL_UNBRIDGE = "CHANNEL_UNBRIDGE"
    CHANNEL_UNPARK = "CHANNEL_UNPARK"
    CODEC = "CODEC"
    CUSTOM = "CUSTOM"
    DTMF = "DTMF"
    HEARTBEAT = "HEARTBEAT"
    PLAYBACK_START = "PLAYBACK_START"
    PLAYBACK_STOP = "PLAYBACK_STOP"
    PRIVATE_COMMAND = "PRIVATE_COMMAND"
    RECORD_START = "RECORD_START"
    RECORD_STOP = "RECORD_STOP"
    RE_SCHEDULE = "RE_SCHEDULE"


#: The events ``myevents`` subscribes an outbound socket to (mod_event_socket.c, 1.10), all for
#: the socket's own channel only. ``nixevent`` takes some of them out again.
MYEVENTS = frozenset({
    "CHANNEL_ANSWER", "CHANNEL_APPLICATION", "CHANNEL_BRIDGE", "CHANNEL_CREATE", "CHANNEL_DATA",
    "CHANNEL_DESTROY", "CHANNEL_EXECUTE", "CHANNEL_EXECUTE_COMPLETE", "CHANNEL_HANGUP",
    "CHANNEL_HANGUP_COMPLETE", "CHANNEL_ORIGINATE", "CHANNEL_UUID", "CHANNEL_OUTGOING",
    "CHANNEL_PARK", "CHANNEL_PROGRESS", "CHANNEL_PROGRESS_MEDIA", "CHANNEL_STATE",
    "CHANNEL_UNBRIDGE", "CHANNEL_UNPARK", "DETECTED_SPEECH", "DTMF", "NOTALK", "TALK",
})
