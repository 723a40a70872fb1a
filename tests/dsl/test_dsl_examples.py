"""The shipped example flows: clean under `coreswitch check`, compiled, tests well-formed."""

from __future__ import annotations

from pathlib import Path

import pytest
from dsl_helpers import EXAMPLES, run_check

import dsl
from dsl import testspec
from dsl.testspec import Expect, Mock, Press

FLOWS = sorted(p for p in EXAMPLES.glob("*.flow") if not p.name.endswith(".test.flow"))


def test_check_examples_directory_is_clean() -> None:
    code, out = run_check("examples/flows")
    assert code == 0
    assert out.strip().endswith("0 errors, 0 warnings")
    assert "5 files checked" in out


@pytest.mark.parametrize("path", FLOWS, ids=lambda p: p.name)
def test_example_compiles(path: Path) -> None:
    ir, diags = dsl.compile_source(path.read_text(encoding="utf-8"))
    assert ir is not None, diags
    assert ir["content_hash"].startswith("sha256:")
    assert len(ir["states"]) >= 10


def test_example_functions_are_all_provided() -> None:
    code, out = run_check("--providers", "tests/dsl/broken/providers.toml", "examples/flows")
    assert code == 1
    assert "error[E209]: no installed plugin provides 'outage.by_area'" in out


def test_bank_card_tests_parse_into_steps() -> None:
    a = dsl.analyse((EXAMPLES / "bank-card.flow").read_text(encoding="utf-8"))
    assert a.flow is not None
    tests = [t for t in a.flow.tests if isinstance(t, testspec.TestCase)]
    assert [t.name for t in tests][:2] == ["挂失成功并即时止付", "VIP 直达人工"]
    first = tests[0]
    press = [s for s in first.steps if isinstance(s, Press)]
    assert press[0].keys == "1"
    assert press[0].after_ms == 2000
    mocks = {s.function for s in first.steps if isinstance(s, Mock)}
    assert mocks == {"crm.caller_profile", "card.verify_id", "card.block"}
    kinds = [s.kind for s in first.steps if isinstance(s, Expect)]
    assert kinds == ["heard", "heard", "state", "hangup"]


def test_test_files_are_checked_against_their_flow(tmp_path: Path) -> None:
    flow = (EXAMPLES / "95598.flow").read_text(encoding="utf-8")
    (tmp_path / "95598.flow").write_text(flow, encoding="utf-8")
    (tmp_path / "t.test.flow").write_text(
        'testing "95598.flow"\n\ntest "x":\n  caller ani="1"\n  mock billing.balanse fails\n'
        "  expect state identify.ask_pinn\n", encoding="utf-8")
    code, out = run_check(str(tmp_path / "t.test.flow"))
    assert code == 1
    assert "error[E204]: the flow declares no function 'billing.balanse'" in out
    assert "did you mean 'billing.balance'?" in out
    assert "error[E201]: unknown state 'identify.ask_pinn'" in out


def test_graph_output(tmp_path: Path) -> None:
    code, dot = run_check("--graph", "examples/flows/gov-12345.flow")
    assert code == 0
    assert dot.startswith('digraph "gov_12345" {')
    assert '[label="key 2"]' in dot
    code, mermaid = run_check("--graph", "examples/flows/gov-12345.flow", "--format", "mermaid")
    assert code == 0
    assert mermaid.startswith("flowchart LR")
    assert '-->|"overflow"|' in mermaid


def test_tests_become_plain_data_for_the_runner() -> None:
    import json

    from dsl.expr import EvalEnv, evaluate

    a = dsl.analyse((EXAMPLES / "bank-card.flow").read_text(encoding="utf-8"))
    assert a.flow is not None
    case = a.flow.tests[0]
    assert isinstance(case, testspec.TestCase)
    data = testspec.test_to_ir(case)
    json.dumps(data, ensure_ascii=False)  # serialisable
    steps = data["steps"]
    assert isinstance(steps, list)
    assert steps[0] == {"step": "caller", "ani": "13800000001", "dnis": "95555", "line": 149}
    mock = steps[2]
    assert mock["step"] == "mock"
    assert mock["function"] == "crm.caller_profile"
    assert evaluate(mock["returns"], EvalEnv({})) == {"tier": "普通"}
    expect_state = next(s for s in steps if s.get("kind") == "state")
    assert expect_state["value"] == "survey"


@pytest.mark.parametrize("path", FLOWS, ids=lambda p: p.name)
def test_example_ir_golden(path: Path) -> None:
    """The compiled form of each example, pinned (review IR changes in the diff)."""
    import json

    from dsl_helpers import HERE, UPDATE

    ir, _ = dsl.compile_source(path.read_text(encoding="utf-8"))
    text = json.dumps(ir, ensure_ascii=False, indent=1, sort_keys=True) + "\n"
    golden = HERE / "golden" / (path.stem + ".ir.json")
    if UPDATE:
        golden.write_text(text, encoding="utf-8")
    assert golden.exists(), "run with CORESWITCH_UPDATE_GOLDEN=1 to create it"
    assert text == golden.read_text(encoding="utf-8")
