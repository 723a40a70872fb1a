"""The verb schema table: one entry per statement verb, giving its parameters and routes.

Built-in verbs and plugin-provided verbs (``Environment.verbs``) are described the same way,
so they are parsed, checked and reported identically.
"""

from __future__ import annotations

from dataclasses import dataclass

from dsl import types as T

# Parameter kinds
EXPR = "expr"  # a typed expression
NAME = "name"  # a bare identifier (queue name, channel)
VAR = "var"  # a variable the verb binds (declared implicitly if new)
MEDIA = "media"  # a prompt name, or a string naming an audio file
PROMPT = "prompt"  # a prompt name, or a text expression spoken by TTS
LANG = "lang"  # a declared language
FIELDS = "fields"  # repeated ``field NAME = expr`` lines


@dataclass(frozen=True, slots=True)
class ParamSpec:
    name: str
    type: T.Type = T.ANY
    kind: str = EXPR
    required: bool = False
    positional: bool = False
    repeated: bool = False
    doc: str = ""


@dataclass(frozen=True, slots=True)
class RouteSpec:
    name: str
    required: bool = False
    terminal: bool = False  # must the route leave the state (a target or a body that jumps)?
    doc: str = ""


@dataclass(frozen=True, slots=True)
class VerbSchema:
    name: str
    params: tuple[ParamSpec, ...] = ()
    routes: tuple[RouteSpec, ...] = ()
    terminal: bool = False  # control never continues to the next statement
    waits_for_caller: bool = False
    binds: T.Type | None = None  # type of the VAR parameter, when there is one
    doc: str = ""
    provider: str = "core"

    def param(self, name: str) -> ParamSpec | None:
        for p in self.params:
            if p.name == name:
                return p
        return None

    def route(self, name: str) -> RouteSpec | None:
        for r in self.routes:
            if r.name == name:
                return r
        return None

    @property
    def positional(self) -> tuple[ParamSpec, ...]:
        return tuple(p for p in self.params if p.positional)


P = ParamSpec
R = RouteSpec

BUILTIN_VERBS: dict[str, VerbSchema] = {
    v.name: v
    for v in (
        VerbSchema("say", (
            P("text", T.TEXT, required=True, positional=True, doc="text to speak (TTS)"),
            P("lang", kind=LANG, doc="language of the text (default: the call's language)"),
            P("barge", T.BOOL, doc="may the caller interrupt by pressing a key (default true)"),
        ), doc="Speak text with text-to-speech. `{expr as money}` placeholders use say-as rules."),
        VerbSchema("play", (
            P("prompt", kind=MEDIA, required=True, positional=True,
              doc="a prompt from the catalogue, or an audio file path as a string"),
            P("barge", T.BOOL, doc="may the caller interrupt (default true)"),
        ), doc="Play a catalogue prompt (in the call's language) or an audio file."),
        VerbSchema("language", (
            P("lang", kind=LANG, required=True, positional=True, doc="a declared language"),
        ), doc="Switch the call's language; later prompts use that variant."),
        VerbSchema("hangup", (
            P("cause", T.TEXT, positional=True, doc="a FreeSWITCH hangup cause"),
        ), terminal=True, doc="End the call with a cause (default NORMAL_CLEARING)."),
        VerbSchema("transfer", (
            P("to", T.TEXT, required=True, positional=True,
              doc="number or extension (dialled through `[switch] transfer_dial`; a dial "
                  "string is refused)"),
            P("caller_id", T.TEXT, doc="number shown to the called party"),
            P("timeout", T.DURATION, doc="ring time before giving up (default 30s)"),
        ), (R("failure", required=True, terminal=True,
              doc="busy, no answer or invalid number"),),
            terminal=True, doc="Hand the call to another number; the flow ends when bridged."),
        VerbSchema("queue", (
            P("queue", kind=NAME, required=True, positional=True, doc="ACD queue name"),
            P("priority", T.INT, doc="higher is served first (VIP green channel 100)"),
            P("skills", T.list_of(T.TEXT), doc="skills the agent needs"),
            P("max_wait", T.DURATION, required=True, doc="longest wait before overflow"),
            P("hold_music", kind=MEDIA, doc="played while waiting (default: the queue's)"),
            P("announce", kind=PROMPT, doc="played every announce_every"),
            P("announce_every", T.DURATION, doc="interval of announcements (default 60s)"),
            P("announce_position", T.BOOL, doc="also say the position and estimated wait"),
            P("callback_after", T.DURATION, doc="offer a callback after this wait"),
            P("callback_prompt", kind=PROMPT,
              doc="the offer (default: 如需预约回电请按1)"),
            P("callback_key", T.TEXT, doc="key that accepts the callback offer (default 1)"),
            P("exit_key", T.TEXT, doc="key that leaves the queue at any time (route exit)"),
        ), (R("overflow", terminal=True,
              doc="max wait reached or no agents, when `timeout`/`no_agents` are not given"),
            R("timeout", terminal=True, doc="max wait reached (after any overflow queue)"),
            R("no_agents", terminal=True,
              doc="no agent logged in: refused on joining, or left empty while waiting"),
            R("callback", terminal=True,
              doc="caller accepted the callback offer and keeps the place in the queue"),
            R("exit", terminal=True, doc="caller pressed the exit key"),
            R("answered", terminal=True,
              doc="agent hung up first; caller still on the line (e.g. a survey)"),
            R("after", terminal=True, doc="older name of `answered`"),
            R("abandoned", terminal=True,
              doc="caller hung up while waiting: only steps without media run "
                  "(work_order, sms, notify, set)")),
            terminal=True, waits_for_caller=True,
            doc="Put the caller in an ACD queue until an agent answers."),
        VerbSchema("record", (
            P("into", kind=VAR, required=True, positional=True,
              doc="variable receiving the recording's file name"),
            P("max", T.DURATION, doc="longest recording (default 2m)"),
            P("silence", T.DURATION, doc="stop after this much silence (default 5s)"),
            P("beep", T.BOOL, doc="beep before recording (default true)"),
            P("terminator", T.TEXT, doc="key that stops recording (default #)"),
            P("prompt", kind=PROMPT, doc="played before the beep"),
        ), waits_for_caller=True, binds=T.TEXT,
            doc="Record the caller; the variable receives the recording's file name."),
        VerbSchema("voicemail", (
            P("box", T.TEXT, required=True, positional=True, doc="voicemail box"),
            P("max", T.DURATION, doc="longest message (default 2m)"),
            P("prompt", kind=PROMPT, doc="played before the beep"),
            P("beep", T.BOOL, doc="beep before recording (default true)"),
        ), waits_for_caller=True, doc="Take a voicemail message (语音留言) into a box."),
        VerbSchema("work_order", (
            P("type", T.TEXT, required=True, positional=True,
              doc="order type, e.g. 故障报修"),
            P("department", T.TEXT, doc="department the order is dispatched to (派单)"),
            P("priority", T.TEXT, doc="e.g. 普通, 紧急, 保密"),
            P("field", kind=FIELDS, repeated=True, doc="`field NAME = expr` lines"),
            P("into", kind=VAR, doc="variable receiving the order number"),
        ), (R("failure", required=True, doc="the order could not be created"),),
            binds=T.TEXT, doc="Create a work order (工单) with fields."),
        VerbSchema("sms", (
            P("to", T.TEXT, required=True, positional=True, doc="mobile number"),
            P("text", T.TEXT, required=True, positional=True, doc="message text"),
        ), (R("failure", doc="the SMS gateway refused it"),), doc="Send an SMS."),
        VerbSchema("notify", (
            P("channel", kind=NAME, required=True, positional=True, doc="wechat, email …"),
            P("to", T.TEXT, required=True, doc="recipient on that channel"),
            P("text", T.TEXT, required=True, doc="message text"),
        ), (R("failure", doc="the channel refused it"),),
            doc="Send a notification on another channel."),
    )
}

MENU_OPTIONS: dict[str, ParamSpec] = {p.name: p for p in (
    P("prompt", kind=PROMPT, required=True, doc="greeting played first (greet-long)"),
    P("short", kind=PROMPT, doc="played on each retry instead of prompt (greet-short)"),
    P("timeout", T.DURATION, doc="wait for the first key after the prompt (default 5s)"),
    P("inter_digit", T.DURATION, doc="wait between keys of a multi-key choice (default 2s)"),
    P("digits", T.INT, doc="longest key sequence (default: longest key)"),
    P("tries", T.INT, doc="failed attempts before maxtries (default 3)"),
    P("barge", T.BOOL, doc="keys interrupt the prompt (default true)"),
)}

COLLECT_OPTIONS: dict[str, ParamSpec] = {p.name: p for p in (
    P("prompt", kind=PROMPT, required=True, doc="played first"),
    P("short", kind=PROMPT, doc="played on retries instead of prompt"),
    P("first_digit", T.DURATION, doc="wait for the first key after the prompt (default 5s)"),
    P("inter_digit", T.DURATION, doc="wait between keys (default 3s)"),
    P("terminator", T.TEXT, doc="key that ends input early (default #)"),
    P("length", T.INT, doc="exact number of digits"),
    P("min", T.INT, doc="fewest digits (default 1)"),
    P("max", T.INT, doc="most digits (default 20)"),
    P("pattern", T.TEXT, doc="regular expression the whole input must match"),
    P("tries", T.INT, doc="failed attempts before maxtries (default 3)"),
    P("sensitive", T.BOOL, doc="never log, speak or send the value"),
    P("barge", T.BOOL, doc="the first key interrupts the prompt (default true)"),
    P("valid", T.BOOL, doc="extra validity condition on the value (an expression)"),
)}

INPUT_HANDLERS = ("noinput", "nomatch", "maxtries")

HANGUP_CAUSES = frozenset({
    "NORMAL_CLEARING", "USER_BUSY", "NO_ANSWER", "CALL_REJECTED", "UNALLOCATED_NUMBER",
    "NORMAL_TEMPORARY_FAILURE", "SERVICE_UNAVAILABLE", "ORIGINATOR_CANCEL",
    "NO_USER_RESPONSE", "RECOVERY_ON_TIMER_EXPIRE", "MEDIA_TIMEOUT", "ALLOTTED_TIMEOUT",
    "DESTINATION_OUT_OF_ORDER", "NORMAL_UNSPECIFIED", "SUBSCRIBER_ABSENT",
})
