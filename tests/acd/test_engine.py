"""The ACD on calls: a caller waits in a queue, agents' phones ring, the first to answer takes
the call; no answer puts the caller back; callbacks, abandon, overflow, announcements."""

from __future__ import annotations

import asyncio

from coreswitch.acd.model import AgentConfig, AgentState, QueueConfig
from coreswitch.runtime.interpreter import RunResult
from coreswitch.switch.sim.agents import Agent as SimAgent
from tests.acd.acd_helpers import AcdWorld, in_virtual_time
from tests.runtime.runtime_helpers import compile_flow

FLOW = compile_flow("""
    flow t:
      start q
    state q:
      queue service:
        max_wait 2m
        announce_position true
        announce_every 30s
        callback_after 40s
        exit_key "0"
        answered -> survey
        timeout -> late
        no_agents -> closed
        callback -> booked
        exit -> left
        abandoned -> missed
    state survey:
      say "请对本次服务评价"
      hangup
    state late:
      say "坐席忙"
      hangup
    state closed:
      say "暂无坐席"
      hangup
    state booked:
      hangup
    state left:
      say "再见"
      hangup
    state missed:
      sms caller.ani text="您的来电未接通，我们将尽快回电"
      hangup
    """)

SERVICE = QueueConfig("service", ring_timeout=10, wrap_up=5, no_answer_delay=30)


def agent(agent_id: str, tier: int = 1) -> AgentConfig:
    return AgentConfig(agent_id, f"user/{agent_id}", queues={"service": tier})


def queue_entry(result: RunResult) -> dict[str, object]:
    return next(e for e in result.transcript.entries if e["event"] == "queue")


def test_an_agent_answers_and_the_caller_goes_to_the_answered_route_after() -> None:
    async def main() -> tuple[dict[str, object], list[str], str]:
        async with AcdWorld([SERVICE], [agent("1001")],
                            [SimAgent("1001", answer_after=2, talk_time=20)]) as w:
            await w.acd.login("1001")
            result = await w.call(FLOW)
            status = (await w.acd.agents("1001"))[0]
            return queue_entry(result), result.states, status.state.value
    entry, states, state = in_virtual_time(main)
    assert entry["result"] == "answered"
    assert entry["agent"] == "1001"
    assert entry["position"] == 1
    assert states[-1] == "survey"
    assert state in (AgentState.WRAP_UP.value, AgentState.AVAILABLE.value)


def test_no_agent_logged_in_and_no_join_when_empty_takes_no_agents() -> None:
    async def main() -> dict[str, object]:
        q = QueueConfig("service", join_empty=False)
        async with AcdWorld([q], [agent("1001")]) as w:
            return queue_entry(await w.call(FLOW))
    assert in_virtual_time(main)["result"] == "no_agents"


def test_an_agent_who_does_not_answer_is_skipped_and_the_next_one_takes_the_call() -> None:
    async def main() -> tuple[dict[str, object], list[str]]:
        async with AcdWorld([SERVICE], [agent("1001"), agent("1002")],
                            [SimAgent("1001", answer_after=None),
                             SimAgent("1002", answer_after=1, talk_time=10)]) as w:
            await w.acd.login("1001")
            await w.acd.login("1002")
            result = await w.call(FLOW)
            return queue_entry(result), [e.event for e in w.log.entries]
    entry, events = in_virtual_time(main)
    assert entry["agent"] == "1002"
    assert "no_answer" in events
    assert events.index("no_answer") < events.index("answer")


def test_max_wait_without_answer_takes_the_timeout_route() -> None:
    async def main() -> tuple[dict[str, object], list[str]]:
        async with AcdWorld([SERVICE], [agent("1001")], [SimAgent("1001", answer_after=None)]
                            ) as w:
            await w.acd.login("1001")
            result = await w.call(FLOW)
            return queue_entry(result), result.states
    entry, states = in_virtual_time(main)
    assert entry["result"] == "timeout"
    assert "late" in states


def test_a_caller_who_hangs_up_while_waiting_is_abandoned_and_the_route_sends_an_sms() -> None:
    async def main() -> tuple[dict[str, object], list[str], list[str]]:
        async with AcdWorld([SERVICE], [agent("1001")]) as w:
            result = await w.call(FLOW, caller="hangup after 20")
            events = [e["event"] for e in result.transcript.entries]
            return queue_entry(result), events, [e.event for e in w.log.entries]
    entry, events, logged = in_virtual_time(main)
    assert entry["result"] == "abandoned"
    assert "sms" in events
    assert "abandon" in logged


def test_position_and_estimated_wait_are_announced() -> None:
    async def main() -> list[str]:
        async with AcdWorld([SERVICE], [agent("1001")]) as w:
            await w.acd.login("1001")
            await w.acd.away("1001", "lunch")
            result = await w.call(FLOW, caller="hangup after 35")
            return [str(e.get("text")) for e in result.transcript.entries
                    if e["event"] == "prompt"]
    heard = in_virtual_time(main)
    assert any("您是下一位" in t and "预计等待" in t for t in heard), heard


def test_the_exit_key_leaves_the_queue() -> None:
    async def main() -> tuple[dict[str, object], list[str]]:
        async with AcdWorld([SERVICE], [agent("1001")]) as w:
            result = await w.call(FLOW, caller="press 0 after 5")
            return queue_entry(result), [e.event for e in w.log.entries]
    entry, logged = in_virtual_time(main)
    assert entry["result"] == "exit"
    assert "exit_key" in logged


def test_a_booked_callback_is_made_when_an_agent_is_free() -> None:
    async def main() -> tuple[dict[str, object], list[dict[str, object]]]:
        async with AcdWorld([SERVICE], [agent("1001")],
                            [SimAgent("1001", answer_after=1, talk_time=10),
                             SimAgent("13800000000", answer_after=2, talk_time=30)]) as w:
            result = await w.call(FLOW, caller="press 1 after 45")
            await w.acd.login("1001")
            for _ in range(200):
                made = w.log.events("callback_made")
                if made:
                    break
                await asyncio.sleep(1)
            return queue_entry(result), [dict(e.data) for e in w.log.events("callback_made")]
    entry, made = in_virtual_time(main)
    assert entry["result"] == "callback"
    assert made
    assert made[0]["answered"] is True



def test_ring_all_rings_every_free_agent_and_the_first_to_answer_takes_the_call() -> None:
    async def main() -> tuple[dict[str, object], list[tuple[str, str]]]:
        q = QueueConfig("service", strategy="ring-all", ring_timeout=10)
        async with AcdWorld([q], [agent("1001"), agent("1002"), agent("1003")],
                            [SimAgent("1001", answer_after=None),
                             SimAgent("1002", answer_after=3, talk_time=5),
                             SimAgent("1003", answer_after=6, talk_time=5)]) as w:
            for a in ("1001", "1002", "1003"):
                await w.acd.login(a)
            result = await w.call(FLOW)
            return queue_entry(result), [(e.event, e.agent) for e in w.log.entries
                                         if e.agent and e.event != "agent_state"]
    entry, events = in_virtual_time(main)
    assert entry["agent"] == "1002"
    assert ("answer", "1002") in events
    assert {a for e, a in events if e == "answered_elsewhere"} == {"1001", "1003"}


def test_ring_progressively_adds_an_agent_after_the_delay() -> None:
    async def main() -> tuple[dict[str, object], float]:
        q = QueueConfig("service", strategy="ring-progressively", ring_timeout=20,
                        progressive_delay=5)
        async with AcdWorld([q], [agent("1001"), agent("1002")],
                            [SimAgent("1001", answer_after=None),
                             SimAgent("1002", answer_after=1, talk_time=5)]) as w:
            for a in ("1001", "1002"):
                await w.acd.login(a)
            result = await w.call(FLOW)
            answer = next(e for e in w.log.entries if e.event == "answer")
            offer = next(e for e in w.log.entries if e.event == "offer")
            return queue_entry(result), answer.at - offer.at
    entry, delay = in_virtual_time(main)
    assert entry["agent"] == "1002"
    assert 5.5 <= delay < 8  # 1002 started ringing 5 s after 1001, answered after 1 s


def test_an_agent_away_during_a_call_is_away_when_it_ends() -> None:
    async def main() -> tuple[str, str]:
        async with AcdWorld([SERVICE], [agent("1001")],
                            [SimAgent("1001", answer_after=1, talk_time=30)]) as w:
            await w.acd.login("1001")
            call = asyncio.ensure_future(w.call(FLOW))
            for _ in range(60):
                await asyncio.sleep(1)
                if (await w.acd.agents("1001"))[0].state == AgentState.ON_CALL:
                    break
            await w.acd.away("1001", "午餐")
            await call
            status = (await w.acd.agents("1001"))[0]
            return status.state.value, status.reason
    assert in_virtual_time(main) == ("away", "午餐")
