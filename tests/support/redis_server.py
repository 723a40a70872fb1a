"""A throwaway redis-server on loopback for tests (Debian package ``redis-server``).

``RedisServer.start()`` runs ``redis-server`` in a temporary directory on a free port with AOF
persistence (``appendfsync always``), so :meth:`kill` (SIGKILL) then :meth:`restart` on the same
port and directory brings every key back. Every wait is bounded.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest


class RedisUnavailable(RuntimeError):
    """redis-server cannot be started here."""


def _binary() -> str:
    """``$CORESWITCH_REDIS_SERVER`` (only there), else redis-server on the PATH or in /usr/bin."""
    return (os.environ.get("CORESWITCH_REDIS_SERVER") or shutil.which("redis-server")
            or "/usr/bin/redis-server")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class RedisServer:
    def __init__(self, directory: Path, port: int) -> None:
        self.dir, self.port = directory, port
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @classmethod
    def start(cls, directory: Path | None = None, port: int | None = None) -> RedisServer:
        binary = _binary()
        if not Path(binary).exists():
            raise RedisUnavailable("redis-server not found: install the Debian package "
                                   "'redis-server' (scripts/test does)")
        server = cls(directory or Path(tempfile.mkdtemp(prefix="coreswitch-redis-")),
                     port or _free_port())
        server._run()
        atexit.register(server.stop)
        return server

    def _run(self) -> None:
        binary = _binary()
        self.proc = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.dir),
             "--appendonly", "yes", "--appendfsync", "always", "--save", "",
             "--protected-mode", "no", "--daemonize", "no", "--loglevel", "warning",
             "--logfile", str(self.dir / "redis.log")],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                log = self.dir / "redis.log"
                err = log.read_text(errors="replace")[-300:] if log.exists() else ""
                raise RedisUnavailable(f"redis-server exited at start: {err.strip()}")
            if self._ping():
                return
            time.sleep(0.05)
        self.stop()
        raise RedisUnavailable("redis-server did not answer PING within 10 s")

    def _ping(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as s:
                s.sendall(b"PING\r\n")
                return s.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def kill(self) -> None:
        """SIGKILL: what a crash looks like (AOF keeps what was acknowledged)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)

    def restart(self) -> None:
        self.kill()
        self._run()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout=10)
            if self.proc.poll() is None:
                self.proc.kill()
        shutil.rmtree(self.dir, ignore_errors=True)


def start_or_fail() -> RedisServer:
    """A server, or: under CI a failure, elsewhere a loud skip."""
    try:
        return RedisServer.start()
    except RedisUnavailable as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"Redis is required in CI and could not be started: {exc}")
        pytest.skip(f"!!! Redis NOT TESTED: cannot start redis-server here: {exc}")


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    server = start_or_fail()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def redis_url(redis_server: RedisServer) -> str:
    return redis_server.url
