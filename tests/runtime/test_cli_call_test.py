"""``coreswitch test`` and ``coreswitch call``, run in-process through ``coreswitch.cli.main``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from coreswitch.cli import main

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples" / "flows"

FLOW = """\
flow t:
  dnis "95598"
  start m
state m:
  menu:
    prompt "请按键"
    key 1 -> one
    key 2 -> two
    key "*" repeat
    noinput: say "没有"
    nomatch: say "不对"
    maxtries -> two
state one:
  say "一号"
  hangup
state two:
  say "二号"
  hangup
"""


def _cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_the_example_flows_pass_their_tests(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _cli(capsys, "test", str(EXAMPLES))
    assert code == 0, out
    assert out.rstrip().endswith("24 passed, 0 failed")
    assert "FAIL " not in out


def test_a_failing_expectation_exits_1_with_the_expectation_and_its_line(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "t.flow").write_text(FLOW, encoding="utf-8")
    (tmp_path / "t.test.flow").write_text(
        'testing "t.flow"\n'
        'test "按1到一号":\n'
        '  press "1" after=1s\n'
        '  expect state one\n'
        '  expect heard "一号"\n'
        'test "按2却期望一号":\n'
        '  press "2" after=1s\n'
        '  expect heard "二号"\n'
        '  expect state one\n', encoding="utf-8")
    code, out, _ = _cli(capsys, "test", str(tmp_path))
    assert code == 1
    assert f"PASS {tmp_path / 't.test.flow'}:2 按1到一号" in out
    assert f"FAIL {tmp_path / 't.test.flow'}:6 按2却期望一号" in out
    assert "line 9: expect state one: never reached (reached: m, two)" in out
    assert out.rstrip().endswith("1 passed, 1 failed")


def test_coverage_lists_states_and_branches_no_test_reached(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "t.flow").write_text(
        FLOW + 'test "一号":\n  press "1" after=1s\n  expect state one\n', encoding="utf-8")
    code, out, _ = _cli(capsys, "test", "--coverage", str(tmp_path))
    assert code == 0, out
    assert "states 2/3" in out
    assert "state never entered: two" in out
    assert "m: key 2" in out
    assert "m: key 1" not in out


def test_no_tests_found_exits_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "t.flow").write_text(FLOW, encoding="utf-8")
    code, out, _ = _cli(capsys, "test", str(tmp_path))
    assert code == 1
    assert "no flow tests found" in out


def _lines(out: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def test_call_prints_the_transcript_as_json_lines(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _cli(capsys, "call", str(EXAMPLES / "95598.flow"), "--dtmf", "2,1,03",
                        "--mock", 'crm.customer_tier="VIP"', "--at", "2026-11-23 10:00")
    assert code == 0
    entries = _lines(out)
    assert entries[0]["event"] == "call"
    inputs = [(e["state"], e["digits"]) for e in entries if e["event"] == "input"]
    assert inputs[:3] == [("main_menu", "2"), ("repair", "1"), ("repair_area", "03")]
    order = next(e for e in entries if e["event"] == "work_order")
    assert order["fields"]["tier"] == "VIP"  # type: ignore[index]
    assert entries[-1]["event"] == "hangup"


def test_call_with_a_bad_mock_is_a_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _cli(capsys, "call", str(EXAMPLES / "95598.flow"),
                          "--mock", "crm.customer_tier=VIP")
    assert code == 2
    assert out == ""
    assert "--mock crm.customer_tier: not JSON" in err
    assert "'\"text\"'" in err


@pytest.mark.parametrize("spec", ["novalue", "=1"])
def test_call_with_a_mock_without_name_or_value_is_an_error(
        spec: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _cli(capsys, "call", str(EXAMPLES / "95598.flow"), "--mock", spec)
    assert code == 2
    assert "expected NAME=JSON" in err


def test_call_of_a_broken_flow_exits_1_with_diagnostics(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    broken = tmp_path / "broken.flow"
    broken.write_text(FLOW.replace("key 2 -> two", "key 2 -> twoo"), encoding="utf-8")
    code, out, err = _cli(capsys, "call", str(broken))
    assert code == 1
    assert out == ""
    assert "error[E201]" in err
    assert f"{broken}:8:" in err


def test_call_of_a_missing_file_exits_2(tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _cli(capsys, "call", str(tmp_path / "nope.flow"))
    assert code == 2
    assert "no such file" in err


def test_call_dtmf_groups_answer_successive_inputs_and_hangup_ends_the_call(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    flow = tmp_path / "t.flow"
    flow.write_text(FLOW, encoding="utf-8")
    code, out, _ = _cli(capsys, "call", str(flow), "--dtmf", "*,1")
    assert code == 0
    entries = _lines(out)
    assert [e["digits"] for e in entries if e["event"] == "input"] == ["*", "1"]
    assert [e["state"] for e in entries if e["event"] == "state"] == ["m", "one"]
    code, out, _ = _cli(capsys, "call", str(flow), "--dtmf", "*", "--hangup")
    entries = _lines(out)
    assert entries[-1]["event"] == "hangup"
    assert entries[-1]["by"] == "caller"


def test_call_with_a_bad_time_is_an_error(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _cli(capsys, "call", str(EXAMPLES / "95598.flow"), "--at", "tomorrow")
    assert code == 2
    assert "coreswitch call:" in err
