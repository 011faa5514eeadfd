"""Every page runs through ``app.py``, also when a visitor opens the page's own address first.

An app with a ``pages/`` folder starts in Streamlit's old multipage mode, in which a page's address
runs that page's file on its own; ``st.navigation`` (in ``app.py``) switches the mode off, but only
once some session has run it. So on a server that has just started, a visitor arriving by a link to a
page (a class's join link, a teacher link, a shared network, a reload) got that page without
``app.py``: Streamlit's folder navigation (every page, those a class hides too, named after their
files), no store check, no visitor id kept in the address.

``app.py`` runs the page inside ``through_app()``; ``run_through_app()``, the first call of every
page, sees a page run without it (the mode is decided when a run starts, so another session may have
switched it off meanwhile: each run is checked, not the mode), switches the mode off for the whole
server and runs the page again: this time through ``app.py``, the same page at the same address
(both modes name a page by its URL path).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import streamlit as st
from streamlit.runtime.pages_manager import PagesManager
from streamlit.runtime.scriptrunner import get_script_run_ctx

_RUN = threading.local()  # a session's script runs in a thread of its own


@contextmanager
def through_app() -> Iterator[None]:
    """``app.py`` runs the chosen page inside this."""
    _RUN.through_app = True
    try:
        yield
    finally:
        _RUN.through_app = False


def run_through_app() -> None:
    """Rerun through ``app.py`` if this page was run on its own by Streamlit's folder mode."""
    if getattr(_RUN, "through_app", False):
        return
    ctx = get_script_run_ctx()
    if ctx is None or Path(ctx.main_script_path).name != "app.py":
        return  # a page run alone on purpose (a test of one page, AppTest.from_file("pages/..."))
    PagesManager.uses_pages_directory = False  # what st.navigation sets, for every later session too
    st.rerun()
