"""A class's challenge and leaderboard, for students and the teacher, readable on a phone.

Each student's best finished run is a small card (rank, display name, test accuracy, parameters,
training time, network), which wraps to any width; every finished run is in a table below. Names
typed by students are shown as text: escaped, never read as Markdown or HTML.
"""

from __future__ import annotations

import streamlit as st

from nnlab.classes import Classroom, ClassStore, Entry, best_per_student
from nnlab.export.notebook import markdown_text
from nnlab.ui.class_mode import challenge_words
from nnlab.ui.format import format_seconds

REFRESH_SECONDS = 5.0


def challenge_panel(classroom: Classroom) -> None:
    """The challenge and the class's limits, in words."""
    words = challenge_words(classroom)
    if words:
        st.success(f"**Challenge:** {words}", icon="🏆")
    limits = classroom.limits.describe()
    if limits:
        st.caption("Limits of this class: " + "; ".join(limits) + ".")


def _card(rank: int, entry: Entry, mine: bool, judged: bool) -> None:
    name = markdown_text(entry.display_name, 30) + (" (you)" if mine else "")
    mark = (" ✅" if entry.meets else " ✖ outside the challenge") if judged else ""
    stopped = " (stopped early)" if entry.status == "stopped" else ""
    with st.container(border=True, key=f"board_{rank}"):
        st.markdown(
            f"**{rank}. {name}**{mark}  \n**{entry.test_accuracy:.2%}** test accuracy · "
            f"{entry.n_params:,} parameters · {format_seconds(entry.seconds)} of training{stopped} · "
            f"{markdown_text(entry.network, 80)}"
        )


def _table(entries: list[Entry], judged: bool) -> None:
    rows = [
        {
            "student": e.display_name,
            "test accuracy (%)": round(100 * e.test_accuracy, 2),
            "parameters": e.n_params,
            "training time": format_seconds(e.seconds),
            "network": e.network,
            **({"challenge": "✅" if e.meets else "✖"} if judged else {}),
        }
        for e in entries
    ]
    config = {"test accuracy (%)": st.column_config.NumberColumn(format="%.2f")}
    st.dataframe(rows, hide_index=True, width="stretch", column_config=config)


def leaderboard(classes: ClassStore, classroom: Classroom, me: str | None = None) -> None:
    """The leaderboard, refreshed every few seconds (new results appear without a click)."""

    @st.fragment(run_every=REFRESH_SECONDS)
    def board() -> None:
        current = classes.get(classroom.id) or classroom  # the teacher may have changed the challenge
        entries = classes.leaderboard(current)
        if not entries:
            st.info("No finished runs yet: the first results appear here as soon as a training ends.")
            return
        judged = bool(current.challenge.rules())
        for rank, entry in enumerate(best_per_student(entries), start=1):
            _card(rank, entry, entry.display_name == me, judged)
        with st.expander(f"Every finished run ({len(entries)})"):
            _table(entries, judged)

    board()
