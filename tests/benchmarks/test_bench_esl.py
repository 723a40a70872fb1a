"""Smoke test of ``coreswitch bench esl``: coreswitch's consumer path in ``--quick`` mode.

Runs the real pieces (replay server process, coreswitch consumer process, reference-decoder
digests, framing floor) on 2,000 events per format, without the PyPI peers.
"""

from __future__ import annotations

import argparse
import re
import time
from pathlib import Path

import pytest

from coreswitch.cli import bench

REPO = Path(__file__).resolve().parents[2]
CORPUS = REPO.parent / "shared" / "esl"
LINE = re.compile(
    r"^esl coreswitch (plain|json): \d+ events/s, p99 \d+\.\d ms, correct=(yes|no)$", re.M)



@pytest.fixture(autouse=True)
def _corpus_present() -> None:
    """The recorded load corpus ships in ../shared/esl: its absence is a failure, not a skip."""
    for name in ("load-plain.recv.gz", "load-json.recv.gz"):
        assert (CORPUS / name).is_file(), f"missing {CORPUS / name}"


@pytest.mark.server
def test_quick_coreswitch_plain_and_json(capsys: pytest.CaptureFixture[str]) -> None:
    main = bench.load_main(REPO / "benchmarks" / "bench_esl.py")
    assert main is not None
    started = time.monotonic()
    code = main(["--quick", "--clients", "coreswitch"])
    elapsed = time.monotonic() - started
    out = capsys.readouterr().out
    assert code == 0, out
    lines = {m.group(1): m.group(0) for m in LINE.finditer(out)}
    assert set(lines) == {"plain", "json"}, out
    for fmt, line in lines.items():
        assert line.endswith("correct=yes"), f"{fmt}: {line}"
    assert re.search(r"^esl framing-floor plain: \d+ events/s \(coreswitch at [\d.]+% of floor\)$",
                     out, re.M), out
    assert "genesis" not in out
    assert "greenswitch" not in out
    assert elapsed < 30, f"--quick took {elapsed:.1f} s"


def test_cli_lists_and_rejects(capsys: pytest.CaptureFixture[str]) -> None:
    parser = argparse.ArgumentParser()
    bench.register(parser.add_subparsers())
    args = parser.parse_args(["bench"])
    assert args.handler(args) == 0
    listing = capsys.readouterr().out
    assert re.search(r"^  esl +ESL events/s", listing, re.M), listing
    args = parser.parse_args(["bench", "no-such-bench", "--x"])
    assert args.args == ["--x"]
    assert args.handler(args) == 2
    assert "unknown benchmark 'no-such-bench'" in capsys.readouterr().err
