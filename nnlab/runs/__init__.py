"""Every training as a stored run: its record, the store that keeps it, and what writes to it.

- ``record.py``: ``Run`` (one training as stored), its statuses and errors;
- ``store.py``: ``RunStore``, the runs in a database (embedded SQLite, or PostgreSQL) plus a folder each;
- ``database.py`` (connections, dialects, locks), ``schema.py`` (tables, migrations), ``artifacts.py``
  (models and other files: in the run folder, or in the database), ``queue.py`` (the dispatcher's
  view of the queue), ``metrics.py`` (a run's metric events: the whole history, or only the new ones);
- ``recorder.py``: ``StoreRecorder``, the event sink that writes a training's events to the store,
  and ``StoreStopCheck``, which reads its stop flag;
- ``processes.py``: how a local worker process is identified (machine, pid and start time);
- ``upkeep.py``: orphan folders, runs whose worker died;
- ``integrity.py``, ``folders.py``, ``repair.py``: a damaged SQLite file detected and said in words
  (also a full disk, a read-only folder), each run's ``run.json`` in its folder, and ``nnlab repair``.
"""

from nnlab.runs.metrics import BATCH_COLUMNS, EPOCH_COLUMNS
from nnlab.runs.processes import process_alive, process_handle
from nnlab.runs.queue import QueueTransaction
from nnlab.runs.record import ACTIVE, DIED_MESSAGE, STATUSES, Run, RunNotFound, StoreError
from nnlab.runs.store import MODEL_FILE, RunStore, default_database_url, default_root

__all__ = [
    "ACTIVE",
    "BATCH_COLUMNS",
    "DIED_MESSAGE",
    "EPOCH_COLUMNS",
    "MODEL_FILE",
    "STATUSES",
    "QueueTransaction",
    "Run",
    "RunNotFound",
    "RunStore",
    "StoreError",
    "default_database_url",
    "default_root",
    "process_alive",
    "process_handle",
]
