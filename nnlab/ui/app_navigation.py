"""Every page runs through ``app.py``, also when a visitor opens the page's own address first.

An app with a ``pages/`` folder starts in Streamlit's old multipage mode, in which a page's address
runs that page's file on its own; ``st.navigation`` (in ``app.py``) switches the mode off, but only
once some session has run it. So on a server that has just started, a visitor arriving by a link to a
page (a class's join link, a teacher link, a shared network, a reload) got that page without
``app.py``: Streamlit's folder navigation (every page, those a class hides too, named after their
files), no store check, no visitor id kept in the address. ``run_through_app()``, the first call of
every page, sees that mode, switches it off for the whole server and runs the page again: this time
through ``app.py``, the same page at the same address (both modes name a page by its URL path).
"""

from __future__ import annotations

import streamlit as st
from streamlit.runtime.pages_manager import PagesManager


def run_through_app() -> None:
    """Rerun through ``app.py`` if this page was run on its own by Streamlit's folder mode."""
    if PagesManager.uses_pages_directory:  # None under AppTest's page tests: a page run alone, on purpose
        PagesManager.uses_pages_directory = False  # what st.navigation sets, for every later session too
        st.rerun()
