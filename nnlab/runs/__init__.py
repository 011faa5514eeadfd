"""Every training as a stored run: its record, the store that keeps it, and what writes to it.

- ``record.py``: ``Run`` (one training as stored), its statuses and errors;
- ``store.py``: ``RunStore``, the runs in an embedded SQLite database plus a folder each;
- ``recorder.py``: ``StoreRecorder``, the event sink that writes a training's events to the store,
  and ``StoreStopCheck``, which reads its stop flag;
- ``processes.py``: how a local worker process is identified (pid plus start time).
"""

from nnlab.runs.processes import process_alive, process_handle
from nnlab.runs.record import ACTIVE, DIED_MESSAGE, STATUSES, Run, RunNotFound, StoreError
from nnlab.runs.store import BATCH_COLUMNS, EPOCH_COLUMNS, RunStore, default_root

__all__ = [
    "ACTIVE",
    "BATCH_COLUMNS",
    "DIED_MESSAGE",
    "EPOCH_COLUMNS",
    "STATUSES",
    "Run",
    "RunNotFound",
    "RunStore",
    "StoreError",
    "default_root",
    "process_alive",
    "process_handle",
]
