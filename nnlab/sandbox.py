"""Evaluating an uploaded model in a child process with memory, CPU-time and wall-clock limits.

An upload is first bounded from its archive and description (``modelio``, ``model_bounds``) in the
web process, which costs milliseconds and needs no TensorFlow. A file that passes is still built
and run by Keras only in a child (``python -m nnlab.sandbox DIR``): the child lowers its own limits
before importing TensorFlow (``RLIMIT_DATA``, the heap and private memory, is the one that
matters: TensorFlow's libraries and reservations alone map 3 GB of address space, most of it
never used; ``RLIMIT_AS`` is set well above as a backstop; ``RLIMIT_CPU`` and ``RLIMIT_FSIZE``
too), and the web process kills it after ``seconds``. Whatever the file does, the web process
only ever receives a ``(10000, 10)`` array of predictions, or a message.

Every upload gets a folder of its own under ``<NNLAB_HOME>/tmp/uploads``, named after the web
process (pid and start time); it is removed when the evaluation ends, and ``clean_stale`` (called
once when a server starts, and before each upload) removes the folders of processes that died.
One upload is evaluated at a time per server process; others wait for their turn.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from nnlab.modelio import MAX_BYTES, ModelLoadError
from nnlab.ui.format import size_and_limit

ENV_MEMORY = "NNLAB_UPLOAD_MEMORY_MB"
ENV_SECONDS = "NNLAB_UPLOAD_SECONDS"
MODEL_FILE = "model.keras"
RESULT_FILE, ERROR_FILE, LOG_FILE = "probs.npy", "error.txt", "child.log"
PREDICT_BUDGET = 256_000_000  # bytes of activations one prediction batch may hold
_TURN = threading.Lock()


@dataclass(frozen=True)
class SandboxLimits:
    """What the child may use: decimal MB of memory (heap), seconds of wall-clock and CPU time."""

    memory_mb: int = 2000  # TensorFlow and a small model take ~700 MB; the 28 MB test set is read too
    seconds: int = 120  # TensorFlow's import takes 5-13 s, a normal evaluation 10-30 s on 2 busy cores

    @classmethod
    def from_environment(cls) -> SandboxLimits:
        values = {}
        for field, env in (("memory_mb", ENV_MEMORY), ("seconds", ENV_SECONDS)):
            text = os.environ.get(env, "").strip()
            if text.isdigit() and int(text) > 0:
                values[field] = int(text)
        return cls(**values)


def uploads_root(store_root: Path | None = None) -> Path:
    """Where uploads are unpacked: beside the run store (``$NNLAB_HOME``), in a folder of their own."""
    from nnlab.runs import default_root

    return Path(store_root or default_root()) / "tmp" / "uploads"


def clean_stale(root: Path | None = None) -> list[str]:
    """Remove the upload folders of server processes that no longer run (a killed server's leftovers)."""
    from nnlab.runs import process_alive

    root = root or uploads_root()
    removed = []
    for path in root.glob("*") if root.is_dir() else []:
        if not process_alive(_owner(path.name)):
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path.name)
    return removed


def _owner(folder_name: str) -> dict:
    """The web process an upload folder belongs to, from its name: ``<pid>-<start time>-<random>``."""
    parts = folder_name.split("-")
    start = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else None
    return {"pid": int(parts[0]) if parts[0].isdigit() else -1, "start": start}


@contextlib.contextmanager
def upload_workspace(data: bytes, max_bytes: int = MAX_BYTES) -> Iterator[Path]:
    """A fresh folder holding ``data`` as ``model.keras``, removed afterwards whatever happens."""
    if not data:
        raise ModelLoadError("The uploaded file is empty.")
    if len(data) > max_bytes:
        raise ModelLoadError(f"The uploaded file is too large {size_and_limit(len(data), max_bytes)}.")
    from nnlab.runs import process_handle

    root = uploads_root()
    root.mkdir(parents=True, exist_ok=True)
    clean_stale(root)
    me = process_handle()
    folder = Path(tempfile.mkdtemp(prefix=f"{me['pid']}-{me['start']}-", dir=root))
    try:
        (folder / MODEL_FILE).write_bytes(data)
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def predict_upload(
    data: bytes, limits: SandboxLimits | None = None, max_bytes: int = MAX_BYTES
) -> np.ndarray:
    """Test-set probabilities (10000, 10) of an uploaded ``.keras`` model, computed in a limited child.

    Raises ``ModelLoadError`` with the reason in words: a file refused by its bounds, a model Keras
    cannot load, more memory or time than ``limits`` allow, or a server busy with another upload.
    """
    from nnlab.modelio import check_model_file

    limits = limits or SandboxLimits.from_environment()
    with upload_workspace(data, max_bytes) as folder:
        check_model_file(folder / MODEL_FILE, max_bytes)  # refused here, in milliseconds, needs no child
        if not _TURN.acquire(timeout=limits.seconds):
            raise ModelLoadError("The server is busy evaluating other uploads; try again in a minute.")
        try:
            returncode = _run_child(folder, limits)
        finally:
            _TURN.release()
        return _result(folder, returncode, limits)


def _run_child(folder: Path, limits: SandboxLimits) -> int | None:
    """Run the child on ``folder``; its exit status, or None when it ran out of time (then killed)."""
    package_parent = str(Path(__file__).resolve().parent.parent)
    env = {**os.environ, "TMPDIR": str(folder), "TF_CPP_MIN_LOG_LEVEL": "2"}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (package_parent, env.get("PYTHONPATH", "")) if p)
    command = [sys.executable, "-m", "nnlab.sandbox", str(folder), str(limits.memory_mb), str(limits.seconds)]
    with open(folder / LOG_FILE, "wb") as log:
        child = subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, cwd=folder, env=env,
            start_new_session=True,
        )  # fmt: skip
    try:
        return child.wait(timeout=limits.seconds)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(child.pid, signal.SIGKILL)
        child.wait()
        return None


def _result(folder: Path, returncode: int | None, limits: SandboxLimits) -> np.ndarray:
    # Out of wall-clock time (None), or of CPU time (RLIMIT_CPU sends SIGXCPU): the same limit in words.
    # A model starved of memory can also spin until its time is up.
    if returncode is None or returncode == -signal.SIGXCPU:
        raise ModelLoadError(
            f"Evaluating the model took longer than the {limits.seconds} s this server allows an "
            f"uploaded model (with {limits.memory_mb:,} MB of memory), so it was stopped."
        )
    if (folder / ERROR_FILE).is_file():
        raise ModelLoadError((folder / ERROR_FILE).read_text(encoding="utf-8", errors="replace")[:1000])
    try:
        probs = np.load(folder / RESULT_FILE, allow_pickle=False)
    except (OSError, ValueError, EOFError):
        probs = None
    if returncode != 0 or probs is None or probs.shape != (10000, 10):
        raise ModelLoadError(
            f"The model needs more memory or time than this server allows an uploaded model "
            f"({limits.memory_mb:,} MB, {limits.seconds} s): its evaluation was stopped."
        )
    return probs.astype(np.float32, copy=False)


# ---- the child ------------------------------------------------------------------------------------


def _limit_self(memory_mb: int, seconds: int) -> None:
    """Lower this process's limits (never above what it inherited), before TensorFlow loads."""
    import resource

    memory = memory_mb * 1_000_000
    for kind, value in (
        (resource.RLIMIT_DATA, memory),
        (resource.RLIMIT_AS, memory + 6_000_000_000),  # TensorFlow maps ~3 GB it never touches
        (resource.RLIMIT_CPU, seconds),
        (resource.RLIMIT_FSIZE, 3 * MAX_BYTES),  # Keras may unpack the weights into TMPDIR
    ):
        _, hard = resource.getrlimit(kind)
        value = value if hard == resource.RLIM_INFINITY else min(value, hard)
        # CPU: the soft limit sends SIGXCPU (reported as "took too long"); the hard one, a second
        # later, SIGKILL. Equal limits would kill at once, indistinguishable from running out of memory.
        ceiling = value + 1 if kind == resource.RLIMIT_CPU else value
        resource.setrlimit(kind, (value, hard if hard != resource.RLIM_INFINITY else ceiling))


def _child(folder: Path, memory_mb: int) -> None:
    """Load the model (safe mode, bounded), predict the test set, leave probs.npy or error.txt."""
    from nnlab import evaluation as ev
    from nnlab.modelio import _explain, check_model_file, load_model_safely

    try:
        from nnlab._tf import keras  # noqa: F401 (TensorFlow first: without it nothing can be evaluated)
    except (Exception, MemoryError):  # TensorFlow needs ~700 MB, beyond a limit set (or inherited) too low
        (folder / ERROR_FILE).write_text(
            f"NN Lab could not start TensorFlow within the memory this server gives an uploaded model "
            f"({memory_mb:,} MB, or less if the server itself runs under a lower limit), so no upload "
            "can be evaluated here: the operator can raise NNLAB_UPLOAD_MEMORY_MB.",
            encoding="utf-8",
        )
        return
    try:
        model = load_model_safely(folder / MODEL_FILE, compile=False)
        per_image = max(check_model_file(folder / MODEL_FILE).values_per_image, 1)
        batch = int(min(1000, max(1, PREDICT_BUDGET // (4 * per_image))))
        probs = ev.predict_test(model, batch_size=batch)
    except ModelLoadError as exc:
        (folder / ERROR_FILE).write_text(str(exc), encoding="utf-8")
        return
    except (Exception, MemoryError, RecursionError) as exc:  # whatever Keras raises, in words
        (folder / ERROR_FILE).write_text(_explain(exc), encoding="utf-8")
        return
    np.save(folder / RESULT_FILE, np.asarray(probs, dtype=np.float32), allow_pickle=False)


if __name__ == "__main__":
    _limit_self(int(sys.argv[2]), int(sys.argv[3]))
    _child(Path(sys.argv[1]), int(sys.argv[2]))
