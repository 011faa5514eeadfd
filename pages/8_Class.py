"""Class: join a class from its link, see its challenge and its leaderboard, find its starting network."""

from __future__ import annotations

import streamlit as st

from nnlab.classes import ClassStore
from nnlab.export.notebook import markdown_text
from nnlab.ui.app_navigation import run_through_app
from nnlab.ui.class_join import join_form, start_link, welcome
from nnlab.ui.leaderboard import challenge_panel, leaderboard
from nnlab.ui.links import TEACHER, link
from nnlab.ui.services import get_store
from nnlab.ui.visitor import visitor_id

run_through_app()  # a page opened by its own address runs through app.py's navigation
st.set_page_config(page_title="Class · NN Lab", page_icon="🧠", layout="wide")
st.title("🎓 Class")

visitor = visitor_id()
classes = ClassStore(get_store())
member = classes.member(visitor)
invited = st.query_params.get("join")

if member is None:
    classroom = classes.get(invited) if invited else None
    if classroom is not None:
        member = join_form(classes, classroom, visitor)
    elif invited:
        st.error("This join link does not lead to a class: ask your teacher for the link again.", icon="🔗")
    else:
        st.info(
            "Open the join link your teacher gave you to join a class: you choose a name, train as usual, "
            "and your finished runs appear on the class's leaderboard.",
            icon="🎓",
        )
        link(TEACHER, "Teachers: create a class")
    if member is None:
        st.stop()

classroom = classes.get(member.class_id)
if classroom is None:
    st.warning("Your class no longer exists.")
    st.stop()
if invited and invited != classroom.id:
    if classes.get(invited) is None:
        st.warning("This join link does not lead to a class; your own class is below.", icon="🔗")
    else:
        st.warning(
            "You are already in a class (below), so this link changed nothing. To join another class, "
            "open its link in a new private window.",
            icon="ℹ️",
        )
st.subheader(markdown_text(classroom.name, 80), anchor=False)
welcome(member)
challenge_panel(classroom)
start_link(classroom)
st.markdown("#### Leaderboard")
leaderboard(classes, classroom, me=member.display_name)
