"""The IR: small, serialisable, versioned, hashed, and simple for the runtime to follow."""

from __future__ import annotations

import json

import pytest

import dsl
from dsl.ir import IR_VERSION, content_hash, dumps, loads

FLOW = '''flow demo:
  title "演示"
  dnis "12345"
  start main

function crm.lookup(ani: text) -> record timeout=2s

state main:
  call c = crm.lookup(caller.ani) failure -> menu
  if c.vip:
    say "尊敬的贵宾"
  goto menu

state menu:
  menu:
    prompt "查询请按1，重听请按星号键。"
    timeout 6s
    key 1 -> bye
    key "*" repeat
    noinput 1: say "没有听到"
    noinput 2: say "请按键"
    nomatch: say "输入有误"
    maxtries -> bye

state bye:
  hangup "NORMAL_CLEARING"
'''


def _ir(src: str = FLOW) -> dict[str, object]:
    ir, diags = dsl.compile_source(src)
    assert ir is not None, diags
    return ir


def test_ir_is_json_with_version_and_hash() -> None:
    ir = _ir()
    assert ir["ir_version"] == IR_VERSION
    assert ir["content_hash"] == content_hash(ir)
    assert loads(dumps(ir)) == json.loads(json.dumps(ir))


def test_tampered_ir_is_refused() -> None:
    ir = _ir()
    ir["start"] = "bye"
    with pytest.raises(ValueError, match="hash"):
        loads(dumps(ir))


def test_hash_ignores_comments_and_layout_but_not_behaviour() -> None:
    base = _ir()["content_hash"]
    commented = FLOW.replace("state bye:", "# 结束\n\nstate bye:   # 挂机")
    assert _ir(commented)["content_hash"] == base
    changed = FLOW.replace("没有听到", "没有听到您的按键")
    assert _ir(changed)["content_hash"] != base


def test_menu_op_states_the_timing_and_jumps() -> None:
    ir = _ir()
    states = ir["states"]
    assert isinstance(states, dict)
    code = states["menu"]["code"]
    menu = code[0]
    assert menu["op"] == "menu"
    assert (menu["timeout_ms"], menu["inter_digit_ms"], menu["tries"], menu["digits"]) == (
        6000, 2000, 3, 1)
    keys = {k["key"]: code[k["pc"]] for k in menu["keys"]}
    assert keys["1"] == {"op": "goto", "state": "bye"}
    assert keys["*"] == {"op": "repeat", "pc": 0}
    first_noinput = code[menu["noinput"][0]["pc"]]
    assert menu["noinput"][0]["count"] == 1
    assert first_noinput["op"] == "say"
    assert code[menu["noinput"][0]["pc"] + 1] == {"op": "retry", "pc": 0}
    assert code[menu["maxtries"]] == {"op": "goto", "state": "bye"}


def test_call_and_branch_ops() -> None:
    code = _ir()["states"]["main"]["code"]  # type: ignore[index]
    call, branch = code[0], code[1]
    assert call["op"] == "call"
    assert call["function"] == "crm.lookup"
    assert call["result"] == "c"
    assert call["timeout_ms"] == 2000  # from the function declaration
    assert code[call["failure"]] == {"op": "goto", "state": "menu"}
    assert branch["op"] == "branch"
    assert branch["cond"] == ["attr", ["var", "c"], "vip"]
    assert code[branch["else"]] == {"op": "goto", "state": "menu"}


def test_graph_lists_every_route() -> None:
    edges = {(a, b, label) for a, b, label in _ir()["graph"]["edges"]}  # type: ignore[index]
    assert ("main", "menu", "failure") in edges
    assert ("menu", "bye", "key 1") in edges
    assert ("menu", "bye", "maxtries") in edges


def test_flows_with_errors_do_not_compile() -> None:
    ir, diags = dsl.compile_source(FLOW.replace("-> bye\n    key", "-> byee\n    key"))
    assert ir is None
    assert [d.code for d in diags if d.is_error] == ["E201"]


def test_sensitive_variables_are_marked_in_the_ir() -> None:
    src = FLOW.replace('''  goto menu

state menu:''', '''  collect pin:
    prompt "请输入密码"
    length 6
    sensitive
    noinput: say "没有听到"
    nomatch: say "输入有误"
    maxtries -> bye
  goto menu

state menu:''')
    ir = _ir(src)
    assert ir["variables"]["pin"]["sensitive"] is True  # type: ignore[index]
    collect = next(op for op in ir["states"]["main"]["code"]  # type: ignore[index]
                   if op["op"] == "collect")
    assert (collect["min"], collect["max"], collect["sensitive"]) == (6, 6, True)
