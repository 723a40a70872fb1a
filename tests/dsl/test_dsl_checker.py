"""Checker semantics beyond the golden corpus: environments, plugin verbs, control flow."""

from __future__ import annotations

import dsl
from dsl import types as T
from dsl.environment import Environment, FunctionSig, environment_from_mapping
from dsl.verbs import ParamSpec, RouteSpec, VerbSchema

HEAD = 'flow t:\n  title "t"\n  start main\n\n'


def codes(src: str, env: Environment | None = None) -> list[str]:
    return [d.code for d in dsl.analyse(HEAD + src, env).diagnostics]


def test_all_problems_are_reported_at_once() -> None:
    src = ('state main:\n  sya "您好"\n  goto nowhere\n\n'
           'state lost:\n  play missing\n  hangup\n')
    assert codes(src) == ["E205", "E201", "E407", "E202"]


def test_if_without_else_does_not_end_a_state() -> None:
    src = 'var vip: bool = false\n\nstate main:\n  if vip:\n    hangup\n'
    assert codes(src) == ["E401"]
    fixed = src + "  else:\n    hangup\n"
    assert codes(fixed) == []


def test_switch_needs_default_to_end_a_state() -> None:
    src = ('var n: int = 0\n\nstate main:\n  switch n:\n    case 1 -> main2\n\n'
           'state main2:\n  hangup\n')
    assert "E401" in codes(src)
    assert codes(src.replace("    case 1 -> main2\n",
                             "    case 1 -> main2\n    default -> main2\n")) == []


def test_loop_through_a_menu_is_bounded_by_the_caller() -> None:
    src = ('state main:\n  menu:\n    prompt "按1"\n    key 1 -> again\n'
           '    noinput: say "?"\n    nomatch: say "?"\n    maxtries -> again\n\n'
           'state again:\n  say "再来"\n  goto main\n')
    assert codes(src) == []


def test_provider_set_is_checked_only_when_known() -> None:
    src = ('function crm.lookup(ani: text) -> record\n\nstate main:\n'
           '  call c = crm.lookup(caller.ani) failure -> bye\n  goto bye\n\n'
           'state bye:\n  hangup\n')
    assert codes(src) == []
    assert codes(src, Environment(functions={})) == ["E209"]
    sig = FunctionSig("crm.lookup", (("ani", T.TEXT),), T.RECORD, "crm")
    assert codes(src, Environment(functions={"crm.lookup": sig})) == []
    wrong = FunctionSig("crm.lookup", (("phone", T.TEXT),), T.RECORD, "crm")
    assert codes(src, Environment(functions={"crm.lookup": wrong})) == ["E306"]


def test_providers_table_shape() -> None:
    env = environment_from_mapping({"functions": {"a.b": {
        "provider": "p", "params": {"x": "text", "n": "list[int]"}, "returns": "bool"}}})
    assert env.functions is not None
    assert env.functions["a.b"].describe() == "a.b(x: text, n: list[int]) -> bool"


def test_plugin_verbs_get_the_same_checks_as_built_in_ones() -> None:
    screen_pop = VerbSchema(
        "crm.screen_pop",
        (ParamSpec("customer", T.TEXT, required=True, positional=True),
         ParamSpec("urgent", T.BOOL)),
        (RouteSpec("failure"),), provider="crm")
    env = Environment(verbs={"crm.screen_pop": screen_pop})
    ok = 'state main:\n  crm.screen_pop caller.ani urgent=true\n  hangup\n'
    assert codes(ok, env) == []
    assert codes(ok) == ["E205"]  # without the plugin the verb is unknown
    bad = 'state main:\n  crm.screen_pop urgnt=1\n  hangup\n'
    diags = dsl.analyse(HEAD + bad, env).diagnostics
    assert [(d.code, d.hint) for d in diags] == [
        ("E302", "e.g. crm.screen_pop CUSTOMER"), ("E210", "did you mean 'urgent'?")]
    ir, _ = dsl.compile_source(HEAD + ok, env)
    assert ir is not None
    op = ir["states"]["main"]["code"][0]
    assert op["op"] == "crm.screen_pop"
    assert op["plugin"] == "crm"


def test_types_flow_through_function_results() -> None:
    src = ('function wait.estimate(q: text) -> duration\n\nstate main:\n'
           '  call w = wait.estimate("q") failure -> main2\n'
           '  if w > 3:\n    hangup\n  goto main2\n\nstate main2:\n  hangup\n')
    diags = dsl.analyse(HEAD + src).diagnostics
    assert [d.code for d in diags] == ["E301"]
    assert "cannot order duration and int" in diags[0].message


def test_sensitive_values_may_be_masked() -> None:
    src = ('state main:\n  collect pin:\n    prompt "密码"\n    sensitive\n'
           '    noinput: say "?"\n    nomatch: say "?"\n    maxtries -> main2\n'
           '  say "尾号{last4(pin)}，共{len(pin)}位"\n  sms caller.ani "密码{pin}"\n'
           '  goto main2\n\nstate main2:\n  hangup\n')
    assert codes(src) == ["W504"]


def test_subflow_cannot_jump_into_the_main_flow() -> None:
    src = ('subflow s(x: text) -> (ok: bool):\n  state a:\n    goto main\n\n'
           'state main:\n  run r = s(x="1")\n  hangup\n')
    assert codes(src) == ["E408"]


def test_test_expectations_name_real_outcomes() -> None:
    src = ('state main:\n  queue service max_wait=1m overflow -> main2\n\n'
           'state main2:\n  work_order "报修" failure -> main\n  hangup\n\n'
           'test "x":\n  caller ani="1"\n  expect queue servce\n  expect work_order "投诉"\n'
           '  expect queue service\n  expect work_order "报修"\n')
    diags = dsl.analyse(HEAD + src).diagnostics
    assert [(d.code, d.span.line) for d in diags] == [("E601", 14), ("E601", 15)]
    assert diags[0].hint == "did you mean 'service'?"


def test_unnumbered_handler_is_the_first_try() -> None:
    src = ('state main:\n  menu:\n    prompt "按1"\n    key 1 -> main\n'
           '    noinput: say "?"\n    noinput 1: say "??"\n    nomatch: say "?"\n'
           '    maxtries -> main\n')
    diags = dsl.analyse(HEAD + src).diagnostics
    assert [(d.code, d.span.line) for d in diags] == [("E307", 10)]


def test_subflows_may_not_recurse() -> None:
    src = ('subflow a(x: text) -> (ok: bool):\n  state s:\n    run r = b(x=x)\n'
           '    return ok=r.ok\n\n'
           'subflow b(x: text) -> (ok: bool):\n  state s:\n    run r = a(x=x)\n'
           '    return ok=r.ok\n\n'
           'state main:\n  run r = a(x="1")\n  hangup\n')
    diags = dsl.analyse(HEAD + src).diagnostics
    assert [(d.code, d.message) for d in diags] == [
        ("E405", "subflows run each other without end: a → b → a")]


def test_guards_need_a_route() -> None:
    diags = dsl.analyse('flow t:\n  title "t"\n  max_visits 3\n\nstate main:\n  hangup\n'
                        ).diagnostics
    assert [(d.code, d.message) for d in diags] == [("E302", "'max_visits' needs '-> STATE'")]
