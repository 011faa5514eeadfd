"""Real servers the tests start themselves (no mocks): PostgreSQL now; Redis can sit beside it.

``PostgresServer.start()`` runs Debian's PostgreSQL in a throw-away directory, bound to 127.0.0.1 on a
free port, with durability turned off (``fsync=off``: a test server need not survive a power cut).
``initdb`` refuses to run as root, so as root the server runs as the ``postgres`` OS user
(``runuser``); as another user it runs as that user. Each test gets a database of its own
(``create_database``), dropped afterwards (``drop_database``). Missing binaries are a failure with
the reason, never a skip: ``scripts/test.sh`` installs Debian's ``postgresql`` package.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
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

    @property
    def data_dir(self) -> Path:
        return self.workdir / "data"

    @property
    def log_file(self) -> Path:
        return self.workdir / "server.log"

    @classmethod
    def start(cls) -> PostgresServer:
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
        server = cls(bin_dir, workdir, free_port())
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
        options = (
            f"-p {self.port} -k {self.workdir} -c listen_addresses=127.0.0.1 -c max_connections=200 "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        )
        self._run(
            _as_server_user(
                [str(self.bin_dir / "pg_ctl"), "-D", str(self.data_dir), "-o", options]
                + ["-l", str(self.log_file), "-w", "-t", str(START_TIMEOUT_S), "start"]
            )
        )

    @staticmethod
    def _run(args: list[str]) -> None:
        out = subprocess.run(args, capture_output=True, text=True, timeout=START_TIMEOUT_S + 30)
        if out.returncode != 0:
            raise subprocess.SubprocessError(f"{' '.join(args)} failed: {out.stderr.strip() or out.stdout}")

    def stop(self) -> None:
        """Stop the server and remove its directory."""
        if (self.data_dir / "postmaster.pid").exists():
            subprocess.run(
                _as_server_user(
                    [str(self.bin_dir / "pg_ctl"), "-D", str(self.data_dir), "-m", "fast", "stop"]
                ),
                capture_output=True,
                timeout=START_TIMEOUT_S,
            )
        shutil.rmtree(self.workdir, ignore_errors=True)

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

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
