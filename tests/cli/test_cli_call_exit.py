"""``coreswitch call``'s exit status: 1 when the flow faulted and the call went to the dialplan's
fallback (the transcript is still printed), 0 whenever the flow handled the call to its end."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from coreswitch.cli import main

FAULTS = """\
flow t:
  dnis "95598"
  start look
var info: record = {}
state look:
  call info = crm.info() failure -> bye
  say "您的余额是{info.balance}"
  hangup
state bye:
  say "再见"
  hangup
function crm.info() -> record timeout=2s
"""


def _cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, list[dict[str, object]],
                                                                 str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, [json.loads(line) for line in out.splitlines() if line.strip()], err


@pytest.fixture
def flow(tmp_path: Path) -> Path:
    path = tmp_path / "t.flow"
    path.write_text(FAULTS, encoding="utf-8")
    return path


def test_a_call_that_falls_back_to_the_dialplan_exits_1_with_its_transcript(
        flow: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # the mocked answer has no "balance": the prompt cannot be said, the flow faults
    code, entries, err = _cli(capsys, "call", str(flow), "--mock", 'crm.info={"name": "张三"}')
    assert code == 1
    assert [e["event"] for e in entries][-2:] == ["error", "fallback"]
    assert entries[0]["event"] == "call"
    assert "balance" in str(entries[-2]["message"])
    assert "went back to the dialplan (fallback)" in err


def test_a_call_the_flow_ends_exits_0(flow: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # the function fails: the flow's failure route says goodbye and hangs up
    code, entries, err = _cli(capsys, "call", str(flow), "--mock", "crm.info=fail")
    assert code == 0
    assert entries[-1]["event"] == "hangup"
    assert err == ""


def test_a_caller_hanging_up_is_not_a_failure(tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "menu.flow"
    path.write_text('flow m:\n  dnis "1"\n  start m\nstate m:\n  menu:\n    prompt "请按键"\n'
                    "    key 1 -> m\n    noinput: say \"没有\"\n    nomatch: say \"不对\"\n"
                    "    maxtries -> m\n", encoding="utf-8")
    code, entries, _ = _cli(capsys, "call", str(path), "--hangup")
    assert code == 0
    assert entries[-1]["event"] == "hangup"
    assert entries[-1]["by"] == "caller"


def test_the_help_says_when_it_exits_1(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["call", "--help"])
    out = capsys.readouterr().out
    assert "1 when the flow faulted and the call went back to the" in out
