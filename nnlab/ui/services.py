"""The run store, the runner and the background dispatcher a Streamlit server shares between its sessions.

One object of each per store root and server process (``st.cache_resource``): opening the store on
every rerun would redo its checks, and the executor keeps the worker processes it started and its
warm spare workers (``nnlab/warm.py``, started by the first dispatch, let go when released). The
dispatcher (``nnlab/dispatcher.py``) is started by the first page any visitor opens and then moves the
queue on by itself, also after a worker was killed, whether or not anyone opens a page.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import streamlit as st

from nnlab.dispatcher import BackgroundDispatcher
from nnlab.limits import InvalidLimits, Limits, load_limits
from nnlab.runner import Executor, Runner, WorkerPool, broker_url, default_executor
from nnlab.runs import RunStore, StoreError, default_database_url, default_root
from nnlab.sandbox import clean_stale, uploads_root
from nnlab.ui.script_cleanup import keep_keras_session
from nnlab.ui.web_server import send_replies_at_once
from nnlab.warm import dispatcher_env, warm_workers


@st.cache_resource(show_spinner=False)
def _store_for(root: str, database_url: str | None) -> RunStore:
    store = RunStore(root, database_url or "")  # exactly the database of the key ("": SQLite)
    clean_stale(uploads_root(store.root))  # once per server start: what a killed server left behind
    return store


@st.cache_resource(show_spinner=False)
def _runner_for(root: str, database_url: str | None, max_concurrent: int | None) -> Runner:
    executor = _executor_for(root, database_url)
    return Runner(_store_for(root, database_url), max_concurrent=max_concurrent, executor=executor)


@st.cache_resource(show_spinner=False, on_release=lambda executor: executor.close())
def _executor_for(root: str, database_url: str | None) -> Executor | WorkerPool:
    """This server's workers: Celery's with ``NNLAB_BROKER_URL``, else local processes with this
    server's warm spares (``nnlab/warm.py``): one set whatever the runner."""
    count = 0 if broker_url() else warm_workers()
    # With spares, this server's background dispatcher starts the next queued run (on a warm spare).
    return default_executor(warm=count, env=dispatcher_env() if count else None)


@st.cache_resource(show_spinner=False, on_release=lambda dispatcher: dispatcher.stop())
def _dispatcher_for(root: str, database_url: str | None) -> BackgroundDispatcher:
    return BackgroundDispatcher(_runner_for(root, database_url, None)).start()


@st.cache_resource(show_spinner=False)
def tune_web_server() -> int:
    """Once per server: its connections send each reply at once (``web_server``) and a script run's end
    leaves Keras alone (``script_cleanup``: no full garbage collection after every refresh); the
    sockets changed. A speed-up only: whatever goes wrong leaves the server as it was, and no page
    shows it."""
    try:
        keep_keras_session()
    except Exception:
        pass
    try:
        return send_replies_at_once()
    except Exception:
        return 0


def start_background_dispatch() -> BackgroundDispatcher:
    """This server's one background dispatcher for ``get_store()`` (started on the first call)."""
    store = get_store()
    return _dispatcher_for(str(store.root), store.database_url)


def get_store() -> RunStore:
    """The run store of ``$NNLAB_HOME`` and ``$NNLAB_DATABASE_URL`` (one object each, shared by sessions)."""
    return _store_for(str(default_root()), default_database_url())


def get_runner(max_concurrent: int | None = None) -> Runner:
    """The runner for ``get_store()``; ``max_concurrent`` None: $NNLAB_MAX_CONCURRENT, else 1."""
    store = get_store()
    return _runner_for(str(store.root), store.database_url, max_concurrent)


def limits_or_warn() -> Limits:
    """The operator's limits; misconfigured ones are reported on the page and none are applied."""
    try:
        return load_limits()
    except InvalidLimits as exc:
        st.error(f"The operator's limits for this demo are misconfigured, so none are applied: {exc}")
        return Limits()


@contextmanager
def store_problems_in_words() -> Iterator[None]:
    """A store that cannot be used (damaged, a full disk, a read-only folder) said on the page, in
    words, where it happened; also inside fragments, whose errors no page-wide handler sees."""
    try:
        yield
    except StoreError as exc:
        st.error(str(exc), icon="🛑")
