"""`coreswitch serve` as a process: starts on a config, answers /healthz, runs a simulated call
through the 95598 flow (POST /api/sim/calls), stops on SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_for_health(port: int, proc: subprocess.Popen[str], deadline: float) -> dict[str, object]:
    url = f"http://127.0.0.1:{port}/healthz"
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"serve exited early ({proc.returncode})")
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                return dict(json.load(resp))
        except OSError:
            time.sleep(0.1)  # polling a starting process, bounded by the deadline
    raise AssertionError("serve did not answer /healthz within the deadline")


def _api(port: int, path: str, body: dict[str, object] | None = None) -> dict[str, object]:
    req = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}", method="POST" if body is not None else "GET",
        data=None if body is None else json.dumps(body).encode(),
        headers={"Authorization": "Bearer test-token", "Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as resp:
        return dict(json.load(resp))


def _simulated_call(port: int, body: dict[str, object]) -> dict[str, Any]:
    """Place a call in serve's embedded simulator; its record once it has ended."""
    uuid = _api(port, "/api/sim/calls", body)["uuid"]
    deadline = time.monotonic() + 60
    while True:
        try:
            return _api(port, f"/api/calls/{uuid}")
        except urllib.error.HTTPError as exc:
            if exc.code != 404 or time.monotonic() > deadline:
                raise
        time.sleep(0.2)  # the call is still running: poll, bounded by the deadline


def test_serve_starts_answers_healthz_and_stops_on_sigterm(tmp_path: Path) -> None:
    http_port = _free_port()
    config = tmp_path / "coreswitch.toml"
    config.write_text(
        f"""
[switch]
kind = "sim"
port = 0
outbound_listen = "127.0.0.1:0"

[store]
url = "sqlite:///{tmp_path / 'cs.db'}"

[http]
bind = "127.0.0.1:{http_port}"
admin_token = "test-token"

[flows]
directories = ["{REPO / 'examples' / 'flows'}"]
""",
        encoding="utf-8",
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "coreswitch", "serve", "--config", str(config),
         "--log-format", "text", "--drain", "2"],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        health = _wait_for_health(http_port, proc, time.monotonic() + 60)
        assert health["status"] == "ok"
        assert health["flows"] == 3  # the three example flows were published at start-up
        record = _simulated_call(http_port, {
            "ani": "13800138000", "dnis": "95598",
            "caller": "press 2 on prompt 3 after 0.5; press 1 next prompt after 0.5; "
                      "press 03 next prompt after 0.5; hangup next prompt after 0.5"})
        states = [e["state"] for e in record["transcript"] if e["event"] == "state"]
        assert states == ["welcome", "main_menu", "repair", "repair_area"]
        assert record["flow"] == "utility_95598"
        orders = [e for e in record["transcript"] if e["event"] == "work_order"]
        assert orders[0]["fields"]["area"] == "03"
        # FreeSWITCH resolves relative paths against its own sounds directory: the default
        # (relative) media directories are made absolute, from serve's working directory.
        played = [e["file"] for e in record["transcript"] if e["event"] == "prompt"]
        assert played
        assert all(f.startswith(str(tmp_path / "var" / "tts")) for f in played), played
        proc.send_signal(signal.SIGTERM)
        output, _ = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, output
    assert "simulated switch listening" in output
    assert "shutting down" in output


def test_serve_refuses_a_bad_config_with_the_key_path(tmp_path: Path) -> None:
    config = tmp_path / "bad.toml"
    config.write_text('[switch]\nport = "eighty"\n', encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "coreswitch", "serve", "--config", str(config)],
        capture_output=True, text=True, timeout=60, check=False,
    )
    assert result.returncode == 2
    assert "switch.port: Expected `int`, got `str`" in result.stderr
