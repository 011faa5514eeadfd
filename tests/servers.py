"""Real servers the tests start themselves (no mocks): PostgreSQL and Redis.

``PostgresServer.start()`` runs Debian's PostgreSQL in a throw-away directory, bound to 127.0.0.1 on a
free port, with durability turned off (``fsync=off``: a test server need not survive a power cut).
``initdb`` refuses to run as root, so as root the server runs as the ``postgres`` OS user
(``runuser``); as another user it runs as that user. Each test gets a database of its own
(``create_database``), dropped afterwards (``drop_database``). Missing binaries are a failure with
the reason, never a skip: ``scripts/test.sh`` installs Debian's ``postgresql`` package.

A server may also run inside a network namespace (``prefix``: the ``ip netns exec NAME`` words put
before its commands) and listen on that namespace's address (``listen``), as a separate host
(``tests/cluster.py``). ``RedisServer`` is Debian's ``redis-server`` (installed by ``scripts/test.sh``)
without persistence, restartable on the same port.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

POSTGRES_TOOLS = ("initdb", "pg_ctl")
START_TIMEOUT_S = 60


class ServerUnavailable(RuntimeError):
    """A server the tests need cannot be found or started (the message says why and what to do)."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def postgres_bin_dir() -> Path | None:
    """The folder holding ``initdb`` and ``pg_ctl``: on PATH, else Debian's ``/usr/lib/postgresql/*/bin``."""
    on_path = [shutil.which(tool) for tool in POSTGRES_TOOLS]
    if all(on_path):
        return Path(os.path.realpath(on_path[0])).parent
    candidates = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[-3].split(".")[0])
    )
    return Path(candidates[-1]).parent if candidates else None


def _as_server_user(args: list[str]) -> list[str]:
    """``args`` run as the ``postgres`` OS user when we are root (``initdb`` refuses root)."""
    return ["runuser", "-u", "postgres", "--", *args] if os.geteuid() == 0 else args


@dataclass
class PostgresServer:
    """A running PostgreSQL server of the tests' own; ``url(name)`` is a database's SQLAlchemy URL."""

    bin_dir: Path
    workdir: Path
    port: int
    databases: list[str] = field(default_factory=list)
    prefix: list[str] = field(default_factory=list)  # e.g. ["ip", "netns", "exec", NAME]
    listen: str = "127.0.0.1"

    @property
    def data_dir(self) -> Path:
        return self.workdir / "data"

    @property
    def log_file(self) -> Path:
        return self.workdir / "server.log"

    @classmethod
    def start(cls, prefix: list[str] | None = None, listen: str = "127.0.0.1") -> PostgresServer:
        bin_dir = postgres_bin_dir()
        if bin_dir is None:
            raise ServerUnavailable(
                "PostgreSQL's server programs (initdb, pg_ctl) were not found on PATH nor in "
                "/usr/lib/postgresql/*/bin: install Debian's postgresql package "
                "(apt-get install postgresql; scripts/test.sh does it)."
            )
        # Not under pytest's tmp folder: its parents are private to root, the server user must reach it.
        workdir = Path(tempfile.mkdtemp(prefix="nnlab-pg-"))
        workdir.chmod(0o777)
        port = free_port() if listen == "127.0.0.1" else 5432  # a namespace of its own: the usual port
        server = cls(bin_dir, workdir, port, [], prefix or [], listen)
        try:
            server._init_and_start()
        except (OSError, subprocess.SubprocessError) as exc:
            log = server.log_file.read_text(errors="replace")[-2000:] if server.log_file.exists() else ""
            server.stop()
            raise ServerUnavailable(f"PostgreSQL could not be started: {exc}\n{log}") from exc
        return server

    def _init_and_start(self) -> None:
        self._run(
            _as_server_user(
                [str(self.bin_dir / "initdb"), "-D", str(self.data_dir), "-A", "trust", "-U", "postgres"]
            )
        )
        if self.listen != "127.0.0.1":  # other hosts (the test's namespaces) reach it over the network
            with open(self.data_dir / "pg_hba.conf", "a") as hba:
                hba.write(f"host all all {self.listen.rsplit('.', 2)[0]}.0.0/16 trust\n")
        options = (
            f"-p {self.port} -k {self.workdir} -c listen_addresses={self.listen} -c max_connections=200 "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        )
        self.pg_ctl("-o", options, "-l", str(self.log_file), "-w", "-t", str(START_TIMEOUT_S), "start")

    def pg_ctl(self, *args: str) -> None:
        """Run ``pg_ctl -D DATA ARGS`` where the server runs (its namespace), as its user."""
        self._run(self._pg_ctl_args(*args))

    def _pg_ctl_args(self, *args: str) -> list[str]:
        return self.prefix + _as_server_user([str(self.bin_dir / "pg_ctl"), "-D", str(self.data_dir), *args])

    def restart(self) -> None:
        """Stop the server (fast: connections are cut) and start it again on the same port."""
        self.pg_ctl("-m", "fast", "-l", str(self.log_file), "-w", "-t", str(START_TIMEOUT_S), "restart")

    @staticmethod
    def _run(args: list[str]) -> None:
        out = subprocess.run(args, capture_output=True, text=True, timeout=START_TIMEOUT_S + 30)
        if out.returncode != 0:
            raise subprocess.SubprocessError(f"{' '.join(args)} failed: {out.stderr.strip() or out.stdout}")

    def stop(self) -> None:
        """Stop the server and remove its directory."""
        if (self.data_dir / "postmaster.pid").exists():
            subprocess.run(
                self._pg_ctl_args("-m", "fast", "stop"), capture_output=True, timeout=START_TIMEOUT_S
            )
        shutil.rmtree(self.workdir, ignore_errors=True)

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@{self.listen}:{self.port}/{database}"

    def admin(self, sql: str) -> None:
        """Run one statement outside a transaction (CREATE/DROP DATABASE) as the superuser."""
        import psycopg

        with psycopg.connect(f"host=127.0.0.1 port={self.port} user=postgres dbname=postgres") as con:
            con.autocommit = True
            con.execute(sql)

    def create_database(self) -> str:
        """A new, empty database; returns its URL."""
        name = f"nnlab_{uuid.uuid4().hex[:12]}"
        self.admin(f'CREATE DATABASE "{name}"')
        self.databases.append(name)
        return self.url(name)

    def drop_database(self, url: str) -> None:
        """Drop a database made by ``create_database`` (closing whatever is still connected to it)."""
        name = url.rsplit("/", 1)[1]
        self.admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if name in self.databases:
            self.databases.remove(name)


@dataclass
class RedisServer:
    """Debian's ``redis-server`` on ``listen``:``port``, keeping nothing on disk (``restart``: same port)."""

    workdir: Path
    port: int
    prefix: list[str] = field(default_factory=list)
    listen: str = "127.0.0.1"
    process: subprocess.Popen | None = None

    @classmethod
    def start(cls, prefix: list[str] | None = None, listen: str = "127.0.0.1") -> RedisServer:
        if shutil.which("redis-server") is None:
            raise ServerUnavailable(
                "redis-server was not found on PATH: install Debian's redis-server package "
                "(apt-get install redis-server; scripts/test.sh does it)."
            )
        port = free_port() if listen == "127.0.0.1" else 6379
        server = cls(Path(tempfile.mkdtemp(prefix="nnlab-redis-")), port, prefix or [], listen)
        server._start()
        return server

    @property
    def url(self) -> str:
        return f"redis://{self.listen}:{self.port}/0"

    def _start(self) -> None:
        args = ["redis-server", "--bind", self.listen, "--port", str(self.port), "--save", ""]
        args += ["--appendonly", "no", "--protected-mode", "no", "--dir", str(self.workdir)]
        log = open(self.workdir / "redis.log", "ab")  # noqa: SIM115 (the server writes it while it runs)
        self.process = subprocess.Popen(self.prefix + args, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + START_TIMEOUT_S
        while b"Ready to accept connections" not in (self.workdir / "redis.log").read_bytes():
            if self.process.poll() is not None or time.monotonic() > deadline:
                text = (self.workdir / "redis.log").read_text(errors="replace")[-2000:]
                raise ServerUnavailable(f"redis-server could not be started:\n{text}")
            time.sleep(0.05)

    def restart(self) -> None:
        """Stop the server (its queue is lost: nothing was kept on disk) and start it again."""
        self.pause()
        self.resume()

    def pause(self) -> None:
        """Stop the server for a while (``resume`` starts it again on the same port, empty)."""
        self._terminate()

    def resume(self) -> None:
        (self.workdir / "redis.log").write_bytes(b"")
        self._start()

    def _terminate(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def stop(self) -> None:
        self._terminate()
        shutil.rmtree(self.workdir, ignore_errors=True)
