"""Class mode in the run store, on SQLite and on a real PostgreSQL (the ``backend`` fixture): the teacher's
secret kept only as a hash, display names checked, the class's limits enforced when a student submits
(also by submits racing each other), the leaderboard and its challenge, the teacher's view of every
student's runs, and a store of the previous schema version gaining the new tables.

Submitted runs stay queued behind a run that holds the only training slot (``busy_runner``), so no
TensorFlow is loaded here; trainings that end are written into the store as a worker writes them.
"""

from __future__ import annotations

import hashlib
import threading

import pytest
import sqlalchemy as sa
from factories import busy_runner, finish

from nnlab.architectures import get_preset
from nnlab.classes import Challenge, ClassLimits, ClassStore, Training, best_per_student, submit_trainings
from nnlab.runs import RunStore
from nnlab.runs.schema import SCHEMA_VERSION, classes, sweeps
from nnlab.sharing import encode
from nnlab.sweeps import Axis, SweepStore, submit_sweep
from nnlab.training import TrainConfig
from nnlab.validation import InvalidSettings

LOGREG = get_preset("Logistic regression 784-10")  # 7,850 parameters
MLP = get_preset("MLP 784-128-10")  # 101,770 parameters
QUICK = TrainConfig(epochs=1, subset=300)


@pytest.fixture
def runner(backend):
    return busy_runner()


def _refused(call, *words: str) -> str:
    with pytest.raises(InvalidSettings) as caught:
        call()
    text = str(caught.value)
    for word in words:
        assert word in text, text
    return text


def test_the_teacher_secret_is_kept_only_as_a_hash(backend):
    store = ClassStore(RunStore())
    classroom, secret = store.create("  Year 10,\tTuesday  ")
    assert classroom.name == "Year 10, Tuesday" and len(secret) >= 40
    with store.db.connect() as con:
        row = con.execute(sa.select(classes)).one()._mapping
    assert row["teacher_hash"] == hashlib.sha256(secret.encode()).hexdigest()
    assert not any(secret in str(value) for value in row.values())
    assert store.for_teacher(secret) == classroom
    for wrong in (secret[:-1], secret + "x", "", None, classroom.id, row["teacher_hash"]):
        assert store.for_teacher(wrong) is None
    other, other_secret = store.create("Year 11")
    assert store.for_teacher(other_secret) == other and other_secret != secret
    _refused(lambda: store.create("   "), "name")
    _refused(lambda: store.create("x" * 81), "at most 80")


def test_display_names_are_checked_and_unique_in_a_class(backend):
    store = ClassStore(RunStore())
    year10, _ = store.create("Year 10")
    year11, _ = store.create("Year 11")
    for bad, words in [
        ("", "Choose the name"),
        ("   ", "Choose the name"),
        ("x" * 31, "at most 30"),
        ("Ada\u202egnirts", "hidden characters"),
        ("Ada\u200b", "hidden characters"),
        ("!!!", "'!!!'"),
    ]:
        _refused(lambda bad=bad: store.join(year10.id, "visitor-x", bad), words)
    assert store.member("visitor-x") is None
    ada = store.join(year10.id, "visitor-a", "  Ada  Lovelace ")
    assert ada.display_name == "Ada Lovelace" and store.member("visitor-a") == ada
    assert store.join(year10.id, "visitor-a", "Ada Lovelace") == ada  # joining again changes nothing
    _refused(lambda: store.join(year10.id, "visitor-b", "ADA LOVELACE"), "already called")
    assert store.join(year11.id, "visitor-b", "Ada Lovelace").class_id == year11.id  # another class
    _refused(lambda: store.join(year11.id, "visitor-a", "Ada L"), "already a student", "'Year 10'")
    _refused(lambda: store.join("no-such-class", "visitor-c", "Cy"), "does not lead to a class")
    assert [m.display_name for m in store.members(year10.id)] == ["Ada Lovelace"]


def test_class_limits_are_enforced_when_a_student_submits(runner):
    store = ClassStore(runner.store)
    classroom, _ = store.create("Year 10")
    store.set_limits(classroom.id, ClassLimits(max_epochs=2, max_params=20_000, max_runs=2))
    ada = store.join(classroom.id, "visitor-a", "Ada")

    def submit(spec=LOGREG, config=QUICK):
        return submit_trainings(runner, [Training(spec, config, "mine")], owner="visitor-a", member=ada)

    _refused(lambda: submit(MLP), "at most 20,000 parameters", "101,770")
    _refused(lambda: submit(config=TrainConfig(epochs=3, subset=300)), "at most 2 epochs (asked for 3)")
    first, second = submit()[0], submit()[0]
    assert store.used(ada) == 2
    _refused(submit, "may start 2 trainings", "you have started 2")
    runner.store.update(first.id, status="failed", error="out of memory")
    third = submit()[0]  # a failed training gives its slot back
    runner.store.request_stop(third.id)
    runner.store.delete(third.id)  # a deleted one does not
    _refused(submit, "you have started 2")
    assert {r.id for _, r in store.trained_runs(classroom.id)} == {first.id, second.id}
    # The operator's runs and another visitor's are not the class's.
    assert len(runner.store.list()) == 3


def test_submits_racing_each_other_cannot_pass_the_limit(runner):
    store = ClassStore(runner.store)
    classroom, _ = store.create("Year 10")
    store.set_limits(classroom.id, ClassLimits(max_runs=2))
    ada = store.join(classroom.id, "visitor-a", "Ada")
    outcomes: list[str] = []
    gate = threading.Barrier(6)

    def submit() -> None:
        gate.wait()
        try:
            submit_trainings(runner, [Training(LOGREG, QUICK)], owner="visitor-a", member=ada)
            outcomes.append("queued")
        except InvalidSettings:
            outcomes.append("refused")

    threads = [threading.Thread(target=submit) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert sorted(outcomes) == ["queued"] * 2 + ["refused"] * 4
    assert len(runner.store.list(owner="visitor-a")) == 2 and store.used(ada) == 2


def test_a_sweep_counts_as_all_its_runs_against_the_class(runner):
    store = ClassStore(runner.store)
    classroom, _ = store.create("Year 10")
    store.set_limits(classroom.id, ClassLimits(max_runs=5))
    ada = store.join(classroom.id, "visitor-a", "Ada")
    lr_batch = [Axis("learning_rate", (1e-3, 1e-2)), Axis("batch_size", (16, 32, 64))]

    def sweep(axes):
        return submit_sweep(runner, owner="visitor-a", spec=LOGREG, config=QUICK, axes=axes, member=ada)

    _refused(lambda: sweep(lr_batch), "may start 5", "this would start 6")
    assert runner.store.list(owner="visitor-a") == [] and SweepStore(runner.store).list("visitor-a") == []
    done = sweep(lr_batch[:1] + [Axis("batch_size", (16, 32))])
    assert len(done.cells) == 4 and store.used(ada) == 4
    _refused(lambda: sweep(lr_batch[:1]), "you have started 4; this would start 2")
    store.set_hidden(classroom.id, ["sweeps"])
    store.set_limits(classroom.id, ClassLimits())
    _refused(lambda: sweep(lr_batch[:1]), "does not use sweeps")


def test_a_hidden_layer_editor_allows_the_presets_and_the_class_network_only(runner):
    store = ClassStore(runner.store)
    classroom, _ = store.create("Year 10")
    output = {"kind": "Dense", "units": 10, "activation": "softmax"}
    start = {"name": "Class net", "layers": [{"kind": "Flatten"}, {"kind": "Dense", "units": 16}, output]}
    store.set_start(classroom.id, encode(start, QUICK))
    store.set_hidden(classroom.id, ["layer_editor", "take_home"])
    ada = store.join(classroom.id, "visitor-a", "Ada")
    own = {"name": "Renamed preset", "layers": LOGREG["layers"]}

    def submit(spec):
        return submit_trainings(runner, [Training(spec, QUICK)], owner="visitor-a", member=ada)

    assert submit(own) and submit(start)  # a preset (whatever its name) and the class's own network
    wider = {**start, "layers": [start["layers"][0], {"kind": "Dense", "units": 17}, start["layers"][2]]}
    _refused(lambda: submit(wider), "preset networks or the class's starting network only")
    _refused(lambda: store.set_hidden(classroom.id, ["layer_editor", "everything"]), "'everything'")
    _refused(lambda: store.set_start(classroom.id, "1garbage"), "damaged")
    assert store.get(classroom.id).hidden == {"layer_editor", "take_home"}


def test_the_leaderboard_ranks_finished_runs_and_checks_the_challenge(runner):
    store = ClassStore(runner.store)
    classroom, _ = store.create("Year 10")
    ada = store.join(classroom.id, "visitor-a", "Ada")
    bob = store.join(classroom.id, "visitor-b", "Bob")
    store.join(classroom.id, "visitor-c", "Cy")  # joined, no run yet

    def train(member, spec, accuracy=None, seconds=10.0, status="completed"):
        run = submit_trainings(runner, [Training(spec, QUICK)], owner=member.visitor, member=member)[0]
        if accuracy is not None:
            finish(runner.store, run.id, accuracy, seconds, status)
        return run

    ada_small, ada_big = train(ada, LOGREG, 0.91), train(ada, MLP, 0.97)
    bob_small = train(bob, LOGREG, 0.92, seconds=50.0, status="stopped")
    train(bob, LOGREG)  # still queued: not on the board
    runner.store.create(MLP, QUICK.to_dict(), owner="visitor-a")  # trained outside the class: not on it
    board = store.leaderboard(store.get(classroom.id))
    assert [(e.display_name, e.run_id) for e in board] == [
        ("Ada", ada_big.id), ("Bob", bob_small.id), ("Ada", ada_small.id)
    ]  # fmt: skip
    assert (
        board[0].network == "MLP 784-128-10" and board[0].n_params == 101_770 and all(e.meets for e in board)
    )
    classroom = store.set_challenge(classroom.id, Challenge("Best under 20,000 parameters", 20_000, 30))
    board = store.leaderboard(classroom)
    assert [(e.display_name, e.run_id, e.meets) for e in board] == [
        ("Ada", ada_small.id, True), ("Ada", ada_big.id, False), ("Bob", bob_small.id, False)
    ]  # fmt: skip
    assert [e.run_id for e in best_per_student(board)] == [ada_small.id, bob_small.id]
    _refused(lambda: store.set_challenge(classroom.id, Challenge("x", -5)), "-5")
    everything = store.trained_runs(classroom.id)
    assert {name for name, _ in everything} == {"Ada", "Bob"} and len(everything) == 4


def test_a_store_of_the_previous_version_gains_the_class_and_sweep_tables(backend):
    store = RunStore()
    kept = store.create(LOGREG, QUICK.to_dict(), name="kept", owner="visitor-a")
    with store.db.write() as con:  # the schema as version 2 left it
        for table in ("workers", "sweep_runs", "sweeps", "class_runs", "class_members", "classes"):
            con.execute(sa.text(f"DROP TABLE {table}"))
        con.execute(sa.text("ALTER TABLE runs DROP COLUMN heartbeat"))
        con.execute(sa.text("UPDATE nnlab_schema SET version = 2"))
    from nnlab.runs.database import dispose_engines

    dispose_engines()
    again = RunStore()
    assert again.get(kept.id).name == "kept"
    with again.db.connect() as con:
        assert con.scalar(sa.text("SELECT version FROM nnlab_schema")) == SCHEMA_VERSION == 4
        assert con.scalar(sa.select(sa.func.count()).select_from(sweeps)) == 0
    classroom, _ = ClassStore(again).create("After the upgrade")
    assert ClassStore(again).get(classroom.id).name == "After the upgrade"


def test_a_group_refused_partway_takes_back_what_it_queued(runner, monkeypatch):
    # The whole queue's bound is checked run by run as each is queued: other visitors filling the
    # queue meanwhile used to leave the first part of a group queued although it was refused.
    import time

    from nnlab.runs import process_handle

    monkeypatch.setenv("NNLAB_MAX_QUEUED", "2")
    store = ClassStore(runner.store)
    classroom, _ = store.create("Year 10")
    ada = store.join(classroom.id, "visitor-a", "Ada")
    three = [Training(LOGREG, QUICK)] * 3
    _refused(lambda: submit_trainings(runner, three, owner="visitor-a", member=ada), "queue")
    assert runner.store.list(owner="visitor-a") == [] and store.used(ada) == 0
    axes = [Axis("learning_rate", (1e-3, 1e-2)), Axis("batch_size", (16, 32))]
    sweep = dict(owner="visitor-a", spec=LOGREG, config=QUICK, axes=axes, member=ada)
    _refused(lambda: submit_sweep(runner, **sweep), "queue")
    assert runner.store.list(owner="visitor-a") == [] and SweepStore(runner.store).list("visitor-a") == []
    assert store.used(ada) == 0

    def first_starts(i, run):  # a worker claims the group's first run before the group is refused
        if i == 0:
            runner.store.update(run.id, status="running", started=time.time(), worker=process_handle())

    group = [Training(LOGREG, QUICK)] * 4
    _refused(
        lambda: submit_trainings(runner, group, owner="visitor-a", member=ada, on_run=first_starts), "queue"
    )
    (kept,) = runner.store.list(owner="visitor-a")
    assert kept.status == "running" and kept.stop_requested and store.used(ada) == 1  # it did train


def test_a_run_stopped_before_it_started_does_not_count_against_the_class(runner):
    store = ClassStore(runner.store)
    classroom, _ = store.create("Year 10")
    store.set_limits(classroom.id, ClassLimits(max_runs=2))
    ada = store.join(classroom.id, "visitor-a", "Ada")
    first, second = submit_trainings(runner, [Training(LOGREG, QUICK)] * 2, owner="visitor-a", member=ada)
    assert store.used(ada) == 2
    runner.stop(second.id)  # still queued (the only slot is taken): it leaves the queue untrained
    assert runner.store.get(second.id).status == "stopped" and store.used(ada) == 1
    submit_trainings(runner, [Training(LOGREG, QUICK)], owner="visitor-a", member=ada)
    assert store.used(ada) == 2
