"""`coreswitch bench dsl` prints one line per size in the agreed format."""

from __future__ import annotations

import importlib.util
import re

import pytest
from dsl_helpers import ROOT

import dsl


def _bench() -> object:
    spec = importlib.util.spec_from_file_location("bench_dsl_under_test",
                                                  ROOT / "benchmarks" / "bench_dsl.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_generated_flows_are_clean_and_sized() -> None:
    bench = _bench()
    source = bench.generate_flow(40)  # type: ignore[attr-defined]
    ir, diags = dsl.compile_source(source)
    assert ir is not None
    assert [d for d in diags if d.is_error] == []
    assert len(ir["states"]) == 41  # 40 states and the guards pseudo-state


def test_output_lines(capsys: pytest.CaptureFixture[str]) -> None:
    bench = _bench()
    assert bench.main(["20", "60"]) == 0  # type: ignore[attr-defined]
    lines = capsys.readouterr().out.splitlines()
    pattern = re.compile(r"^dsl (\d+) states: (\d+\.\d{3}) s, ([\d,]+) states/s$")
    assert [pattern.match(line).group(1) for line in lines] == ["20", "60"]  # type: ignore[union-attr]
