"""Without a PostgreSQL server the PostgreSQL tests fail under CI and skip loudly elsewhere."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).parent
TARGET = f"{HERE / 'test_calls.py'}::test_ending_an_unknown_call_is_an_error[postgresql]"


def _start(tmp_path: Path, ci: str | None) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    env["CORESWITCH_PG_BIN"] = str(tmp_path)  # no initdb there: the server cannot start
    if ci is not None:
        env["CI"] = ci
    return subprocess.Popen([sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider",
                             "-p", "no:hypothesispytest",
                             # its own temporary root: two runs in parallel cleaning up the
                             # shared one race each other (rmtree: directory not empty)
                             "--basetemp", str(tmp_path / f"run-{ci or 'local'}"),
                             TARGET], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env=env, cwd=HERE.parent.parent)


def test_missing_postgresql_fails_in_ci_and_skips_loudly_elsewhere(tmp_path: Path) -> None:
    runs = {"ci": _start(tmp_path, "true"), "local": _start(tmp_path, None)}  # in parallel
    out = {}
    try:
        for key, proc in runs.items():
            out[key] = (proc.communicate(timeout=90)[0], proc.returncode)
    finally:
        for proc in runs.values():
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=10)
    text, code = out["ci"]
    assert code == 1, text
    assert "PostgreSQL is required in CI and could not be started" in text
    text, code = out["local"]
    assert code == 0, text
    assert "SKIPPED" in text
    assert "!!! PostgreSQL NOT TESTED" in text
