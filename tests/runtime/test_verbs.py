"""Verbs: transfer and SMS targets built from caller input, services and their failure routes,
queue overflow, record/voicemail into a RecordingStore, plugin verbs without a provider."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import dsl.types as T
from coreswitch.media.recording import RecordingStore
from coreswitch.runtime.services import CallInfo, LocalServices, ServiceFailed
from dsl.environment import Environment
from dsl.verbs import ParamSpec, RouteSpec, VerbSchema
from tests.runtime.runtime_helpers import compile_flow, hangup, place_call, press

HOSTILE = ["1001 &hangup", "1001\nsendmsg", "1001\r\ncall-command: hangup", "10 01",
           "1001&echo", "${sofia_contact(1001)}", "user/1001,user/1002"]

TRANSFER = compile_flow("""
    flow t:
      start ask
    var ext: text = ""
    state ask:
      call ext = crm.extension() failure -> sorry
      transfer ext failure -> sorry
    state sorry:
      say "转接失败"
      hangup
    function crm.extension() -> text timeout=1s
    """)


@pytest.mark.parametrize("target", HOSTILE)
def test_a_transfer_target_from_outside_never_reaches_the_switch_as_a_command(target: str
                                                                              ) -> None:
    call = place_call(TRANSFER, functions={"crm.extension": lambda: target})
    entry = call.of("transfer")[0]
    assert (entry["ok"], entry["reason"]) == (False, "invalid number")
    assert "转接失败" in call.heard()
    assert not [c for c in call.commands if c.header("execute-app-name") == "bridge"]
    hangups = [c for c in call.commands if c.header("call-command") == "hangup"]
    assert len(hangups) == 1


def test_a_valid_transfer_target_is_dialled() -> None:
    call = place_call(TRANSFER, functions={"crm.extension": lambda: "1001"})
    bridges = [c.header("execute-app-arg") for c in call.commands
               if c.header("execute-app-name") == "bridge"]
    assert bridges == ["user/1001"]
    assert call.of("transfer")[0]["to"] == "1001"


SMS = compile_flow("""
    flow t:
      start ask
    state ask:
      collect num:
        prompt "请输入手机号"
        max 11
        noinput: say "没有"
        nomatch: say "不对"
        maxtries -> bye
      sms "1{num}" "您的号码{num}" failure -> failed
      goto bye
    state failed:
      say "短信发送失败"
      goto bye
    state bye:
      hangup
    """)


def test_sms_goes_through_the_services_and_caller_digits_stay_data() -> None:
    services = LocalServices()
    call = place_call(SMS, services=services, caller=[press("3800138000#", after=1.5)])
    assert services.outbox == [{"channel": "sms", "to": "13800138000",
                                "text": "您的号码3800138000", "call_id": services.outbox[0][
                                    "call_id"]}]
    assert call.of("sms")[0]["ok"] is True
    assert not [c for c in call.commands if "3800138000" in c.to_bytes().decode()]


class _Refusing(LocalServices):
    async def sms(self, call: CallInfo, *, to: str, text: str) -> None:
        raise ServiceFailed("gateway refused")

    async def work_order(self, call: CallInfo, **kwargs: Any) -> str:  # type: ignore[override]
        raise ConnectionError("ticket system down")

    async def notify(self, call: CallInfo, *, channel: str, to: str, text: str) -> None:
        raise ServiceFailed("no such account")


def test_a_refused_sms_takes_its_failure_route() -> None:
    call = place_call(SMS, services=_Refusing(), caller=[press("3800138000#", after=1.5)])
    entry = call.of("sms")[0]
    assert (entry["ok"], entry["reason"]) == (False, "gateway refused")
    assert "短信发送失败" in call.heard()
    assert call.outcome == "hangup"


ORDERS = compile_flow("""
    flow t:
      start order
    var ticket: text = ""
    state order:
      work_order "故障报修":
        department "抢修班"
        priority "紧急"
        field phone = caller.ani
        field area = "03"
        into ticket
        failure -> sorry
      notify wechat to=caller.ani text="单号{ticket}"
      say "单号{ticket}"
      hangup
    state sorry:
      say "工单创建失败"
      notify wechat to=caller.ani text="失败"
      hangup
    """)


def test_a_work_order_is_created_numbered_and_notified() -> None:
    services = LocalServices()
    call = place_call(ORDERS, services=services)
    order = services.work_orders[0]
    assert (order["type"], order["department"], order["priority"]) == ("故障报修", "抢修班", "紧急")
    assert order["fields"] == {"phone": "13800138000", "area": "03"}
    assert order["number"] == "20261123000001"  # the call's date + a sequence
    assert call.var("ticket") == "20261123000001"
    assert services.outbox[0]["text"] == "单号20261123000001"
    assert "单号20261123000001" in call.heard()


def test_a_failing_work_order_service_takes_the_failure_route_and_notify_failure_goes_on() -> None:
    call = place_call(ORDERS, services=_Refusing())
    order = call.of("work_order")[0]
    assert order["ok"] is False
    assert order["reason"] == "error: ConnectionError"
    assert "工单创建失败" in call.heard()
    assert call.of("notify")[0]["ok"] is False  # no failure route: the call goes on
    assert call.outcome == "hangup"


def test_a_queue_without_agents_takes_the_overflow_route() -> None:
    ir = compile_flow("""
        flow t:
          start q
        state q:
          queue service:
            priority 100
            skills ["95598"]
            max_wait 2m
            overflow -> vm
        state vm:
          say "坐席忙"
          hangup
        """)
    call = place_call(ir)
    entry = call.of("queue")[0]
    assert (entry["queue"], entry["priority"], entry["skills"]) == ("service", 100, ["95598"])
    assert entry["result"] == "no_agents"  # no ACD here: no agents; no route no_agents → overflow
    assert call.states() == ["q", "vm"]


RECORD = compile_flow("""
    flow t:
      start rec
    var msg: text = ""
    state rec:
      record msg max=20s beep=false
      voicemail "95598-留言" max=10s beep=false
      hangup
    """)


def test_record_and_voicemail_write_metadata_and_bind_the_recording(tmp_path: Path) -> None:
    store = RecordingStore(tmp_path)
    call = place_call(RECORD, recordings=store, caller=[press("#", after=3.0)])
    rec, vm = call.of("record")[0], call.of("voicemail")[0]
    assert call.var("msg") == rec["recording"]
    assert vm["box"] == "95598-留言"
    metas = {p.stem: json.loads(p.read_text("utf-8")) for p in tmp_path.rglob("*.json")}
    assert len(metas) == 2
    by_kind = {m["kind"]: m for m in metas.values()}
    assert by_kind["record"]["id"] == rec["recording"]
    assert by_kind["record"]["state"] == "rec"
    assert by_kind["record"]["reason"] == rec["reason"] == "terminator"  # the caller's '#'
    assert by_kind["voicemail"]["mailbox"] == "95598-留言"
    assert by_kind["voicemail"]["reason"] == "max"
    assert by_kind["voicemail"]["duration"] == pytest.approx(10.0, abs=0.1)


def test_a_caller_hanging_up_during_a_voicemail_keeps_it_with_reason_hangup(tmp_path: Path
                                                                             ) -> None:
    store = RecordingStore(tmp_path)
    call = place_call(RECORD, recordings=store, caller=[press("#", after=3.0),
                                                         hangup(after=4.0)])
    assert call.outcome == "caller_hangup"
    metas = [json.loads(p.read_text("utf-8")) for p in tmp_path.rglob("*.json")]
    vm = next(m for m in metas if m["kind"] == "voicemail")
    assert vm["reason"] == "hangup"
    assert call.of("voicemail")[0]["reason"] == "hangup"


def test_a_plugin_verb_without_a_provider_takes_its_failure_route() -> None:
    env = Environment(verbs={"fax": VerbSchema(
        "fax", params=(ParamSpec("to", T.TEXT, required=True, positional=True),),
        routes=(RouteSpec("failure", required=True),), provider="faxplugin")})
    ir = compile_flow("""
        flow t:
          start send
        state send:
          fax "010-1234" failure -> sorry
          hangup
        state sorry:
          say "传真不可用"
          hangup
        """, env)
    call = place_call(ir)
    assert "fax" in call.of("error")[0]["message"]
    assert "传真不可用" in call.heard()
    assert call.outcome == "hangup"


def test_recording_seconds_are_json_numbers() -> None:
    call = place_call(RECORD, caller=[press("#", after=3.0)])
    line = next(json.loads(x) for x in call.result.transcript.lines() if '"record"' in x)
    assert line["seconds"] == 3.0
