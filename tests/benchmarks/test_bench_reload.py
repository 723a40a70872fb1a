"""Smoke test of ``coreswitch bench reload``: a ``--quick`` run of the real pieces.

``coreswitch serve`` and the simulated switch run as two processes on loopback; versions A and B
of the 95598 flow are published alternately (one invalid version mixed in) while calls run. No
call may fail or mix versions, the invalid version must be refused, and the result line printed.
"""

from __future__ import annotations

import importlib.util
import re
import sys
import time
from pathlib import Path

import pytest

from coreswitch.cli import bench

REPO = Path(__file__).resolve().parents[2]
LINE = re.compile(r"^reload: (\d+) publishes, (\d+) failed calls, (\d+) mixed-version calls, "
                  r"invalid refused (\d+)/(\d+), publish p99 (\d+\.\d) ms$", re.M)


@pytest.mark.server
def test_quick_run_has_no_failed_or_mixed_calls(capsys: pytest.CaptureFixture[str]) -> None:
    main = bench.load_main(REPO / "benchmarks" / "bench_reload.py")
    assert main is not None
    started = time.monotonic()
    code = main(["--quick"])
    elapsed = time.monotonic() - started
    captured = capsys.readouterr()
    out = captured.out
    assert code == 0, out + captured.err[-2000:]
    match = LINE.search(out)
    assert match is not None, out
    publishes, failed, mixed, refused, invalid, p99 = match.groups()
    assert (publishes, failed, mixed, refused, invalid) == ("10", "0", "0", "1", "1"), out
    assert float(p99) > 0
    assert "# FAILED" not in out, out
    # calls ran both versions (the check would be vacuous otherwise)
    versions = re.search(r"(\d+) ran A, (\d+) ran B", out)
    assert versions is not None, out
    assert int(versions.group(1)) > 0, out
    assert int(versions.group(2)) > 0, out
    assert elapsed < 90, f"--quick took {elapsed:.1f} s"


def _module() -> object:
    path = REPO / "benchmarks" / "bench_reload.py"
    spec = importlib.util.spec_from_file_location("bench_reload_under_test", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_mixed_version_and_failed_calls_are_detected() -> None:
    mod = _module()
    check = mod.check_calls  # type: ignore[attr-defined]
    hashes = {"sha256:a": "A", "sha256:b": "B"}

    def record(flow_hash: str, *texts: str, cause: str = "NORMAL_CLEARING") -> dict[str, object]:
        return {"flow": "utility_95598", "flow_hash": flow_hash, "hangup_cause": cause,
                "transcript": [{"event": "call", "hash": flow_hash},
                               *({"event": "prompt", "text": t} for t in texts)]}

    records = {
        "a": record("sha256:a", "【A】欢迎", "【A】停电"),
        "b": record("sha256:b", "【B】欢迎", "未标记"),
        "mixed": record("sha256:a", "【A】欢迎", "【B】停电"),
        "wrong": record("sha256:a", "【B】欢迎"),
        "dropped": record("sha256:b", "【B】欢迎", cause="LOSE_RACE"),
    }
    uuids = [*records, "no-record"]
    failed, mixed, per_version = check(uuids, set(uuids) - {"no-record"}, records, hashes)
    assert sorted(failed) == ["dropped", "no-record"]
    assert sorted(mixed) == ["mixed", "wrong"]
    assert per_version == {"A": 1, "B": 2}


def test_versions_differ_only_by_their_markers() -> None:
    mod = _module()
    source = (REPO / "examples" / "flows" / "95598.flow").read_text(encoding="utf-8")
    a, b = mod.variant(source, "【A】"), mod.variant(source, "【B】")  # type: ignore[attr-defined]
    assert a.count("【A】") == len(mod.MARKED)  # type: ignore[attr-defined]
    assert a.replace("【A】", "") == source == b.replace("【B】", "")
    assert "goto no_such_state" in mod.invalid(source)  # type: ignore[attr-defined]
