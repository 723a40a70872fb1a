"""Smoke test of ``coreswitch bench calls``: a ``--quick`` run of the real pieces.

The simulated switch (its own process) places calls into ``coreswitch serve`` (its own process)
over ESL on loopback; serve runs the 95598 flow. The run must be correct — every call ended by its
caller, every call record written, the held calls all live — and print the result line.
"""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

import pytest

from coreswitch.cli import bench

REPO = Path(__file__).resolve().parents[2]
LINE = re.compile(r"^calls: (\d+) setups/s sustained, p99 (\d+\.\d) ms, peak (\d+) concurrent, "
                  r"(\d+\.\d) KiB/call$", re.M)


@pytest.mark.server
def test_quick_run_is_correct_and_prints_the_calls_line(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    main = bench.load_main(REPO / "benchmarks" / "bench_calls.py")
    assert main is not None
    kept = tmp_path / "rate.pcap"
    started = time.monotonic()
    code = main(["--quick", "--keep-capture", str(kept)])
    elapsed = time.monotonic() - started
    captured = capsys.readouterr()
    out = captured.out
    assert code == 0, out + captured.err[-2000:]
    assert "# FAILED" not in out, out
    match = LINE.search(out)
    assert match is not None, out
    assert out.rstrip().splitlines()[-2] == match.group(0), out  # then only the targets line
    setups, _p99, peak, kib = (float(g) for g in match.groups())
    assert setups > 0
    assert peak >= 50  # --quick holds 50 calls at once
    assert kib > 0
    assert "every call correct: yes" in out
    # Timed on the wire (tcpdump, installed by scripts/test; capturing needs root) and on the
    # switch side; without the right to capture, the benchmark says so and uses the latter.
    if os.geteuid() == 0:
        assert re.search(r"DTMF→media on the wire p50 \d+\.\d ms, p99 \d+\.\d ms, max "
                         r"\d+\.\d ms; switch side p50 \d+\.\d ms, p99 \d+\.\d ms", out), out
        assert "p99 < 50 ms (on the wire)" in out
        # the setup on the wire, with serve's own part of it (at most the whole)
        m = re.search(r"setup on the wire \(the switch's SYN → serve's first media command\): "
                      r"80 calls; p50 \S+ ms, p99 (\S+) ms; serve's own part p50 \S+ ms, "
                      r"p99 (\S+) ms", captured.err)
        assert m, captured.err
        assert 0 < float(m[2]) <= float(m[1])
        assert kept.stat().st_size > 0  # --keep-capture: the pcap to look into
    else:
        assert "no timing on the wire: tcpdump did not start" in captured.err
        assert re.search(r"DTMF→media switch side p50 \d+\.\d ms, p99 \d+\.\d ms", out), out
    assert "160 DTMF samples" in out  # 80 calls x 2 key presses, each answered by a prompt
    assert elapsed < 90, f"--quick took {elapsed:.1f} s"


def test_listed_by_coreswitch_bench() -> None:
    found = bench.available(REPO / "benchmarks")
    assert found["calls"].startswith("Calls: setups/s")
    assert found["reload"].startswith("Reload: 100 flow publishes")
