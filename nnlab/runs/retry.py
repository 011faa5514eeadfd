"""A database that restarts does not end a training: which errors pass by themselves, and retrying.

PostgreSQL restarting, a dropped connection or a busy lock raise SQLAlchemy's ``OperationalError``
or ``InterfaceError`` (or a ``DBAPIError`` that invalidated its connection): such an error is
``transient``. The recorder keeps the events a transient error refused for its next flush, the stop
check keeps its last answer, and the final writes of a training (the model, the status) are made
``retrying`` for up to ``RETRY_SECONDS``.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TypeVar

import sqlalchemy as sa

RETRY_SECONDS = 180.0  # how long the final writes of a training wait for the database to come back

T = TypeVar("T")


def transient(exc: BaseException) -> bool:
    """Whether a database error may go away by itself (a restart, a dropped connection, a busy lock)."""
    if isinstance(exc, (sa.exc.OperationalError, sa.exc.InterfaceError)):
        return True
    return isinstance(exc, sa.exc.DBAPIError) and bool(exc.connection_invalidated)


def retrying(call: Callable[[], T], seconds: float = RETRY_SECONDS) -> T:
    """``call()``, tried again every second while it fails for a transient reason, for up to ``seconds``."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            return call()
        except Exception as exc:
            if not transient(exc) or time.monotonic() > deadline:
                raise
            print(f"the run database is not answering ({type(exc).__name__}); retrying", file=sys.stderr)
            time.sleep(1.0)
