"""NN Lab on a cluster: the web tier, PostgreSQL, Redis and two Celery workers on separate hosts.

The hosts are network namespaces with host names of their own (``tests/cluster.py``): the web tier
(``tests/cluster_client.py``) reaches the runs, metrics and models only through PostgreSQL, and the
workers only through PostgreSQL and Redis; each host has its own data folder. Every server is the
real program, started here. One cluster serves the whole module (the workers import TensorFlow once).
Fault tests: a worker killed with SIGKILL mid-run, the web tier killed, PostgreSQL and Redis
restarted during a run, a stop request to a run on another host.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from tests.cluster import REPO, Cluster

pytestmark = pytest.mark.distributed

QUICK = ("1", "400")  # epochs, training subset: a run of a few seconds
LONG = ("40", "2000")  # a run that trains until it is stopped or its worker is killed


@pytest.fixture(scope="module")
def cluster():
    from tests.servers import ServerUnavailable

    try:
        made = Cluster.start()
    except ServerUnavailable as exc:
        pytest.fail(str(exc), pytrace=False)
    try:
        if made.fallback_reason:  # said, not skipped: the test runs on loopback instead
            print(f"\nfalling back to separate processes on loopback: {made.fallback_reason}")
        made.workers = {host: made.start_worker(host) for host in ("w1", "w2")}
        made.wait_warm(["w1", "w2"])
        yield made
    finally:
        made.stop()


def _wait_running(cluster: Cluster, run_id: str, timeout: float = 180) -> dict:
    """Until the run trains (its first batch is stored); the run."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = cluster.client("runs", run_id)[run_id]
        if run["status"] == "running" and run["progress"].get("batch"):
            return run
        assert run["status"] in ("queued", "running"), run
        time.sleep(0.5)
    raise AssertionError(f"run {run_id} did not start training in {timeout} s")


def test_runs_train_on_other_hosts_and_are_evaluated_on_the_web_host(cluster):
    # The web tier queues two runs and is then killed (kill -9): nothing it held is needed.
    web = subprocess.Popen(
        cluster.hosts["web"].prefix()
        + [sys.executable, str(REPO / "tests" / "cluster_client.py"), "submit-and-hold", "2", *QUICK],
        env=cluster.env("web"), stdout=subprocess.PIPE, text=True, cwd=cluster.hosts["web"].home,
    )  # fmt: skip
    ids = json.loads(web.stdout.readline())
    os.kill(web.pid, signal.SIGKILL)
    web.wait(30)

    runs = cluster.client("wait", "240", *ids)  # a web tier started again sees them finish
    assert [runs[i]["status"] for i in ids] == ["completed", "completed"], runs
    workers = {(runs[i]["worker"]["host"], runs[i]["worker"]["pid"]) for i in ids}
    assert len(workers) == 2, f"both runs trained by one worker: {workers}"  # prefetch 1: no queue behind one
    if not cluster.fallback_reason:
        assert {host for host, _ in workers} == {"nnlab-w1", "nnlab-w2"}

    scored = cluster.client("evaluate", ids[0])  # the model came from the database to the web host
    assert scored["accuracy"] > 0.6
    assert scored["model_file"].startswith(str(cluster.hosts["web"].home))
    connected = cluster.client("workers")
    assert sorted(w["kind"] for w in connected) == ["celery", "celery"]


def test_a_stop_request_reaches_a_run_on_another_host(cluster):
    (run_id,) = cluster.client("submit", "1", *LONG)
    _wait_running(cluster, run_id)
    asked = cluster.client("stop", run_id)["stop_requested_at"]
    run = cluster.client("wait", "60", run_id)[run_id]
    assert run["status"] == "stopped", run
    assert run["progress"]["epoch"] < int(LONG[0])
    print(f"\nstop request to the stored final status: {run['finished'] - asked:.2f} s")


def test_redis_and_postgresql_restarting_during_a_run_lose_nothing(cluster):
    (run_id,) = cluster.client("submit", "1", "12", "2000")
    _wait_running(cluster, run_id)
    cluster.redis.pause()  # the broker is down: its queue is lost (nothing was kept on disk) ...
    (queued_after,) = cluster.client("submit", "1", *QUICK)  # ... so this run cannot be announced
    cluster.redis.resume()  # the web tier's dispatcher announces it again once it has waited
    cluster.postgres.restart()  # every connection is cut while the run writes its metrics
    runs = cluster.client("wait", "300", run_id, queued_after)
    assert runs[run_id]["status"] == "completed", runs[run_id]  # the recorder waited for the database
    assert runs[run_id]["progress"]["epoch"] == 12
    assert runs[queued_after]["status"] == "completed", runs[queued_after]


def test_a_worker_killed_mid_run_fails_its_run_and_the_others_go_on(cluster):
    first, second = cluster.client("submit", "2", LONG[0], "1500")
    run = _wait_running(cluster, first)
    victim = next(h for h, w in cluster.workers.items() if run["worker"]["pid"] in cluster.pool_pids(w))
    os.kill(run["worker"]["pid"], signal.SIGKILL)  # the training process: the machine "lost" it

    failed = cluster.client("wait", "90", first)[first]
    assert failed["status"] == "failed"
    assert "stopped answering" in failed["error"] or "ended unexpectedly" in failed["error"]
    if not cluster.fallback_reason:  # seen from the web host by the heartbeat alone
        assert f"on nnlab-{victim}" in failed["error"], failed["error"]
    cluster.client("stop", second)  # the other run trains on (or starts); stop it to go on quickly
    other = cluster.client("wait", "240", second)[second]
    assert other["status"] in ("stopped", "completed"), other
