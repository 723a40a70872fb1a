"""Plugin function calls (result, timeout, exceptions, sync and async) and caller hang-ups
at any point of a call."""

from __future__ import annotations

import asyncio
import gc
import time
import weakref
from types import SimpleNamespace
from typing import Any

import pytest

from coreswitch.runtime.functions import FunctionFailed
from coreswitch.runtime.interpreter import FlowRun
from coreswitch.runtime.services import CallInfo, LocalServices
from tests.runtime.runtime_helpers import compile_flow, hangup, place_call, press

LONG = "长" * 100  # 20 s of prompt


# -- plugin calls ------------------------------------------------------------------------------

CALLS = compile_flow("""
    flow t:
      start ask
    var tier: text = "普通"
    state ask:
      call tier = crm.tier(caller.ani) failure -> failed
      say "您是{tier}客户"
      hangup
    state failed:
      say "查询失败"
      say "您是{tier}客户"
      hangup
    function crm.tier(ani: text) -> text timeout=2s
    """)


def test_a_successful_call_binds_its_result() -> None:
    got: list[str] = []

    def tier(ani: str) -> str:  # a plain function runs in a worker thread
        got.append(ani)
        return "VIP"

    call = place_call(CALLS, functions={"crm.tier": tier}, ani="13912345678")
    assert got == ["13912345678"]
    assert call.var("tier") == "VIP"
    assert "您是VIP客户" in call.heard()
    assert call.of("function")[0]["ok"] is True


def test_an_async_implementation_is_awaited_on_the_call_clock() -> None:
    async def tier(ani: str) -> str:
        await asyncio.sleep(1.5)
        return "VIP"

    call = place_call(CALLS, functions={"crm.tier": tier})
    assert call.var("tier") == "VIP"
    assert call.of("function")[0]["ms"] == 1500


def test_a_function_that_does_not_answer_in_time_takes_the_failure_route() -> None:
    async def hangs(ani: str) -> str:
        await asyncio.sleep(3600)
        return "never"

    started = time.perf_counter()
    call = place_call(CALLS, functions={"crm.tier": hangs})
    assert time.perf_counter() - started < 20  # virtual time: no real hour of waiting
    entry = call.of("function")[0]
    assert (entry["ok"], entry["reason"], entry["ms"]) == (False, "timeout", 2000)
    assert call.heard() == ["查询失败", "您是普通客户"]
    assert call.outcome == "hangup"


@pytest.mark.parametrize("error", [RuntimeError("crm down"), KeyError("x"),
                                   FunctionFailed("crm.tier", "refused")])
def test_an_exception_takes_the_failure_route_and_the_call_goes_on(error: Exception) -> None:
    def broken(ani: str) -> str:
        raise error

    call = place_call(CALLS, functions={"crm.tier": broken})
    assert call.of("function")[0]["ok"] is False
    assert call.heard() == ["查询失败", "您是普通客户"]
    assert call.outcome == "hangup"


def test_a_function_nobody_provides_takes_the_failure_route() -> None:
    call = place_call(CALLS)
    assert call.of("function")[0]["reason"] == "not provided"
    assert call.states() == ["ask", "failed"]


# -- caller hang-up ---------------------------------------------------------------------------

HANGUPS = compile_flow(f"""
    flow t:
      start talk
    var x: text = ""
    state talk:
      say "{LONG}"
      call x = slow.f() failure -> menu
      goto menu
    state menu:
      menu:
        prompt "请按键"
        timeout 30s
        key 1 -> rec
        noinput: say "没有"
        nomatch: say "不对"
        maxtries -> rec
    state rec:
      record msg max=60s
      hangup
    function slow.f() -> text timeout=30s
    """)


async def _slow() -> str:
    await asyncio.sleep(25)
    return "ok"


@pytest.mark.parametrize(("script", "state"), [
    ([hangup(after=5.0)], "talk"),  # during a prompt
    ([hangup(after=30.0)], "talk"),  # during a function call (20 s prompt + 25 s call)
    ([hangup(after=50.0)], "menu"),  # while the menu waits
    ([press("1", after=46.0), hangup(after=10.0)], "rec"),  # while recording
])
def test_caller_hangup_ends_the_run_cleanly(script: list[object], state: str) -> None:
    call = place_call(HANGUPS, caller=script, functions={"slow.f": _slow})  # type: ignore[arg-type]
    assert call.outcome == "caller_hangup"
    last = call.entries[-1]
    assert last["event"] == "hangup"
    assert last["by"] == "caller"
    assert last["state"] == state
    assert not call.of("error")


def test_caller_hangup_in_a_recording_still_records_the_recording() -> None:
    call = place_call(HANGUPS, caller=[press("1", after=46.0), hangup(after=10.0)],
                      functions={"slow.f": _slow})
    rec = call.of("record")
    assert len(rec) == 1
    assert rec[0]["reason"] == "hangup"



class _SlowServices(LocalServices):
    async def work_order(self, call: CallInfo, **kwargs: Any) -> str:  # type: ignore[override]
        await asyncio.sleep(60)
        return "never"


def test_caller_hangup_while_a_service_works_ends_the_run_at_once() -> None:
    ir = compile_flow("""
        flow t:
          start order
        state order:
          work_order "报修":
            field phone = caller.ani
            failure -> sorry
          hangup
        state sorry:
          say "抱歉"
          hangup
        """)
    call = place_call(ir, services=_SlowServices(), caller=[hangup(after=5.0)])
    assert call.outcome == "caller_hangup"
    assert call.entries[-1]["t"] == 5000
    assert not call.of("work_order")  # no failure route taken for a caller who has gone


def test_a_failed_function_leaves_no_reference_cycle() -> None:
    # The failure travels with a traceback through unless_hung_up's frame; were that frame to
    # keep the task holding the failure, the whole call (run, session, connection) would stay
    # alive as cyclic garbage until a full collection — long pauses under load.
    class Run:
        gone = False

        def __init__(self) -> None:
            self.channel = SimpleNamespace(hung_up=asyncio.Event(), hangup_cause=None)

    async def main() -> weakref.ref[Run]:
        run = Run()
        ref = weakref.ref(run)

        async def work() -> str:
            raise FunctionFailed("crm.tier", "CRM down")

        failed = False
        try:
            await FlowRun.unless_hung_up(run, work())  # type: ignore[arg-type]
        except FunctionFailed:
            failed = True
        assert failed
        del run
        return ref

    gc.collect()
    gc.disable()
    try:
        ref = asyncio.run(main())
        assert ref() is None
    finally:
        gc.enable()
