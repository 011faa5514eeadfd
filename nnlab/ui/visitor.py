"""Who is looking: a visitor id that survives page switches, a browser refresh and a second tab.

The id lives in the URL (``?visitor=...``) so that a refresh or a copied link keeps it, and in the
session state so that switching pages (which drops the query string) restores it.
"""

from __future__ import annotations

import re
import uuid

import streamlit as st

_KEY = "visitor"
_VALID = re.compile(r"[A-Za-z0-9_-]{6,64}")  # the whole id: fullmatch (a "$" would let "\n" end it)


def visitor_id() -> str:
    """This visitor's id; created on the first visit and put back into the URL on every page."""
    from_url = st.query_params.get(_KEY)
    if isinstance(from_url, str) and _VALID.fullmatch(from_url):
        st.session_state[_KEY] = from_url
        return from_url
    vid = st.session_state.get(_KEY)
    if not (isinstance(vid, str) and _VALID.fullmatch(vid)):
        vid = uuid.uuid4().hex[:16]
        st.session_state[_KEY] = vid
    st.query_params[_KEY] = vid
    return vid
