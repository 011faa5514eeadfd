"""Teacher: create a class, hand out its links, follow every student's runs live, set its challenge,
limits, hidden parts and starting network. Only the teacher link (its secret) opens a class here."""

from __future__ import annotations

import streamlit as st

from nnlab.classes import ClassStore
from nnlab.export.notebook import markdown_text
from nnlab.ui.app_navigation import run_through_app
from nnlab.ui.leaderboard import challenge_panel, leaderboard
from nnlab.ui.services import get_store
from nnlab.ui.teacher import (
    challenge_form,
    create_class_form,
    flash,
    hidden_form,
    limits_form,
    links_panel,
    start_form,
    students_panel,
    teacher_key,
)

run_through_app()  # a page opened by its own address runs through app.py's navigation
st.set_page_config(page_title="Teacher · NN Lab", page_icon="🧠", layout="wide")
st.title("🧑‍🏫 Teacher")

classes = ClassStore(get_store())
secret = teacher_key()
classroom = classes.for_teacher(secret) if secret else None
flash()

if classroom is None:
    if secret:
        st.error(
            "This teacher link does not open a class: check that it was copied whole. "
            "You can also create a new class below.",
            icon="🔒",
        )
    st.markdown(
        "Create a class to give your students one link: they choose a name, train as usual, and their "
        "finished runs appear on the class's leaderboard. You get a private link to this page, where you "
        "follow every student's runs live and set the class's challenge and limits. No accounts."
    )
    create_class_form(classes)
    st.stop()

st.subheader(f"Class: {markdown_text(classroom.name, 80)}", anchor=False)
with st.expander("🔗 The class's links", expanded=not classes.members(classroom.id)):
    links_panel(classroom, secret)
challenge_panel(classroom)

# The open tab is kept in the session (key, rerun): saving a form reruns the page with a message above
# the tabs, which put an untracked tab bar back on its first tab.
runs_tab, board_tab, rules_tab, start_tab = st.tabs(
    ["Students and runs", "Leaderboard", "Challenge, limits, hidden parts", "Starting network"],
    key="teacher_tab",
    on_change="rerun",
)
with runs_tab:
    students_panel(classes, classroom)
with board_tab:
    leaderboard(classes, classroom)
with rules_tab:
    st.markdown("##### Challenge")
    challenge_form(classes, classroom)
    st.markdown("##### Limits")
    limits_form(classes, classroom)
    st.markdown("##### Hidden parts of the UI")
    hidden_form(classes, classroom)
with start_tab:
    start_form(classes, classroom)
