"""The two-node test's checks on hand-written queue logs: each catches what it is for."""

from __future__ import annotations

from typing import Any

from coreswitch.acd.queue_log import QueueEvent
from tests.acd.twonode.checks import double_offers, outcomes, priority_overtakes


def ev(event: str, at: float, call: str = "", agent: str = "", queue: str = "qa",
       **data: Any) -> QueueEvent:
    return QueueEvent(event, at, queue, call, agent, "n1", data)


def test_every_placed_call_needs_exactly_one_outcome_and_answers_a_complete() -> None:
    log = [ev("enter", 0, "a"), ev("offer", 1, "a", agents=["1001"]),
           ev("answer", 2, "a", "1001"), ev("complete", 4, "a", "1001"),
           ev("enter", 0, "b"), ev("abandon", 3, "b"), ev("timeout", 3.1, "b"),
           ev("enter", 0, "c"), ev("offer", 1, "c", agents=["1002"]),
           ev("answer", 2, "c", "1002")]
    found = outcomes(["a", "b", "c", "d"], log)
    assert found.counts == {"answer": 2, "abandon": 1}
    assert found.missing == ["d"]
    assert found.several == {"b": ["abandon", "timeout"]}
    assert found.unfinished == ["c"]


def test_an_agent_offered_a_second_call_before_the_first_is_released_is_caught() -> None:
    log = [ev("offer", 1.0, "a", agents=["1001"]), ev("answer", 1.5, "a", "1001"),
           ev("offer", 2.0, "b", agents=["1001"]),  # 1001 still talking to a
           ev("complete", 3.0, "a", "1001"), ev("no_answer", 4.0, "b", "1001"),
           ev("offer", 4.01, "c", agents=["1001"]),  # within the tolerance of b's release
           ev("caller_gone", 5.0, "c", "1001"),
           ev("offer", 6.0, "d", agents=["1002", "1003"]),
           ev("answer", 6.5, "d", "1002"), ev("answered_elsewhere", 6.5, "d", "1003"),
           ev("offer", 6.6, "e", agents=["1003"])]
    overlaps, unreleased = double_offers(log)
    assert [(o.agent, o.first, o.second) for o in overlaps] == [("1001", "a", "b")]
    assert unreleased == [("1002", "d"), ("1003", "e")]


def test_a_lower_priority_caller_served_first_is_an_overtake() -> None:
    log = [ev("enter", 0.0, "low", priority=0), ev("enter", 1.0, "vip", priority=100),
           ev("enter", 1.0, "other-queue", queue="qb", priority=100),
           ev("offer", 2.0, "low", agents=["1001"]),  # vip waited 1 s, not offered: overtake
           ev("offer", 3.0, "vip", agents=["1002"]),
           ev("enter", 4.0, "low2", priority=0), ev("enter", 4.0, "vip2", priority=100),
           ev("offer", 4.03, "low2", agents=["1003"]),  # vip2 came 30 ms before: tolerated
           ev("offer", 4.5, "vip2", agents=["1004"]),
           ev("enter", 5.0, "vip3", priority=100), ev("abandon", 5.5, "vip3"),
           ev("enter", 5.1, "low3", priority=-1), ev("offer", 6.0, "low3", agents=["1001"])]
    found = priority_overtakes(log)
    assert [(o.served, o.waiting, o.waited) for o in found] == [("low", "vip", 1.0)]


def test_an_overflowed_caller_counts_in_its_second_queue_from_the_move_on() -> None:
    log = [ev("enter", 0.0, "vip", queue="qb", priority=100),
           ev("enter", 1.0, "low-b", queue="qb", priority=0),
           ev("enter", 2.0, "low-c", queue="qc", priority=0),
           ev("overflow", 15.0, "vip", queue="qb", to="qc"),
           ev("offer", 15.5, "low-b", queue="qb", agents=["1001"]),  # vip left qb: fine
           ev("offer", 16.0, "low-c", queue="qc", agents=["1002"]),  # vip waits in qc: overtake
           ev("timeout", 30.0, "vip", queue="qc")]
    found = priority_overtakes(log)
    assert [(o.queue, o.served, o.waiting, o.waited) for o in found] == [
        ("qc", "low-c", "vip", 1.0)]
    result = outcomes(["vip", "low-b", "low-c"], log)
    assert result.overflowed == 1
    assert result.counts == {"timeout": 1}
    assert result.missing == ["low-b", "low-c"]
