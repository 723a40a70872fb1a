"""Process orchestration shared by ``bench calls`` and ``bench reload``.

:class:`Rig` starts the load simulator (``loadsim.py``) and ``coreswitch serve`` as two processes
on loopback (serve's config: ``[switch] kind = "freeswitch"`` pointing at the simulator, SQLite in
the run's directory, a TTS cache directory, the flow directories given), waits for both with
bounded waits, and always stops both — SIGTERM, then SIGKILL — whatever fails.
"""

from __future__ import annotations

import contextlib
import json
import os
import selectors
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import IO, Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
TOKEN = "bench-token"
BENCH_VENV = Path(os.environ.get("CORESWITCH_BENCH_VENV", REPO / ".bench-venv"))


class BenchError(RuntimeError):
    pass


def progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(0, -(-int(q * 100) * len(ordered) // 10000) - 1)
    return ordered[rank]


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise BenchError(f"no VmRSS for pid {pid}")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def settle(pids: list[int], *, idle: float = 0.05, period: float = 0.5,
           limit: float = 30.0) -> float:
    """Wait (at most ``limit`` s) until every process in ``pids`` uses less than ``idle`` of a
    core over ``period`` s — the previous phase's tail (call records being written, sockets
    closing) done, so a phase starts on quiet processes. Returns the seconds waited."""
    started = time.monotonic()
    before = [cpu_seconds(pid) for pid in pids]
    while time.monotonic() - started < limit:
        time.sleep(period)  # sampling CPU time: a measurement interval, not a race
        after = [cpu_seconds(pid) for pid in pids]
        if all(b - a < idle * period for a, b in zip(before, after, strict=True)):
            break
        before = after
    return time.monotonic() - started


def cpu_ticks() -> tuple[int, int]:
    """The whole machine's (steal, total) CPU ticks so far (/proc/stat): the time the
    hypervisor gave this VM's CPUs to someone else shows in steal."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return (fields[7] if len(fields) > 7 else 0), sum(fields)


def steal_percent(before: tuple[int, int], after: tuple[int, int]) -> float:
    total = after[1] - before[1]
    return 100.0 * (after[0] - before[0]) / total if total > 0 else 0.0


def listen_overflows() -> int:
    """The kernel's count of connections dropped because a listen queue was full (all
    sockets of the machine: TcpExt ListenOverflows)."""
    lines = Path("/proc/net/netstat").read_text().splitlines()
    for names, values in zip(lines[::2], lines[1::2], strict=False):
        if names.startswith("TcpExt:"):
            table = dict(zip(names.split()[1:], values.split()[1:], strict=False))
            return int(table.get("ListenOverflows", 0))
    return 0


def start_profiler(out: str, pid: int) -> subprocess.Popen[bytes]:
    """py-spy (from the bench venv, or PATH) sampling process `pid` during the rate phase."""
    spy = BENCH_VENV / "bin" / "py-spy"
    exe = str(spy) if spy.exists() else (shutil.which("py-spy") or "")
    if not exe:
        raise BenchError("--profile needs py-spy: pip install py-spy into .bench-venv")
    fmt = "speedscope" if out.endswith(".json") else "raw"
    return subprocess.Popen([exe, "record", "--pid", str(pid), "--rate", "250", "--format", fmt,
                             "--output", out, "--nonblocking"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def stop_profiler(proc: subprocess.Popen[bytes], out: str) -> None:
    proc.send_signal(signal.SIGINT)
    try:
        _, err = proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        err = b""
    progress(f"  profile written to {out} "
             f"({err.decode(errors='replace').strip().splitlines()[-1:] or ''})")


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONUNBUFFERED"] = "1"
    env.pop("PYTHONPATH", None)
    env["PYTHONPATH"] = str(REPO)
    return env


def _raise_nofile() -> None:
    import resource
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = min(hard, 65536) if hard != resource.RLIM_INFINITY else 65536
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))


class Rig:
    """The simulator process + the serve process of one benchmark run."""

    def __init__(self, workdir: Path, *, flow_dirs: list[Path], tts_cache: Path,
                 speed: float = 1.0, file_seconds: float = 2.0, phase_timeout: float = 180.0,
                 log_level: str = "warning", sim_args: tuple[str, ...] = ()) -> None:
        self.workdir = workdir
        self.flow_dirs = flow_dirs
        self.tts_cache = tts_cache
        self.speed = speed
        self.file_seconds = file_seconds
        self.phase_timeout = phase_timeout
        self.log_level = log_level
        self.sim_args = sim_args
        self.http_port = free_port()
        self.outbound_port = free_port()
        self.sim: subprocess.Popen[str] | None = None
        self.serve: subprocess.Popen[str] | None = None
        self.serve_log = workdir / "serve.log"
        self.db_path = workdir / "cs.db"
        self._sel = selectors.DefaultSelector()
        self._logs: list[IO[str]] = []

    # -- lifecycle ----------------------------------------------------------------------------
    def start(self, startup_timeout: float = 180.0) -> None:
        _raise_nofile()  # inherited: thousands of sockets in each process
        self.sim = subprocess.Popen(
            [sys.executable, str(HERE / "loadsim.py"), "--socket",
             f"127.0.0.1:{self.outbound_port}", "--speed", str(self.speed),
             "--file-seconds", str(self.file_seconds),
             "--ready-timeout", str(startup_timeout), "--phase-timeout", str(self.phase_timeout),
             *self.sim_args],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._log("sim.log"),
            text=True, env=_env(), cwd=self.workdir)
        assert self.sim.stdout is not None
        self._sel.register(self.sim.stdout, selectors.EVENT_READ)
        hello = self.read_sim(30.0)
        if hello.get("event") != "listening":
            raise BenchError(f"simulator did not start: {hello}")
        esl_port = int(hello["port"])
        config = self.workdir / "coreswitch.toml"
        dirs = ", ".join(json.dumps(str(d)) for d in self.flow_dirs)
        config.write_text(f"""
[switch]
kind = "freeswitch"
port = {esl_port}
outbound_listen = "127.0.0.1:{self.outbound_port}"
[store]
url = "sqlite:///{self.db_path}"
[http]
bind = "127.0.0.1:{self.http_port}"
admin_token = "{TOKEN}"
[flows]
directories = [{dirs}]
[tts]
cache_dir = "{self.tts_cache}"
[media]
recordings_dir = "{self.workdir / 'recordings'}"
""", encoding="utf-8")
        self.serve = subprocess.Popen(
            [sys.executable, "-m", "coreswitch", "serve", "--config", str(config),
             "--log-format", "text", "--log-level", self.log_level, "--drain", "5"],
            stdin=subprocess.DEVNULL, stdout=self._log(self.serve_log.name),
            stderr=subprocess.STDOUT, text=True, env=_env(), cwd=self.workdir)
        deadline = time.monotonic() + startup_timeout
        self._wait_health(deadline)
        ready = self.read_sim(max(1.0, deadline - time.monotonic()))
        if ready.get("event") != "ready":
            raise BenchError(f"simulator: controller did not subscribe: {ready}")

    def _log(self, name: str) -> IO[str]:
        handle = open(self.workdir / name, "w", encoding="utf-8")  # noqa: SIM115 - closed by stop
        self._logs.append(handle)
        return handle

    def _wait_health(self, deadline: float) -> None:
        while time.monotonic() < deadline:
            if self.serve is not None and self.serve.poll() is not None:
                raise BenchError(f"serve exited early ({self.serve.returncode}): "
                                 f"{self.serve_tail()}")
            try:
                self.get("/healthz")
                return
            except OSError:
                time.sleep(0.1)  # a starting process, bounded by the deadline
        raise BenchError(f"serve did not answer /healthz in time: {self.serve_tail()}")

    def serve_tail(self, chars: int = 1500) -> str:
        try:
            return self.serve_log.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def stop(self) -> None:
        """Stop both processes (graceful first, bounded), whatever state they are in."""
        if self.sim is not None and self.sim.poll() is None:
            try:
                assert self.sim.stdin is not None
                self.sim.stdin.write('{"cmd": "exit"}\n')
                self.sim.stdin.flush()
            except (OSError, ValueError):
                pass
        for proc, grace in ((self.serve, 30.0), (self.sim, 15.0)):
            if proc is None:
                continue
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
            for pipe in (proc.stdin, proc.stdout):
                if pipe is not None:
                    with contextlib.suppress(OSError):
                        pipe.close()
        self._sel.close()
        for handle in self._logs:
            handle.close()

    def __enter__(self) -> Rig:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- the simulator's phases ---------------------------------------------------------------
    def read_sim(self, timeout: float) -> dict[str, Any]:
        assert self.sim is not None
        assert self.sim.stdout is not None
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise BenchError(f"simulator silent for {timeout:.0f} s")
            if not self._sel.select(min(left, 1.0)):
                if self.sim.poll() is not None:
                    raise BenchError(f"simulator exited ({self.sim.returncode}): "
                                     f"{(self.workdir / 'sim.log').read_text()[-1500:]}")
                if self.serve is not None and self.serve.poll() is not None:
                    raise BenchError(f"serve exited ({self.serve.returncode}): "
                                     f"{self.serve_tail()}")
                continue
            line = self.sim.stdout.readline()
            if not line:
                raise BenchError(f"simulator closed its output: "
                                 f"{(self.workdir / 'sim.log').read_text()[-1500:]}")
            if line.startswith("{"):
                result: dict[str, Any] = json.loads(line)
                return result

    def send_sim(self, command: dict[str, Any]) -> None:
        assert self.sim is not None
        assert self.sim.stdin is not None
        self.sim.stdin.write(json.dumps(command) + "\n")
        self.sim.stdin.flush()

    def phase(self, command: dict[str, Any], timeout: float | None = None) -> dict[str, Any]:
        """Send one phase to the simulator and wait (bounded) for its result."""
        self.send_sim(command)
        return self.read_sim(timeout or self.phase_timeout + 600.0)

    # -- serve --------------------------------------------------------------------------------
    @property
    def serve_pid(self) -> int:
        assert self.serve is not None
        return self.serve.pid

    @property
    def sim_pid(self) -> int:
        assert self.sim is not None
        return self.sim.pid

    def get(self, path: str, timeout: float = 10.0) -> Any:
        req = urllib.request.Request(f"http://127.0.0.1:{self.http_port}{path}",
                                     headers={"Authorization": f"Bearer {TOKEN}"})
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return json.load(resp)

    def post(self, path: str, body: bytes, content_type: str = "text/plain; charset=utf-8",
             timeout: float = 30.0) -> tuple[int, Any]:
        req = urllib.request.Request(
            f"http://127.0.0.1:{self.http_port}{path}", data=body, method="POST",
            headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": content_type})
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:
                return resp.status, json.load(resp)
        except urllib.error.HTTPError as exc:
            try:
                payload = json.load(exc)
            except ValueError:
                payload = None
            return exc.code, payload

    def stop_serve(self, timeout: float = 60.0) -> int:
        """SIGTERM serve and wait: call records still queued are written on the way out."""
        assert self.serve is not None
        if self.serve.poll() is None:
            self.serve.send_signal(signal.SIGTERM)
        try:
            return self.serve.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.serve.kill()
            self.serve.wait(timeout=10)
            raise BenchError("serve did not stop within its drain time") from None


def call_records(db_path: Path) -> dict[str, dict[str, Any]]:
    """Every call record serve wrote (read from its SQLite file once serve has stopped)."""
    import sqlite3
    with sqlite3.connect(f"file:{db_path}?mode=ro", uri=True) as conn:
        rows = conn.execute("SELECT call_uuid, flow_name, flow_hash, hangup_cause, end_state, "
                            "transcript FROM call_records").fetchall()
    return {uuid: {"flow": flow, "flow_hash": fhash, "hangup_cause": cause, "end_state": end,
                   "transcript": json.loads(transcript) if transcript else []}
            for uuid, flow, fhash, cause, end, transcript in rows}
