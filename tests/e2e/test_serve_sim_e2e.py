"""End to end: `coreswitch serve` and the simulated switch as two processes, talking ESL over TCP.

The simulator (`coreswitch sim --scenarios`) waits until serve's inbound ESL client has
subscribed, then places scripted calls one after another into serve's outbound socket, as a
FreeSWITCH dialplan `socket` action would. Serve runs examples/flows/95598.flow on each call
(no plugins are installed, so plugin functions fail and the flow's failure routes run) and
writes each call record with its transcript, which the test reads over the admin HTTP API.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from tests.cli.test_serve import REPO, _free_port, _wait_for_health

pytestmark = pytest.mark.server

TOKEN = "e2e-token"

SCENARIOS: dict[str, dict[str, str]] = {
    # main menu 2 → fault type 1 → district 03: a repair work order, SMS, then the survey
    "repair": {"ani": "13800138000", "dnis": "95598",
               "caller": "press 2 on prompt 3 after 1; press 1 next prompt after 1; "
                         "press 03 next prompt after 1; press 1 next prompt after 1"},
    # outage information: the outage plugin is missing → "暂时无法查询" → agent
    "outage": {"ani": "13800138001", "dnis": "95598",
               "caller": "press 1 on prompt 3 after 1; press 05 next prompt after 1; "
                         "hangup after 20"},
    # bill query: no bound number → account number + PIN; the PIN check is unavailable
    "bill": {"ani": "02100000000", "dnis": "95598",
             "caller": "press 3 on prompt 3 after 1; press 3100012345# next prompt after 1; "
                       "press 123456 after 2; hangup after 30"},
    # English, then the caller hangs up in the menu
    "english": {"ani": "13800138003", "dnis": "4006695598",
                "caller": "press 9 on prompt 3 after 1; hangup next prompt after 2"},
    # keys the menu does not know, three times: max tries → the agent route
    "nomatch": {"ani": "13800138004", "dnis": "95598",
                "caller": "press 7 on prompt 3 after 1; press 8 next prompt after 1; "
                          "press 6 next prompt after 1; hangup after 40"},
}


def _get(port: int, path: str) -> Any:
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}",
                                 headers={"Authorization": f"Bearer {TOKEN}"})
    with urllib.request.urlopen(req, timeout=5) as resp:
        return json.load(resp)


def _record(port: int, uuid: str, deadline: float) -> dict[str, Any]:
    """The call record, once serve has written it (records are written in batches)."""
    while True:
        try:
            return dict(_get(port, f"/api/calls/{uuid}"))
        except urllib.error.HTTPError as exc:
            if exc.code != 404 or time.monotonic() > deadline:
                raise
        time.sleep(0.1)  # polling for a record being written, bounded by the deadline


@pytest.fixture(scope="module")
def calls(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, dict[str, Any]]]:
    tmp = tmp_path_factory.mktemp("e2e")
    esl, outbound, http = _free_port(), _free_port(), _free_port()
    (tmp / "coreswitch.toml").write_text(f"""
[switch]
kind = "freeswitch"
port = {esl}
outbound_listen = "127.0.0.1:{outbound}"
[store]
url = "sqlite:///{tmp / 'cs.db'}"
[http]
bind = "127.0.0.1:{http}"
admin_token = "{TOKEN}"
[flows]
directories = ["{REPO / 'examples' / 'flows'}"]
[tts]
cache_dir = "{tmp / 'tts'}"
""", encoding="utf-8")
    names = list(SCENARIOS)
    (tmp / "scenarios.jsonl").write_text(
        "".join(json.dumps(SCENARIOS[n], ensure_ascii=False) + "\n" for n in names),
        encoding="utf-8")
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    sim = subprocess.Popen(
        [sys.executable, "-m", "coreswitch", "sim", "--port", str(esl), "--speed", "10",
         "--scenarios", str(tmp / "scenarios.jsonl"), "--socket", f"127.0.0.1:{outbound}",
         "--after-client", "--exit"],
        cwd=tmp, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    serve = subprocess.Popen(
        [sys.executable, "-m", "coreswitch", "serve", "--config", str(tmp / "coreswitch.toml"),
         "--log-format", "text", "--drain", "2"],
        cwd=tmp, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    try:
        _wait_for_health(http, serve, time.monotonic() + 90)
        sim_out, sim_err = sim.communicate(timeout=180)
        assert sim.returncode == 0, sim_err
        ended = [json.loads(line) for line in sim_out.splitlines() if line.startswith("{")]
        assert len(ended) == len(names), sim_out
        deadline = time.monotonic() + 30
        yield {name: {**_record(http, e["uuid"], deadline), "sim": e}
               for name, e in zip(names, ended, strict=True)}
    finally:
        for proc in (sim, serve):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in (sim, serve):
            try:
                proc.communicate(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.communicate()


def _events(record: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [e for e in record["transcript"] if e["event"] == kind]


def _states(record: dict[str, Any]) -> list[str]:
    return [e["state"] for e in _events(record, "state")]


def _heard(record: dict[str, Any]) -> str:
    return "\n".join(e.get("text") or "" for e in _events(record, "prompt"))


def test_every_call_ran_the_published_95598_flow(calls: dict[str, dict[str, Any]]) -> None:
    for name, record in calls.items():
        assert record["flow"] == "utility_95598", name
        assert record["flow_hash"].startswith("sha256:"), name
        start = record["transcript"][0]
        assert start["event"] == "call", name
        assert start["hash"] == record["flow_hash"], name
        assert _states(record)[:2] == ["welcome", "main_menu"], name
        assert "欢迎致电国网XX供电公司95598供电服务热线" in _heard(record), name


def test_repair_report_creates_a_work_order_and_ends_in_the_survey(
        calls: dict[str, dict[str, Any]]) -> None:
    record = calls["repair"]
    assert _states(record) == ["welcome", "main_menu", "repair", "repair_area", "survey",
                               "goodbye"]
    order = _events(record, "work_order")[0]
    assert order["type"] == "故障报修"
    assert order["fields"]["area"] == "03"
    assert order["fields"]["phone"] == "13800138000"
    assert f"报修单号{order['number']}" in _heard(record)
    assert _events(record, "sms")[0]["to"] == "13800138000"
    assert _events(record, "survey")[0]["answers"] == {"overall": "1"}
    assert _events(record, "hangup")[-1] == {**_events(record, "hangup")[-1], "by": "flow",
                                             "cause": "NORMAL_CLEARING"}
    assert record["hangup_cause"] == "NORMAL_CLEARING"
    # the switch saw the same call end: the caller heard the goodbye prompt last
    assert record["sim"]["cause"] == "NORMAL_CLEARING"


def test_outage_query_without_its_plugin_takes_the_failure_route(
        calls: dict[str, dict[str, Any]]) -> None:
    record = calls["outage"]
    assert _states(record)[:4] == ["welcome", "main_menu", "outage", "outage_unknown"]
    assert [e["digits"] for e in _events(record, "input")][:2] == ["1", "05"]
    failed = [e for e in _events(record, "function") if e["function"] == "outage.by_area"]
    assert failed
    assert failed[0]["ok"] is False
    assert failed[0]["reason"] == "not provided"
    assert "停电信息暂时无法查询" in _heard(record)
    assert "agent" in _states(record)


def test_bill_query_asks_for_account_and_masks_the_pin(calls: dict[str, dict[str, Any]]) -> None:
    record = calls["bill"]
    states = _states(record)
    assert states[:5] == ["welcome", "main_menu", "bill", "identify.by_phone",
                          "identify.ask_account"]
    assert "identify.ask_pin" in states
    inputs = [e for e in _events(record, "input") if e["state"].startswith("identify")]
    assert inputs[0]["digits"] == "3100012345"
    pin = next(e for e in inputs if e["state"] == "identify.ask_pin")
    assert pin["digits"] == "***"  # `sensitive`: never in a transcript
    assert "123456" not in json.dumps(record["transcript"], ensure_ascii=False)
    assert "身份验证未通过" in _heard(record)


def test_english_caller_hears_english_then_hangs_up(calls: dict[str, dict[str, Any]]) -> None:
    record = calls["english"]
    assert record["dnis"] == "4006695598"
    assert _events(record, "language")[0]["lang"] == "en"
    assert "For outage information press 1" in _heard(record)
    end = _events(record, "hangup")[-1]
    assert end["by"] == "caller"
    assert end["state"] == "main_menu"


def test_wrong_keys_get_no_match_prompts_then_the_agent_route(
        calls: dict[str, dict[str, Any]]) -> None:
    record = calls["nomatch"]
    assert [e["count"] for e in _events(record, "nomatch")] == [1, 2, 3]
    assert [e["digits"] for e in _events(record, "input")][:3] == ["7", "8", "6"]
    assert "对不起，您的输入有误" in _heard(record)
    assert _events(record, "maxtries")
    assert "agent" in _states(record)
