"""A click that queues work, repeated at once (a double click, an impatient second click), queues
nothing more.

Streamlit reruns the page for each click of a button, so a double click on Train made two identical
runs, the second waiting behind the first in the queue that every visitor shares (and a double click
on "Queue the sweep", two grids). The session remembers what it last queued: the same work again
within ``REPEAT_SECONDS`` hands back what the first click made instead. The same network trained
again a moment later is a new run, as a learner who means it expects.
"""

from __future__ import annotations

import json
import time
from typing import Any

import streamlit as st

REPEAT_SECONDS = 2.0  # a double click is a fraction of a second; a page busy with the first, a second
_LAST = "nnlab_last_queued"  # session state: {what: (fingerprint, time.monotonic(), id)}


def already_queued(what: str, *work: Any) -> str | None:
    """The id that this session's last ``what`` ("train", "sweep") made, if it queued the same
    ``work`` within ``REPEAT_SECONDS``; else None."""
    last = st.session_state.get(_LAST, {}).get(what)
    if last and last[0] == _fingerprint(work) and time.monotonic() - last[1] < REPEAT_SECONDS:
        return last[2]
    return None


def remember_queued(what: str, made: str, *work: Any) -> None:
    """``made`` (a run or sweep id) was just queued for ``work``."""
    st.session_state.setdefault(_LAST, {})[what] = (_fingerprint(work), time.monotonic(), made)


def _fingerprint(work: tuple) -> str:
    return json.dumps(work, sort_keys=True, default=repr)  # dicts, lists, numbers; dataclasses by repr
