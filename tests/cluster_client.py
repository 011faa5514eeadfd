"""The web tier's side of the cluster tests, run on the "web" host (``tests/cluster.py``).

It reaches the run store (PostgreSQL) and the broker (Redis) only over the network, as a web server
does, with a local folder of its own (``NNLAB_HOME``). One JSON answer on stdout per command:

- ``submit N EPOCHS SUBSET``: queue N quick trainings (what Train does), their ids;
- ``wait SECONDS ID...``: wait until the runs end (or the time runs out), then the runs;
- ``runs ID...``: the runs as they stand (status, error, worker handle, progress);
- ``stop ID``: ask a run to stop (what Stop does);
- ``evaluate ID``: load the run's model from the store and score it on 1,000 test images;
- ``workers``: the connected workers (heartbeats), and how many train;
- ``submit-and-hold N EPOCHS SUBSET``: as ``submit``, then stay alive (a web server) until killed.
"""

from __future__ import annotations

import json
import sys
import time

from nnlab.architectures import get_preset
from nnlab.runner import Runner
from nnlab.runs import RunStore

QUICK_MLP = get_preset("MLP 784-128-10")


def _runs(store: RunStore, ids: list[str]) -> dict:
    out = {}
    for run_id in ids:
        run = store.require(run_id)
        out[run_id] = {
            "status": run.status,
            "error": run.error,
            "worker": run.worker,
            "progress": run.progress,
            "test_accuracy": run.test_accuracy,
            "started": run.started,
            "finished": run.finished,
        }
    return out


def main(argv: list[str]) -> object:
    store = RunStore()
    command, args = argv[0], argv[1:]
    if command in ("submit", "submit-and-hold"):
        count, epochs, subset = (int(a) for a in args)
        config = {"epochs": epochs, "subset": subset, "batch_size": 32, "validation_fraction": 0.1}
        runner = Runner(store)
        ids = [runner.submit(QUICK_MLP, config, name=f"cluster run {i}").id for i in range(count)]
        if command == "submit-and-hold":
            print(json.dumps(ids), flush=True)
            while True:
                time.sleep(60)
        return ids
    if command == "wait":
        deadline, ids = time.monotonic() + float(args[0]), args[1:]
        runner = Runner(store)  # one, as a web server keeps: its executor paces the announcements again
        while time.monotonic() < deadline:
            runner.dispatch()  # what the web server's background dispatcher does every 2 s
            if not any(store.require(i).is_active for i in ids):
                break
            time.sleep(0.25)
        return _runs(store, ids)
    if command == "runs":
        return _runs(store, args)
    if command == "stop":
        Runner(store).stop(args[0])
        return {"stop_requested_at": time.time()}
    if command == "evaluate":
        from nnlab.evaluation import accuracy_and_loss, mnist_test_set, predict_test
        from nnlab.modelio import load_model_safely

        model = load_model_safely(store.model_path(args[0]))
        _, y = mnist_test_set()
        probs = predict_test(model)
        return {"accuracy": accuracy_and_loss(probs, y)[0], "model_file": str(store.model_path(args[0]))}
    if command == "workers":
        from nnlab.runs.heartbeats import connected_workers

        return connected_workers(store)
    raise SystemExit(f"unknown command {command!r}")


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1:])), flush=True)
