"""Without redis-server the Redis tests fail under CI and skip loudly elsewhere."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).parent
TARGET = f"{HERE / 'test_store_contract.py'}::test_callers_wait_in_priority_then_entry_order"


def _start(tmp_path: Path, ci: str | None) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    env["CORESWITCH_REDIS_SERVER"] = str(tmp_path / "no-redis-server")  # cannot start
    if ci is not None:
        env["CI"] = ci
    return subprocess.Popen([sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider",
                             "-p", "no:hypothesispytest",
                             # its own temporary root: two runs in parallel cleaning up the
                             # shared one race each other (rmtree: directory not empty)
                             "--basetemp", str(tmp_path / f"run-{ci or 'local'}"),
                             "-k", "redis", TARGET],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
                            cwd=HERE.parent.parent)


def test_missing_redis_fails_in_ci_and_skips_loudly_elsewhere(tmp_path: Path) -> None:
    runs = {"ci": _start(tmp_path, "true"), "local": _start(tmp_path, None)}
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
    assert "Redis is required in CI and could not be started" in text
    text, code = out["local"]
    assert code == 0, text
    assert "!!! Redis NOT TESTED" in text
