"""The simulated switch answers the captured client, byte stream for byte stream, like FreeSWITCH.

``inbound-plain.transcript.jsonl`` holds everything a client sent to a real FreeSWITCH 1.10.12.
These tests send the same bytes to the simulated switch (UUIDs mapped to the simulator's) and
compare what comes back with ``inbound-plain.recv``:

* the replies, frame by frame;
* per channel, the sequence of events;
* for every event, all header names (channel variables included) in their order;
* for every event, the header values — except what differs between any two runs: times and
  durations, ``Core-UUID``/host fields, ``Event-Sequence``, channel UUIDs (mapped) and the
  ``Application-UUID`` FreeSWITCH generates for dialplan applications.

Documented difference: no ``log/data`` frames after ``log 7`` (replies to ``log``/``nolog`` are
as captured). Every event type of the capture, ``CODEC`` included, is reproduced.
"""

from __future__ import annotations

import asyncio
from collections import Counter

from coreswitch.esl import Event, Frame, FrameParser, InboundClient
from coreswitch.switch.sim import SimSwitch
from coreswitch.switch.sim.wire import SimEvent

from .captures import frames, load_prefix, plain_pairs, sent_commands

A_LEG = "6eec9cfc-5b72-42c7-acdb-65ed83db1bd7"
B_LEG = "74551285-08c7-44d9-9822-df2a0925bf99"
NOT_SIMULATED: set[str] = set()


class Replayer:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.parser = FrameParser()
        self.frames: list[Frame] = []
        self.uuids: dict[str, str] = {}
        self.start = 0

    async def until(self, test: object, seen: int = 0) -> Frame:
        """The first frame from index ``seen`` on that passes ``test`` (reading as needed)."""
        assert callable(test)
        while True:
            for frame in self.frames[seen:]:
                if test(frame):
                    return frame
            seen = len(self.frames)
            data = await asyncio.wait_for(self.reader.read(65536), 10)
            if not data:
                raise EOFError("the switch closed the connection")
            self.frames.extend(self.parser.feed(data))

    def replies(self) -> int:
        return sum(1 for f in self.frames if f.content_type in ("command/reply", "api/response"))

    async def send(self, text: str) -> None:
        for real, sim in self.uuids.items():
            text = text.replace(real, sim)
        before = self.replies()
        self.start = len(self.frames)
        self.writer.write(text.encode())
        if text.startswith("exit"):
            while data := await self.reader.read(65536):
                self.frames.extend(self.parser.feed(data))
            return
        reply = await self.until(lambda f: f.content_type in ("command/reply", "api/response")
                                 and self.replies() > before, self.start)
        await self._follow(text, reply)

    async def _follow(self, text: str, reply: Frame) -> None:
        if text.startswith("bgapi originate"):
            job = await self.until(lambda f: b"BACKGROUND_JOB" in f.body[:40], self.start)
            self.uuids[A_LEG] = Event.from_plain(job.body).body.split()[1]  # type: ignore[union-attr]
        elif "other_loopback_leg_uuid" in text:
            self.uuids[B_LEG] = reply.body.decode()
        elif "Event-UUID: " in text:
            app_uuid = text.split("Event-UUID: ")[1].split("\n", maxsplit=1)[0]
            if "play_and_get_digits" in text:  # the real client injected DTMF after the prompt
                await self.until(lambda f: b"PLAYBACK_STOP" in f.body[:40], self.start)
            else:
                await self.until(lambda f: b"CHANNEL_EXECUTE_COMPLETE" in f.body[:40]
                                 and f"Application-UUID: {app_uuid}".encode() in f.body,
                                 self.start)
        elif "execute-app-name: set" in text:
            await self.until(lambda f: b"CHANNEL_EXECUTE_COMPLETE" in f.body[:40]
                             and b"Application: set" in f.body, self.start)
        elif "call-command: hangup" in text:
            await self.until(lambda f: sum(b"Channel-State: CS_DESTROY" in g.body
                                           for g in self.frames) == 2, self.start)
        elif "uuid_recv_dtmf" in text:
            await self.until(lambda f: b"Application: play_and_get_digits" in f.body
                             and b"CHANNEL_EXECUTE_COMPLETE" in f.body[:40], self.start)


async def replay(switch: SimSwitch) -> Replayer:
    switch.route("9201", ("answer", ""), ("park", ""))
    reader, writer = await asyncio.open_connection(switch.host, switch.port)
    player = Replayer(reader, writer)
    await player.until(lambda f: f.content_type == "auth/request")
    for text in sent_commands("inbound-plain.transcript.jsonl"):
        await player.send(text)
    writer.close()
    return player


def _key(frame: Frame, counts: Counter[tuple[str, str, str]]) -> tuple[str, str, str, int]:
    event = Event.from_plain(frame.body)
    channel = event.get("Channel-Name", "")
    k = (event.name, channel, event.get("Application", ""))
    counts[k] += 1
    return (*k, counts[k])


def _names(frame: Frame) -> list[str]:
    return [n for n, _ in plain_pairs(frame.body)]


_RUN_SPECIFIC = ("Core-UUID", "FreeSWITCH-", "Event-Date-", "Event-Sequence", "Application-UUID")
_TIMES = ("epoch", "stamp", "-Time", "sec", "duration", "-Last-Hold", "-Hold-Accum")


def _comparable(name: str) -> bool:
    return not name.startswith(_RUN_SPECIFIC) and not any(t in name for t in _TIMES)


def _plain_events(frames_: list[Frame] | tuple[Frame, ...]) -> list[Frame]:
    return [f for f in frames_ if f.content_type == "text/event-plain"]


async def test_replies_match_the_capture(switch: SimSwitch) -> None:
    player = await replay(switch)
    mapping = {v: k for k, v in player.uuids.items()}

    def reply(frame: Frame) -> tuple[str, str]:
        text = frame.headers.get("Reply-Text") or frame.body.decode()
        for sim, real in mapping.items():
            text = text.replace(sim, real)
        if "Job-UUID" in text:
            text = text.split(":")[0]
        if text.startswith("UP "):
            text = text.split("\n", 1)[1].split("\n", 1)[0]
        if text.startswith('{"row_count":2'):
            text = "two rows"
        return frame.content_type, text

    kinds = ("command/reply", "api/response", "text/disconnect-notice", "auth/request")
    ours = [reply(f) for f in player.frames if f.content_type in kinds]
    theirs = [reply(f) for f in frames("inbound-plain.recv") if f.content_type in kinds]
    assert ours == theirs


async def test_event_sequences_per_channel_match_the_capture(switch: SimSwitch) -> None:
    player = await replay(switch)

    def per_channel(fs: list[Frame] | tuple[Frame, ...], names: dict[str, str]) -> dict[
            str, list[str]]:
        out: dict[str, list[str]] = {}
        for frame in _plain_events(fs):
            event = Event.from_plain(frame.body)
            if event.uuid and event.name not in NOT_SIMULATED:
                out.setdefault(names.get(event.uuid, event.uuid), []).append(event.name)
        return out

    ours = per_channel(player.frames, {v: k for k, v in player.uuids.items()})
    theirs = per_channel(frames("inbound-plain.recv"), {})
    assert ours[B_LEG] == theirs[B_LEG]
    assert ours[A_LEG] == theirs[A_LEG]


async def test_every_event_has_the_captured_header_shape(switch: SimSwitch) -> None:
    player = await replay(switch)
    counts: Counter[tuple[str, str, str]] = Counter()
    ours = {_key(f, counts): _names(f) for f in _plain_events(player.frames)}
    counts.clear()
    compared: set[str] = set()
    for frame in _plain_events(frames("inbound-plain.recv")):
        key = _key(frame, counts)
        if key[0] in NOT_SIMULATED:
            assert key not in ours
            continue
        assert key in ours, f"the simulator did not fire {key}"
        assert ours[key] == _names(frame), f"header names of {key}"
        compared.add(key[0])
    assert compared >= {
        "API", "BACKGROUND_JOB", "CHANNEL_OUTGOING", "CHANNEL_STATE", "CHANNEL_CREATE",
        "CHANNEL_ORIGINATE", "CHANNEL_CALLSTATE", "CHANNEL_EXECUTE", "CHANNEL_ANSWER",
        "CHANNEL_EXECUTE_COMPLETE", "CHANNEL_PARK", "PLAYBACK_START", "PLAYBACK_STOP",
        "PRIVATE_COMMAND", "DTMF", "CHANNEL_HANGUP", "CHANNEL_UNPARK",
        "CHANNEL_HANGUP_COMPLETE", "CHANNEL_DESTROY"}


async def test_variables_of_the_completed_prompt_match(switch: SimSwitch) -> None:
    """The variables a controller reads from EXECUTE_COMPLETE come in FreeSWITCH's order."""
    player = await replay(switch)

    def tail(fs: list[Frame] | tuple[Frame, ...]) -> list[tuple[str, str]]:
        done = next(f for f in _plain_events(fs) if b"CHANNEL_EXECUTE_COMPLETE" in f.body[:40]
                    and b"Application: play_and_get_digits" in f.body)
        pairs = [(n, v) for n, v in plain_pairs(done.body) if n.startswith("variable_")]
        start = [n for n, _ in pairs].index("variable_current_loop")
        return pairs[start:]

    assert tail(player.frames) == tail(frames("inbound-plain.recv"))


async def test_every_event_has_the_captured_values(switch: SimSwitch) -> None:
    player = await replay(switch)
    mapping = {v: k for k, v in player.uuids.items()}
    counts: Counter[tuple[str, str, str]] = Counter()
    ours = {_key(f, counts): Event.from_plain(f.body) for f in _plain_events(player.frames)}
    counts.clear()
    checked = 0
    for frame in _plain_events(frames("inbound-plain.recv")):
        key = _key(frame, counts)
        if key[0] in NOT_SIMULATED:
            continue
        real, sim = Event.from_plain(frame.body), ours[key]
        for name, value in real.headers.items():
            if not _comparable(name):
                continue
            got = sim[name]
            for sim_uuid, real_uuid in mapping.items():
                got = got.replace(sim_uuid, real_uuid)
            assert got == value, f"{name} of {key}"
            checked += 1
    assert checked > 3000


async def test_a_load_corpus_call_is_reproduced(switch: SimSwitch) -> None:
    """The first call of load-plain (originate loopback/9206 &park; 9206 answers, plays a WAV and
    hangs up): both legs' events, header names in order and values, as the real switch's."""
    prompt = "/work/fs/sounds/esltest/prompt.wav"
    switch.route("9206", ("answer", ""), ("playback", prompt), ("hangup", ""))
    switch.core.media.files[prompt] = 1.5  # the real prompt.wav: 12000 samples at 8 kHz
    real = [Event.from_plain(f.body) for f in load_prefix()
            if f.content_type == "text/event-plain"]
    job = next(e for e in real if e.name == "BACKGROUND_JOB")
    a_real = (job.body or "").split()[1]
    b_real = next(e for e in real if e.uuid == a_real and e.name == "CHANNEL_CREATE").variable(
        "other_loopback_leg_uuid")
    seen: list[Event] = []
    both_gone = asyncio.Event()

    def watch(event: SimEvent) -> None:
        seen.append(event.event)
        destroyed = [e for e in seen if e.name == "CHANNEL_STATE"
                     and e["Channel-State"] == "CS_DESTROY"]
        if len(destroyed) == 2:
            both_gone.set()

    stop = switch.observe(watch)
    client = InboundClient(port=switch.port, connect_timeout=5.0)
    await client.start()
    try:
        result = await client.bgapi(job["Job-Command"], job["Job-Command-Arg"])
        a_sim = result.split()[1]
        await both_gone.wait()
    finally:
        stop()
        await client.close()
    b_sim = next(e for e in seen if e.uuid == a_sim and e.name == "CHANNEL_CREATE").variable(
        "other_loopback_leg_uuid")
    assert b_sim is not None
    mapping = {a_sim: a_real, b_sim: b_real}
    for sim_uuid, real_uuid in mapping.items():
        ours = [e for e in seen if e.uuid == sim_uuid and e.name not in NOT_SIMULATED]
        theirs = [e for e in real if e.uuid == real_uuid and e.name not in NOT_SIMULATED]
        assert [e.name for e in ours] == [e.name for e in theirs]
        for sim, ref in zip(ours, theirs, strict=True):
            assert list(sim.headers) == list(ref.headers), sim.name
            for name, value in ref.headers.items():
                if not _comparable(name) or name == "variable_session_id":
                    continue
                got = sim[name]
                for s_uuid, r_uuid in mapping.items():
                    got = got.replace(s_uuid, r_uuid)
                assert got == value, (sim.name, name)
