"""Several hosts on one machine for the cluster tests: network namespaces joined by veth pairs.

``Cluster.start()`` makes (as root, with ``ip netns``) a switch namespace holding a bridge and one
namespace per host, each with a veth pair into the bridge and an address 10.213.N.x/24 of its own,
and its own host name (``unshare --uts``): nothing can go through loopback or a shared local disk
(each host has its own ``NNLAB_HOME``). Hosts: ``db`` (PostgreSQL and Redis), ``w1`` and ``w2``
(Celery workers), ``web`` (the web tier: ``tests/cluster_client.py``). Where namespaces cannot be
made, ``Cluster.start`` says why (``fallback_reason``) and the hosts are plain processes on loopback
with separate data folders. ``stop()`` kills every process it started and removes the namespaces.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from tests.servers import PostgresServer, RedisServer

REPO = Path(__file__).resolve().parent.parent
HOSTS = ("db", "w1", "w2", "web")
SUBNET = "10.213"


@dataclass
class Host:
    """One host: its namespace (None on loopback), address, host name and data folder."""

    name: str
    netns: str | None
    address: str
    home: Path

    def prefix(self) -> list[str]:
        """The words that run a command on this host (its namespace and its own host name)."""
        if self.netns is None:
            return []
        rename = 'hostname "$0" && exec "$@"'
        return [
            "ip",
            "netns",
            "exec",
            self.netns,
            "unshare",
            "--uts",
            "sh",
            "-c",
            rename,
            f"nnlab-{self.name}",
        ]


@dataclass
class Cluster:
    hosts: dict[str, Host]
    workdir: Path
    fallback_reason: str | None = None
    postgres: PostgresServer | None = None
    redis: RedisServer | None = None
    processes: list[subprocess.Popen] = field(default_factory=list)
    workers: dict[str, subprocess.Popen] = field(default_factory=dict)  # host -> its Celery worker
    namespaces: list[str] = field(default_factory=list)

    @classmethod
    def start(cls) -> Cluster:
        workdir = Path(tempfile.mkdtemp(prefix="nnlab-cluster-"))
        tag = uuid.uuid4().hex[:5]
        cluster = cls({}, workdir)
        try:
            cluster._make_namespaces(tag)
        except (OSError, subprocess.CalledProcessError) as exc:
            cluster._remove_namespaces()
            detail = getattr(exc, "stderr", b"") or b""
            cluster.fallback_reason = (
                f"network namespaces cannot be made here ({exc}; {detail.decode()[:200]})"
            )
            cluster.hosts = {name: Host(name, None, "127.0.0.1", workdir / name) for name in HOSTS}
        for host in cluster.hosts.values():
            host.home.mkdir(parents=True, exist_ok=True)
        db = cluster.hosts["db"]
        listen = db.address
        cluster.postgres = PostgresServer.start(prefix=db.prefix()[:4], listen=listen)
        cluster.redis = RedisServer.start(prefix=db.prefix()[:4], listen=listen)
        return cluster

    def _make_namespaces(self, tag: str) -> None:
        if os.geteuid() != 0 or shutil.which("ip") is None or shutil.which("unshare") is None:
            raise OSError("not root, or ip/unshare missing")
        switch = f"nnsw-{tag}"
        self._ip("netns", "add", switch)
        self.namespaces.append(switch)
        self._ip("netns", "exec", switch, "ip", "link", "add", "br0", "type", "bridge")
        self._ip("netns", "exec", switch, "ip", "link", "set", "br0", "up")
        for index, name in enumerate(HOSTS, start=1):
            netns, address = f"nn{name}-{tag}", f"{SUBNET}.0.{index}"
            self._ip("netns", "add", netns)
            self.namespaces.append(netns)
            inside, outside = f"v{name}{tag}", f"s{name}{tag}"
            self._ip("link", "add", inside, "type", "veth", "peer", "name", outside)
            self._ip("link", "set", inside, "netns", netns)
            self._ip("link", "set", outside, "netns", switch)
            self._ip("netns", "exec", switch, "ip", "link", "set", outside, "master", "br0", "up")
            for args in (["addr", "add", f"{address}/24", "dev", inside], ["link", "set", inside, "up"]):
                self._ip("netns", "exec", netns, "ip", *args)
            self._ip("netns", "exec", netns, "ip", "link", "set", "lo", "up")
            self.hosts[name] = Host(name, netns, address, self.workdir / name)

    @staticmethod
    def _ip(*args: str) -> None:
        subprocess.run(["ip", *args], check=True, capture_output=True, timeout=30)

    def _remove_namespaces(self) -> None:
        for netns in reversed(self.namespaces):
            subprocess.run(["ip", "netns", "delete", netns], capture_output=True, timeout=30)
        self.namespaces = []

    # ---- what runs on the hosts --------------------------------------------------------------------

    def env(self, host: str, **extra: str) -> dict[str, str]:
        """The environment of an NN Lab process on ``host``: its folder, the database and the broker."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("NNLAB_")}
        env.update(
            NNLAB_HOME=str(self.hosts[host].home),
            NNLAB_DATABASE_URL=self.postgres.url(),
            NNLAB_BROKER_URL=self.redis.url,
            NNLAB_HEARTBEAT_TIMEOUT="8",
            PYTHONPATH=str(REPO),
            TF_CPP_MIN_LOG_LEVEL="2",
        )
        env.update(extra)
        return env

    def start_worker(self, host: str, **extra: str) -> subprocess.Popen:
        """``nnlab worker --celery`` on ``host`` (its own session: killed with its pool at the end)."""
        log = open(self.workdir / f"worker-{host}.log", "ab")  # noqa: SIM115 (written while it runs)
        args = [sys.executable, "-m", "nnlab", "worker", "--celery", "--loglevel", "WARNING"]
        where = self.hosts[host]
        proc = subprocess.Popen(
            where.prefix() + args, env=self.env(host, **extra), stdout=log, stderr=subprocess.STDOUT,
            cwd=where.home, start_new_session=True,
        )  # fmt: skip
        self.processes.append(proc)
        return proc

    def wait_warm(self, hosts: list[str], timeout: float = 240) -> None:
        """Until each host's worker said it is warm (imported TensorFlow, heartbeat started)."""
        deadline = time.monotonic() + timeout
        for host in hosts:
            path = self.workdir / f"worker-{host}.log"
            while b": warm in" not in path.read_bytes():
                assert time.monotonic() < deadline, f"worker on {host} not warm: {path.read_text()[-3000:]}"
                time.sleep(0.2)

    def client(self, *args: str, host: str = "web", timeout: float = 300) -> object:
        """Run ``tests/cluster_client.py ARGS`` on ``host``; its JSON answer."""
        out = subprocess.run(
            self.hosts[host].prefix() + [sys.executable, str(REPO / "tests" / "cluster_client.py"), *args],
            env=self.env(host), capture_output=True, text=True, timeout=timeout, cwd=self.hosts[host].home,
        )  # fmt: skip
        assert out.returncode == 0, f"client {args} failed:\n{out.stderr[-3000:]}"
        return json.loads(out.stdout.strip().splitlines()[-1])

    def pool_pids(self, worker: subprocess.Popen) -> list[int]:
        """The pool processes (the ones that train) of a Celery worker."""
        out = subprocess.run(["pgrep", "-P", str(worker.pid)], capture_output=True, text=True)
        return [int(p) for p in out.stdout.split()]

    def stop(self) -> None:
        for proc in self.processes:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            proc.wait(30)
        for server in (self.redis, self.postgres):
            if server is not None:
                server.stop()
        self._remove_namespaces()
        shutil.rmtree(self.workdir, ignore_errors=True)
