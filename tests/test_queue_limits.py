"""The queue's limits hold under a race: many tabs (threads) and servers (processes) pressing Train in
the same instant, for one visitor (``NNLAB_MAX_QUEUED_PER_VISITOR``) or for many (``NNLAB_MAX_QUEUED``),
on both databases. The runner checks the limits in the same transaction as the insert.

The runs are launched by a recording executor (the runner's launch is not what is tested here, and a
real worker would start TensorFlow for nothing): each launch is "alive" as long as the test runs.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from nnlab.architectures import get_preset
from nnlab.runner import Runner
from nnlab.runs import RunStore, process_handle
from nnlab.validation import InvalidSettings

ROOT = Path(__file__).resolve().parent.parent
SPEC = get_preset("Logistic regression 784-10")
CONFIG = {"epochs": 1, "subset": 500}
THREADS, PROCESSES = 4, 3  # 4 tabs here and 4 in each of 3 other server processes: 16 submits at once

# Each tab of a process submits when the go-file appears; prints what it got, one JSON line.
CHILD = """
import json, os, sys, threading, time
from nnlab.architectures import get_preset
from nnlab.runner import Runner
from nnlab.runs import RunStore, process_handle
from nnlab.validation import InvalidSettings

class Recording:
    def launch(self, store, run_id):
        return {"kind": "local", **process_handle(int(os.environ["TEST_PID"]))}
    def is_alive(self, handle):
        return True

go, ready, owners = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
runner = Runner(RunStore(), max_concurrent=1, executor=Recording())
results = []
def tab(owner):
    while not os.path.exists(go):
        time.sleep(0.001)
    try:
        results.append(["queued", runner.submit(get_preset("Logistic regression 784-10"),
                        {"epochs": 1, "subset": 500}, owner=owner).id])
    except InvalidSettings as exc:
        results.append(["refused", str(exc)])
threads = [threading.Thread(target=tab, args=(o,)) for o in owners]
for t in threads: t.start()
open(ready, "w").close()
for t in threads: t.join()
print(json.dumps(results))
"""


class Recording:
    """Launches nothing; a launched run counts as running (its handle is this test's process)."""

    def launch(self, store: RunStore, run_id: str) -> dict:
        return {"kind": "local", **process_handle()}

    def is_alive(self, handle: dict) -> bool:
        return True


def _race(tmp_path: Path, owners_here: list[str], owners_per_process: list[list[str]]) -> list[list[str]]:
    """Every owner's submit at the same instant, in threads here and in other processes."""
    go = tmp_path / "go"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TEST_PID": str(os.getpid())}
    children = []
    for i, owners in enumerate(owners_per_process):
        ready = tmp_path / f"ready{i}"
        args = [sys.executable, "-c", CHILD, str(go), str(ready), json.dumps(owners)]
        children.append((ready, subprocess.Popen(args, env=env, stdout=subprocess.PIPE, text=True)))
    runner = Runner(RunStore(), max_concurrent=1, executor=Recording())
    results: list[list[str]] = []

    def tab(owner: str) -> None:
        while not go.exists():
            time.sleep(0.001)
        try:
            results.append(["queued", runner.submit(SPEC, CONFIG, owner=owner).id])
        except InvalidSettings as exc:
            results.append(["refused", str(exc)])

    threads = [threading.Thread(target=tab, args=(owner,)) for owner in owners_here]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 120
    while not all(ready.exists() for ready, _ in children) and time.monotonic() < deadline:
        time.sleep(0.05)
    go.touch()  # every tab is waiting for this: they all press Train now
    for thread in threads:
        thread.join(60)
    for _, child in children:
        out, _ = child.communicate(timeout=120)
        assert child.returncode == 0
        results += json.loads(out.strip().splitlines()[-1])
    return results


def test_one_visitor_pressing_train_in_many_tabs_at_once_queues_one_run(backend, tmp_path, monkeypatch):
    monkeypatch.setenv("NNLAB_MAX_QUEUED_PER_VISITOR", "1")
    visitor = "v" * 32
    results = _race(tmp_path, [visitor] * THREADS, [[visitor] * THREADS] * PROCESSES)

    assert len(results) == THREADS * (PROCESSES + 1)
    accepted = [r for r in results if r[0] == "queued"]
    assert len(accepted) == 1, results
    refusals = [message for kind, message in results if kind == "refused"]
    assert all("this demo allows 1 run per visitor at a time" in m for m in refusals)
    store = RunStore()
    assert [r.id for r in store.list(owner=visitor, include_unowned=False)] == [accepted[0][1]]
    assert len(list((store.root / "runs").iterdir())) == 1  # no folder left by a refused submit


def test_the_whole_queue_is_bounded_across_visitors(backend, tmp_path, monkeypatch):
    monkeypatch.setenv("NNLAB_MAX_QUEUED", "3")
    store = RunStore()
    first = Runner(store, max_concurrent=1, executor=Recording()).submit(SPEC, CONFIG, owner="early")
    assert store.get(first.id).status == "running"  # the one slot is taken: the rest must wait
    visitors = [f"visitor-{i:02d}" for i in range(THREADS * (PROCESSES + 1))]  # private windows
    chunks = [visitors[i : i + THREADS] for i in range(0, len(visitors), THREADS)]
    results = _race(tmp_path, chunks[0], chunks[1:])

    accepted = [r for r in results if r[0] == "queued"]
    assert len(accepted) == 3, results
    assert len(store.queued_ids()) == 3
    refusals = [message for kind, message in results if kind == "refused"]
    assert len(refusals) == len(visitors) - 3
    assert all("The queue of this server is full" in m and "at most 3" in m for m in refusals)


def test_the_operator_is_not_refused_by_the_visitors_limits(backend, monkeypatch):
    monkeypatch.setenv("NNLAB_MAX_QUEUED", "1")
    runner = Runner(RunStore(), max_concurrent=1, executor=Recording())
    runner.submit(SPEC, CONFIG, owner="a")
    runner.submit(SPEC, CONFIG, owner="b")  # waits: the queue is now full for visitors
    with pytest.raises(InvalidSettings, match="queue of this server is full"):
        runner.submit(SPEC, CONFIG, owner="c")
    assert runner.submit(SPEC, CONFIG).status == "queued"  # the terminal's run (no owner) still queues


def test_the_page_says_the_queue_is_full(monkeypatch):
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("NNLAB_MAX_QUEUED", "1")
    runner = Runner(RunStore(), max_concurrent=1, executor=Recording())
    runner.submit(SPEC, CONFIG, owner="someone")
    runner.submit(SPEC, CONFIG, owner="someone-else")
    at = AppTest.from_file(str(ROOT / "pages" / "1_Build_and_Train.py"), default_timeout=90)
    at.query_params["visitor"] = "a" * 32
    at.run()
    assert not at.exception
    assert at.button(key="train_button").disabled
    assert any("The queue of this server is full" in i.value for i in at.info)
