"""Calls in service: CallService over the outbound socket, the flow registry and hot reload.

Each test runs the simulated switch in-process (outbound socket over an in-memory pipe) on the
virtual-time loop, with a real SQLite database: the same objects `coreswitch serve` wires up.
"""

from __future__ import annotations

import asyncio
import wave
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import select

from coreswitch.esl.outbound import OutboundServer
from coreswitch.flows import FlowRegistry, LocalNotifier, PublishStatus
from coreswitch.media.cache import TtsCache
from coreswitch.media.engine import Voice
from coreswitch.runtime.functions import FunctionRegistry
from coreswitch.runtime.interpreter import Deps
from coreswitch.runtime.prompts import TtsRenderer, VirtualRenderer
from coreswitch.runtime.service import CallRecorder, CallService, EndedCall
from coreswitch.runtime.services import LocalServices
from coreswitch.runtime.virtual_time import run
from coreswitch.store import Database
from coreswitch.store.calls import CallRecord
from coreswitch.switch.sim import SimSwitch
from dsl import Environment

FLOW = """\
flow hotline:
  dnis "95598"
  start hello
  max_duration 10m -> bye

setting company: text = "国网"

state hello:
  say "{greeting}欢迎致电{company}。"
  menu:
    prompt "查询请按1。"
    timeout 5s
    key 1 -> bye
    noinput: say "没有听到按键。"
    nomatch: say "输入有误。"
    maxtries -> bye

state bye:
  say "再见。"
  hangup
"""


def version(greeting: str) -> str:
    return FLOW.replace("{greeting}", greeting)


class WavEngine:
    """A speech engine that writes short silent WAVs and counts what it was asked to say."""

    name = "test-wav"

    def __init__(self) -> None:
        self.texts: list[str] = []

    def voices(self) -> Sequence[Voice]:
        return []

    def render(self, text: str, voice: str, rate: int, path: Path, fmt: str) -> None:
        self.texts.append(text)
        with wave.open(str(path), "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(8000)
            w.writeframes(b"\0\0" * 800)


async def _setup(tmp_path: Path, *, prerender: Any = None
                 ) -> tuple[Database, FlowRegistry, SimSwitch, OutboundServer, CallService,
                            list[EndedCall]]:
    db = Database(f"sqlite:///{tmp_path / 'cs.db'}")
    await db.upgrade()
    registry = FlowRegistry(db, Environment, LocalNotifier(), prerender)
    sw = SimSwitch(port=0)
    ended: list[EndedCall] = []
    deps = Deps(FunctionRegistry(), LocalServices(),
                VirtualRenderer(sw.core.media.files.__setitem__))
    service = CallService(registry, deps, CallRecorder(db), on_end=ended.append)
    server = OutboundServer(service, port=0, linger=1)
    sw.attach_socket("coreswitch", server._accept)
    return db, registry, sw, server, service, ended


def _said(call: EndedCall) -> list[str]:
    return [e["text"] for e in call.transcript if e["event"] == "prompt"]


def test_a_publish_during_a_call_leaves_it_on_its_version(tmp_path: Path) -> None:
    async def scenario() -> tuple[list[EndedCall], list[str], dict[str, str]]:
        db, registry, sw, server, service, ended = await _setup(tmp_path)
        first = await registry.publish("hotline", version("您好，"), "ops")
        assert first.status is PublishStatus.PUBLISHED
        # call 1 sits in the menu (silent caller) while version 2 goes live
        call1 = await sw.place_call("13800000001", "95598", socket="memory:coreswitch")
        await call1.prompt(2)  # the menu prompt has started
        second = await registry.publish("hotline", version("早上好，"), "ops")
        assert second.status is PublishStatus.PUBLISHED
        bad = await registry.publish("hotline", version("坏的，").replace("-> bye", "-> nowhere"),
                                     "ops")
        assert bad.status is PublishStatus.REFUSED
        call2 = await sw.place_call("13800000002", "95598", socket="memory:coreswitch",
                                    caller="press 1 on prompt 2 after 0.5")
        await call1.ended()
        await call2.ended()
        await server.close()
        assert service.recorder is not None
        await service.recorder.close()
        hashes = await db.run(lambda s: {r.ani: r.flow_hash or "" for r in
                                         s.scalars(select(CallRecord))})
        await sw.stop()
        registry.close()
        await db.close()
        return ended, [first.content_hash or "", second.content_hash or ""], hashes

    ended, (v1, v2), hashes = run(scenario())
    by_ani = {c.ani: c for c in ended}
    one, two = by_ani["13800000001"], by_ani["13800000002"]
    assert _said(one)[0] == "您好，欢迎致电国网。"
    assert all("早上好" not in text for text in _said(one))  # never a mixed call
    assert _said(two)[0] == "早上好，欢迎致电国网。"
    assert (one.flow_hash, two.flow_hash) == (v1, v2)
    assert hashes == {"13800000001": v1, "13800000002": v2}  # the call records say so too
    assert one.transcript[0]["version"] == 1
    assert two.transcript[0]["version"] == 2


def test_a_number_no_flow_serves_goes_back_to_the_dialplan(tmp_path: Path) -> None:
    async def scenario() -> tuple[list[EndedCall], str | None, list[str]]:
        db, registry, sw, server, _service, ended = await _setup(tmp_path)
        await registry.publish("hotline", version(""), "ops")
        call = await sw.place_call("13800000001", "12345", socket="memory:coreswitch")
        await call.ended()
        await server.close()
        await sw.stop()
        registry.close()
        await db.close()
        return ended, call.hangup_cause, sw.command_lines()

    ended, cause, lines = run(scenario())
    assert ended == []
    assert not any("answer" in line for line in lines)  # coreswitch did not touch the call
    assert "exit" in lines
    assert cause is not None


def test_publishing_prerenders_fixed_prompts_with_deployment_settings(tmp_path: Path) -> None:
    engine = WavEngine()
    cache = TtsCache(tmp_path / "tts", engine)
    renderer = TtsRenderer(cache, voice="zh", rate=160)

    async def prerender(ir: dict[str, Any]) -> None:
        await cache.prerender(renderer.prompts(ir, {"company": "南网"}))

    async def scenario() -> list[str]:
        db, registry, sw, server, service, _ended = await _setup(tmp_path, prerender=prerender)
        result = await registry.publish("hotline", version("您好，"), "ops")
        assert result.status is PublishStatus.PUBLISHED
        rendered = list(engine.texts)
        # a call then finds every fixed prompt in the cache: nothing new is synthesised
        deps = service.deps
        service.deps = Deps(deps.functions, deps.services, renderer,
                            settings={"company": "南网"})
        call = await sw.place_call("13800000001", "95598", socket="memory:coreswitch",
                                   caller="press 1 on prompt 2 after 0.5")
        await call.ended()
        assert engine.texts == rendered
        await server.close()
        await sw.stop()
        registry.close()
        cache.close()
        await db.close()
        return rendered

    rendered = run(scenario())
    assert sorted(rendered) == sorted(["您好，欢迎致电南网。", "查询请按1。", "没有听到按键。",
                                       "输入有误。", "再见。"])


def test_call_records_are_written_in_batches_and_survive_a_database_hiccup(
        tmp_path: Path) -> None:
    async def scenario() -> tuple[int, int]:
        db = Database(f"sqlite:///{tmp_path / 'cs.db'}")
        await db.upgrade()
        recorder = CallRecorder(db)
        import datetime as dt
        now = dt.datetime.now(dt.UTC)
        calls = [EndedCall(f"uuid-{i}", "138", "95598", "hotline", None, None, now, now,
                           "NORMAL_CLEARING", "bye", []) for i in range(3)]
        real_run = db.run
        failing = [True]

        async def flaky(fn: Any) -> Any:
            if failing[0]:
                failing[0] = False
                raise OSError("database restarting")
            return await real_run(fn)

        db.run = flaky  # type: ignore[method-assign]
        for c in calls:
            recorder.add(c)
        await recorder.flush()  # fails: the calls stay queued
        await recorder.flush()  # succeeds: all three written in one batch
        db.run = real_run  # type: ignore[method-assign]
        count = await db.run(lambda s: len(list(s.scalars(select(CallRecord)))))
        await db.close()
        return recorder.written, count

    assert asyncio.run(scenario()) == (3, 3)


def test_max_duration_waits_for_a_transfer_conversation_to_end(tmp_path: Path) -> None:
    """The guard ends IVR time, never a conversation with a person."""
    import dsl

    source = """\
flow duty:
  dnis "95598"
  start hello
  max_duration 1m -> too_long

state hello:
  say "正在为您转接。"
  transfer "1001" timeout=20s failure -> busy

state busy:
  say "值班人员正忙。"
  hangup

state too_long:
  say "通话时间过长。"
  hangup
"""
    ir, diags = dsl.compile_source(source)
    assert ir is not None, diags

    async def scenario() -> tuple[list[dict[str, Any]], float]:
        from coreswitch.runtime.harness import SimHarness

        async with SimHarness() as h:
            h.switch.add_agent("1001", answer_after=2, talk_time=120)  # a 2-minute conversation
            deps = Deps(FunctionRegistry(), LocalServices(), h.virtual_renderer())
            result = await h.call(ir, deps, dnis="95598")
            return result.transcript.entries, asyncio.get_running_loop().time()

    entries, _ = run(scenario())
    kinds = [e["event"] for e in entries]
    assert "guard" not in kinds
    transfer = next(e for e in entries if e["event"] == "transfer")
    assert transfer["ok"] is True
    assert transfer["t"] > 120_000  # the 2-minute conversation outlasted the 1-minute guard
    assert all(e.get("text") != "通话时间过长。" for e in entries)
    assert entries[-1]["event"] == "hangup"
