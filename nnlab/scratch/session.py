"""The From-scratch page's background work: one NumPy training per visitor, and its Keras twin.

A ``ScratchJob`` trains in a daemon thread of the web server (the NumPy network is small and needs
no TensorFlow); its events sit behind a lock so that the page can poll them. ``Slots`` holds each
visitor's job; ``start`` checks the operator's limits and the server's bound on jobs at once, starts
the job and, if asked, submits the same network to the run queue as a Keras training (the twin).
Nothing here imports Streamlit: the page keeps one ``Slots`` per server in ``st.cache_resource``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from nnlab import scratch
from nnlab.events import BatchEvent, EndEvent, EpochEvent, Event, StartEvent, fraction_done
from nnlab.limits import InvalidLimits, Limits
from nnlab.scratch.net import MLP
from nnlab.scratch.train import ScratchConfig, ScratchData, ScratchResult
from nnlab.validation import InvalidSettings

MAX_RUNNING = 2  # from-scratch trainings at once on one server (each holds its data in memory)


@dataclass(frozen=True)
class Snapshot:
    """Copies of a job's events so far, safe to read while the training goes on."""

    start: StartEvent | None
    batches: list[BatchEvent]
    epochs: list[EpochEvent]
    end: EndEvent | None
    error: str | None
    running: bool
    stop_requested: bool

    def fraction_done(self, epochs: int) -> float:
        """Share of the training done, from the last batch reported."""
        if self.start is None or not self.batches:
            return 0.0
        last = self.batches[-1]
        return fraction_done(last.epoch, last.batch, self.start.steps_per_epoch, epochs)


class ScratchJob:
    """One training running in a daemon thread; its progress is read with ``snapshot()``.

    Everything the thread writes sits behind a lock, so a UI thread can poll it safely; ``stop()``
    asks the training to end after the current batch.
    """

    def __init__(self, config: ScratchConfig, data: ScratchData | None = None) -> None:
        problems = scratch.validate_config(config)
        if problems:
            raise InvalidSettings(problems)
        self.config = config
        self._data = data
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._start: StartEvent | None = None
        self._batches: list[BatchEvent] = []
        self._epochs: list[EpochEvent] = []
        self._end: EndEvent | None = None
        self.error: str | None = None
        self.net: MLP | None = None
        self.result: ScratchResult | None = None
        self._thread = threading.Thread(target=self._run, name="nnlab-scratch", daemon=True)

    def start(self) -> ScratchJob:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def join(self, timeout: float | None = None) -> None:
        self._thread.join(timeout)

    def _on_event(self, event: Event) -> None:
        with self._lock:
            if isinstance(event, StartEvent):
                self._start = event
            elif isinstance(event, BatchEvent):
                self._batches.append(event)
            elif isinstance(event, EpochEvent):
                self._epochs.append(event)
            else:
                self._end = event

    def _run(self) -> None:
        try:
            data = self._data or scratch.prepare_data(self.config)
            net = scratch.build_net(self.config, data.x_train.shape[1], len(data.class_names))
            with self._lock:
                self.net = net
            result = scratch.train(
                self.config, on_event=self._on_event, should_stop=self._stop.is_set, data=data, net=net
            )
            with self._lock:
                self.result = result
        except Exception as exc:  # shown to the user by the page; the thread must not die silently
            with self._lock:
                self.error = f"{type(exc).__name__}: {exc}"

    def snapshot(self) -> Snapshot:
        """Copies of everything so far."""
        with self._lock:
            return Snapshot(
                self._start,
                list(self._batches),
                list(self._epochs),
                self._end,
                self.error,
                self._thread.is_alive(),
                self._stop.is_set(),
            )


@dataclass
class Slot:
    """One visitor's from-scratch training and Keras twin, shared by page runs and the training thread."""

    job: ScratchJob | None = None
    keras_run_id: str | None = None
    keras_error: str | None = None


@dataclass
class Slots:
    """Every visitor's slot on this server."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    by_visitor: dict[str, Slot] = field(default_factory=dict)

    def get(self, visitor: str) -> Slot:
        with self.lock:
            return self.by_visitor.setdefault(visitor, Slot())

    def running(self) -> int:
        with self.lock:
            return sum(1 for s in self.by_visitor.values() if s.job is not None and s.job.running)


def start(
    slots: Slots,
    visitor: str,
    config: ScratchConfig,
    *,
    keras_twin: bool,
    load_limits: Callable[[], Limits],
    data_for: Callable[[ScratchConfig], ScratchData],
    runner: Callable[[], Any],
) -> list[str]:
    """Start the visitor's NumPy training (and the Keras twin); the problems that prevented it, if any.

    ``data_for`` gives the prepared data (the page caches it); ``runner`` gives the run queue, asked
    for only when a twin is wanted.
    """
    try:
        limits = load_limits()
    except InvalidLimits as exc:
        return [f"The server's limits are misconfigured: {exc}"]
    problems = [
        str(p)
        for p in limits.problems(n_params=scratch.n_params(config), epochs=config.epochs, visitor_active=0)
    ]
    if slots.running() >= MAX_RUNNING:
        problems.append(
            f"{MAX_RUNNING} from-scratch trainings are already running on this server: try again in a minute."
        )
    if problems:
        return problems
    slot = slots.get(visitor)
    slot.job = ScratchJob(config, data_for(config)).start()
    slot.keras_run_id, slot.keras_error = None, None
    if keras_twin:
        _start_twin(slot, config, visitor, limits, runner)
    return []


def _start_twin(
    slot: Slot, config: ScratchConfig, visitor: str, limits: Limits, runner: Callable[[], Any]
) -> None:
    """Queue the same network as a Keras run; a refusal is kept as ``slot.keras_error``, in words."""
    try:
        queue = runner()
        active = len(queue.store.list(owner=visitor, include_unowned=False, statuses=("queued", "running")))
        problems = limits.problems(
            n_params=scratch.n_params(config), epochs=config.epochs, visitor_active=active
        )
        if problems:
            slot.keras_error = " ".join(str(p) for p in problems)
            return
        run = queue.submit(
            scratch.keras_spec(config),
            scratch.keras_train_config(config),
            name=scratch.keras_twin_name(config),
            owner=visitor,
        )
        slot.keras_run_id = run.id
    except Exception as exc:  # shown in words; the NumPy training goes on
        slot.keras_error = f"The Keras twin could not be started: {exc}"


def stop(slot: Slot, runner: Callable[[], Any]) -> None:
    """Ask the NumPy training and its twin to stop after their current batch."""
    if slot.job is not None:
        slot.job.stop()
    if slot.keras_run_id:
        try:
            runner().stop(slot.keras_run_id)
        except Exception:  # the run may be gone already
            pass


def keras_status(slot: Slot, runner: Any) -> tuple[Any, Any]:
    """The Keras twin's run (or None) and its epoch table; starts queued runs whose turn has come."""
    if not slot.keras_run_id:
        return None, None
    run = runner.store.get(slot.keras_run_id)
    if run is not None and run.is_active:
        runner.dispatch()
    return run, runner.store.metrics(slot.keras_run_id, "epoch") if run is not None else None
