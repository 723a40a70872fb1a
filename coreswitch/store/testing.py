"""Test helpers for the store: a throwaway PostgreSQL server on loopback.

:class:`PostgresCluster` runs ``initdb`` and ``pg_ctl`` from the Debian ``postgresql`` package
(or ``$CORESWITCH_PG_BIN``) in a temporary directory, listening on 127.0.0.1 at a free port,
with trust authentication and fsync off. PostgreSQL refuses to run as root, so under root the
server runs as the ``postgres`` system user (``runuser``). Every wait is bounded.

    cluster = PostgresCluster.start()
    url = cluster.create_database("t1")      # postgresql+psycopg://postgres@127.0.0.1:PORT/t1
    ...
    cluster.stop()
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

from coreswitch.store.database import Database

_RUN_AS = "postgres"
_ADMIN_USER = "postgres"


class PostgresUnavailable(RuntimeError):
    """PostgreSQL cannot be started here (not installed, no user to run it as, failed start)."""


def find_bin_dir() -> Path:
    """The directory holding ``initdb`` and ``pg_ctl``."""
    env = os.environ.get("CORESWITCH_PG_BIN")
    if env:  # explicit: only there
        if (Path(env) / "initdb").is_file() and (Path(env) / "pg_ctl").is_file():
            return Path(env)
        raise PostgresUnavailable(f"CORESWITCH_PG_BIN={env} holds no initdb/pg_ctl")
    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin"),
                         key=lambda p: _version_key(p.parent.name), reverse=True)
    found = shutil.which("initdb")
    if found:
        candidates.append(Path(found).parent)
    for cand in candidates:
        if (cand / "initdb").is_file() and (cand / "pg_ctl").is_file():
            return cand
    raise PostgresUnavailable(
        "initdb/pg_ctl not found: install the Debian package 'postgresql' "
        "(scripts/test does) or set CORESWITCH_PG_BIN")


def _version_key(text: str) -> tuple[int, ...]:
    return tuple(int(p) for p in text.split(".") if p.isdigit())


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class PostgresCluster:
    """A running throwaway PostgreSQL server. Use :meth:`start`; always :meth:`stop`."""

    def __init__(self, bin_dir: Path, root: Path, port: int, prefix: list[str]) -> None:
        self.bin_dir = bin_dir
        self.root = root
        self.port = port
        self._prefix = prefix
        self._stopped = False

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @classmethod
    def start(cls, *, timeout: float = 30.0, attempts: int = 3) -> PostgresCluster:
        """initdb + pg_ctl start on a free port; raises :class:`PostgresUnavailable`."""
        bin_dir = find_bin_dir()
        prefix: list[str] = []
        owner: pwd.struct_passwd | None = None
        if os.geteuid() == 0:
            try:
                owner = pwd.getpwnam(_RUN_AS)
            except KeyError:
                raise PostgresUnavailable(
                    f"running as root and there is no '{_RUN_AS}' user to run PostgreSQL as"
                ) from None
            runuser = shutil.which("runuser")
            if runuser is None:
                raise PostgresUnavailable("running as root and 'runuser' is not available")
            prefix = [runuser, "-u", _RUN_AS, "--"]
        root = Path(tempfile.mkdtemp(prefix="coreswitch-pg-"))
        if owner is not None:
            os.chown(root, owner.pw_uid, owner.pw_gid)
        root.chmod(0o700)
        cluster = cls(bin_dir, root, 0, prefix)
        try:
            cluster._run("initdb", "-D", str(cluster.data_dir), "-U", _ADMIN_USER, "-A", "trust",
                         "-E", "UTF8", "--locale=C", "--no-sync", timeout=timeout)
            last = ""
            for _ in range(attempts):
                cluster.port = _free_port()
                try:
                    cluster._pg_ctl_start(timeout)
                    return cluster
                except PostgresUnavailable as exc:  # most likely the port was taken meanwhile
                    last = str(exc)
            raise PostgresUnavailable(last)
        except BaseException:
            cluster.stop()
            raise

    def _pg_ctl_start(self, timeout: float) -> None:
        options = (f"-F -p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 "
                   "-c fsync=off -c full_page_writes=off -c synchronous_commit=off")
        self._run("pg_ctl", "-D", str(self.data_dir), "-l", str(self.root / "server.log"),
                  "-o", options, "-w", "-t", str(int(timeout)), "start", timeout=timeout + 5)

    def _run(self, tool: str, *args: str, timeout: float) -> None:
        cmd = [*self._prefix, str(self.bin_dir / tool), *args]
        try:
            done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                                  check=False, cwd=self.root)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise PostgresUnavailable(f"{tool} failed: {exc}") from None
        if done.returncode != 0:
            output = done.stderr.strip() or done.stdout.strip()
            raise PostgresUnavailable(
                f"{tool} exited with {done.returncode}: {output}{self._log_tail()}")

    def _log_tail(self) -> str:
        log = self.root / "server.log"
        try:
            lines = log.read_text(errors="replace").splitlines()[-10:]
        except OSError:
            return ""
        return "\nserver log:\n" + "\n".join(lines) if lines else ""

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://{_ADMIN_USER}@127.0.0.1:{self.port}/{database}"

    def _admin(self, sql: str) -> None:
        import psycopg  # noqa: PLC0415 - a dev dependency; only needed when a cluster runs

        with psycopg.connect(host="127.0.0.1", port=self.port, user=_ADMIN_USER,
                             dbname="postgres", autocommit=True, connect_timeout=10) as conn:
            conn.execute(sql.encode())

    def create_database(self, name: str, *, template: str | None = None) -> str:
        """Create a database (empty, or a copy of ``template``) and return its URL."""
        for ident in (name, template or "x"):
            if not ident.isidentifier():
                raise ValueError(f"database name must be an identifier, got {ident!r}")
        copy = f' TEMPLATE "{template}" STRATEGY FILE_COPY' if template else ""
        self._admin(f'CREATE DATABASE "{name}"{copy}')
        return self.url(name)

    def drop_database(self, name: str) -> None:
        if not name.isidentifier():
            raise ValueError(f"database name must be an identifier, got {name!r}")
        self._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def stop(self) -> None:
        """Stop the server (immediate mode) and remove its directory."""
        if self._stopped:
            return
        self._stopped = True
        try:
            if (self.data_dir / "postmaster.pid").exists():
                self._run("pg_ctl", "-D", str(self.data_dir), "-m", "immediate", "-w", "-t", "20",
                          "stop", timeout=25)
        except PostgresUnavailable:
            pass
        finally:
            shutil.rmtree(self.root, ignore_errors=True)


class _Shared:
    cluster: PostgresCluster | None = None
    error: PostgresUnavailable | None = None


def shared_cluster() -> PostgresCluster:
    """One cluster per process, started on first use and stopped at exit.

    A failed start is remembered, so every caller gets the same :class:`PostgresUnavailable`
    without trying again.
    """
    if _Shared.error is not None:
        raise _Shared.error
    if _Shared.cluster is None:
        try:
            _Shared.cluster = PostgresCluster.start()
        except PostgresUnavailable as exc:
            _Shared.error = exc
            raise
        atexit.register(_Shared.cluster.stop)
    return _Shared.cluster


@contextlib.asynccontextmanager
async def open_test_database(kind: str, directory: Path) -> AsyncIterator[Database]:
    """A fresh, migrated database: ``kind`` is ``"sqlite"`` (a file in ``directory``) or
    ``"postgresql"`` (a new database on :func:`shared_cluster`, dropped afterwards)."""
    if kind == "sqlite":
        db = Database(f"sqlite:///{directory / 'coreswitch.db'}")
        name = None
    elif kind == "postgresql":
        cluster = shared_cluster()
        template = await asyncio.to_thread(_migrated_template, cluster)
        name = f"t_{uuid.uuid4().hex}"
        db = Database(await asyncio.to_thread(cluster.create_database, name, template=template))
    else:
        raise ValueError(f"unknown database kind {kind!r}")
    try:
        await db.upgrade()
        yield db
    finally:
        await db.close()
        if name is not None:
            await asyncio.to_thread(shared_cluster().drop_database, name)


_TEMPLATE = "coreswitch_template"
_templates: set[int] = set()


def _migrated_template(cluster: PostgresCluster) -> str:
    """A database migrated to head once per cluster; test databases are copies of it (fast)."""
    if cluster.port not in _templates:
        db = Database(cluster.create_database(_TEMPLATE))
        try:
            db.upgrade_blocking()
        finally:
            db.close_blocking()
        _templates.add(cluster.port)
    return _TEMPLATE
