"""A student's side of a class: joining from the join link, and the way to the class's starting network.

The join link (``Class?join=ID``, with ``&start=CODE`` when the class has a starting network) leads
here; the student chooses a display name (checked in ``classes.rules``; shown to the class as plain
text) and is a student of the class from then on, on this visitor id (kept in the address).
"""

from __future__ import annotations

import streamlit as st

from nnlab import sharing
from nnlab.classes import Classroom, ClassStore, Member
from nnlab.classes.rules import MAX_DISPLAY_NAME, network_summary
from nnlab.export.notebook import markdown_text
from nnlab.ui.links import BUILD, link
from nnlab.validation import InvalidSettings

_JOINED = "class_just_joined"


def join_form(classes: ClassStore, classroom: Classroom, visitor: str) -> Member | None:
    """The class's name and a name field; returns the new member once the student has joined."""
    st.markdown(f"You are invited to the class **{markdown_text(classroom.name, 80)}**.")
    with st.form("join_class"):
        name = st.text_input(
            "Your name for the class",
            max_chars=MAX_DISPLAY_NAME,
            placeholder="a first name or a nickname",
            help="Shown next to your results on the class's leaderboard. Everyone in the class sees it.",
        )
        joined = st.form_submit_button("Join the class", type="primary", icon="🎓")
    if not joined:
        return None
    try:
        member = classes.join(classroom.id, visitor, name)
    except InvalidSettings as exc:
        for problem in exc.problems:
            st.error(markdown_text(str(problem), 300), icon="⚠️")
        return None
    st.session_state[_JOINED] = True
    st.rerun()  # the page as a student of the class sees it
    return member


def welcome(member: Member) -> None:
    if st.session_state.pop(_JOINED, False):
        st.success(f"Welcome, {markdown_text(member.display_name, 30)}: you are in the class.", icon="🎉")
    st.caption(
        "Keep this page's address (it holds your visitor id) to come back to your runs from this device."
    )


def start_link(classroom: Classroom) -> None:
    """A link that opens the class's starting network in Build & Train, or to Build & Train."""
    if classroom.start:
        try:
            start = sharing.decode(classroom.start)
        except InvalidSettings:
            start = None
        if start is not None:
            st.markdown(
                f"Your class starts from **{markdown_text(start.name, 80)}** "
                f"({markdown_text(network_summary(start.spec), 80)})."
            )
            link(BUILD, "Open the class's network in Build & Train", query_params={"start": classroom.start})
            return
    link(BUILD, "Build & Train a network")
