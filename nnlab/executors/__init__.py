"""Trainings on other machines: Celery workers (``runner.LocalProcessExecutor`` trains on this one).

- ``celery_app.py``: the Celery app and task that ``nnlab worker --celery`` runs on any machine;
- ``celery_executor.py``: the runner's side: announce queued runs to the workers.

The executor is a ``runner.WorkerPool``: the store stays the source of truth, workers claim runs in it.
"""
