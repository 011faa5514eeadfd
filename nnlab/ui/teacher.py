"""The teacher's page: create a class, hand out its links, follow every student's runs live, and set
the class's challenge, limits, hidden parts of the UI and starting network.

The teacher link holds the class's secret (``?key=...``); it is kept in the session (and put back
into the address) like the visitor id, so that switching pages and coming back keeps the page open.
Without a key that opens a class, the page offers only to create one: it says nothing about other
classes. Every change is one write to the run store, seen at once by the students on any server.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

import streamlit as st

from nnlab import sharing
from nnlab.architectures import count_params
from nnlab.classes import HIDEABLE, Challenge, ClassLimits, Classroom, ClassStore
from nnlab.classes.rules import network_summary
from nnlab.export.notebook import markdown_text
from nnlab.ui.format import format_seconds, run_progress, status_text
from nnlab.ui.links import CLASS, TEACHER, page_url
from nnlab.validation import InvalidSettings
from nnlab.words import plural

KEY = "key"
_SESSION = "teacher_key"
_FLASH = "teacher_flash"  # what the last change did, shown after the rerun that applies it
_HIDDEN_DRAWN = "class_hidden_drawn"  # the class and hidden parts the tick boxes were last set from
REFRESH_SECONDS = 3.0


def teacher_key() -> str | None:
    """The secret of the teacher link: from the address, else from this session (put back in the address)."""
    from_url = st.query_params.get(KEY)
    if isinstance(from_url, str) and from_url:
        st.session_state[_SESSION] = from_url
        return from_url
    kept = st.session_state.get(_SESSION)
    if isinstance(kept, str) and kept:
        st.query_params[KEY] = kept
        return kept
    return None


def _show_problems(exc: InvalidSettings) -> None:
    for problem in exc.problems:
        st.error(markdown_text(str(problem), 300), icon="⚠️")


def create_class_form(classes: ClassStore) -> None:
    """A class from a name; its teacher link becomes this page's address."""
    with st.form("create_class"):
        name = st.text_input("Class name", max_chars=80, placeholder="Year 10, Tuesday")
        created = st.form_submit_button("Create the class", type="primary", icon="🎓")
    if created:
        try:
            _, secret = classes.create(name)
        except InvalidSettings as exc:
            _show_problems(exc)
            return
        st.session_state[_SESSION] = secret
        st.query_params[KEY] = secret
        st.session_state[_FLASH] = "Your class is ready: send the students their link, and bookmark yours."
        st.rerun()


def flash() -> None:
    message = st.session_state.pop(_FLASH, None)
    if message:
        st.success(message, icon="✅")


def join_url(classroom: Classroom) -> str:
    """The students' link: the class id, and the class's starting network when it has one."""
    return page_url(CLASS, {"join": classroom.id} | ({"start": classroom.start} if classroom.start else {}))


def links_panel(classroom: Classroom, secret: str) -> None:
    st.markdown("**For your students**: they open it on any device, choose a name, and train.")
    st.code(join_url(classroom), language=None, wrap_lines=True)
    st.markdown(
        "**For you only**: the address of this page. Whoever has it manages the class, and NN Lab keeps "
        "no copy of it (only a fingerprint): bookmark it now, and do not share it."
    )
    st.code(page_url(TEACHER, {KEY: secret}), language=None, wrap_lines=True)


def students_panel(classes: ClassStore, classroom: Classroom) -> None:
    """Every student's runs with their live progress, refreshed every few seconds."""

    @st.fragment(run_every=REFRESH_SECONDS)
    def live() -> None:
        members = classes.members(classroom.id)
        trained = classes.trained_runs(classroom.id)
        names = ", ".join(m.display_name for m in members)
        joined = f"{plural(len(members), 'student')} joined"
        st.caption(joined + (f": {markdown_text(names, 2000)}" if names else "."))
        if not trained:
            st.info("No trainings yet: they appear here, live, as soon as a student presses Train.")
            return
        rows = [
            {
                "student": name,
                "run": run.name,
                "status": status_text(run),
                "test accuracy (%)": None if run.test_accuracy is None else round(100 * run.test_accuracy, 2),
                "parameters": run.n_params,
                "time": format_seconds(run.duration),
                "network": network_summary(run.spec),
            }
            for name, run in trained
        ]
        st.dataframe(rows, hide_index=True, width="stretch")
        for name, run in trained:
            if run.status == "running" and (run.progress or {}).get("epochs"):
                text = f"{markdown_text(name, 30)}: {markdown_text(run.name, 80)} ({status_text(run)})"
                st.progress(run_progress(run).fraction, text=text)

    live()


def _save(change: Callable[..., Classroom], *args: Any, done: str) -> None:
    try:
        change(*args)
    except InvalidSettings as exc:
        _show_problems(exc)
        return
    st.session_state[_FLASH] = done
    st.rerun()


def _none_if_zero(value: float) -> int | None:
    return int(value) or None


def challenge_form(classes: ClassStore, classroom: Classroom) -> None:
    current = classroom.challenge
    with st.form("class_challenge"):
        text = st.text_input(
            "The challenge, in words", value=current.text, max_chars=200,
            placeholder="Best accuracy under 20,000 parameters",
        )  # fmt: skip
        cols = st.columns(2)
        params = cols[0].number_input(
            "At most this many parameters (0: any)", min_value=0, value=current.max_params or 0, step=1000
        )
        seconds = cols[1].number_input(
            "At most this many seconds of training (0: any)",
            min_value=0,
            value=current.max_seconds or 0,
            step=10,
        )
        st.caption(
            "The leaderboard checks the rules on every finished run and puts the runs that keep them first."
        )
        if st.form_submit_button("Set the challenge"):
            challenge = Challenge(text, _none_if_zero(params), _none_if_zero(seconds))
            _save(
                classes.set_challenge,
                classroom.id,
                challenge,
                done="The challenge is set: everyone sees it now.",
            )


def limits_form(classes: ClassStore, classroom: Classroom) -> None:
    current = classroom.limits
    with st.form("class_limits"):
        cols = st.columns(3)
        epochs = cols[0].number_input("Most epochs (0: any)", min_value=0, value=current.max_epochs or 0)
        params = cols[1].number_input(
            "Most parameters (0: any)", min_value=0, value=current.max_params or 0, step=1000
        )
        runs = cols[2].number_input(
            "Trainings per student (0: any)", min_value=0, value=current.max_runs or 0
        )
        st.caption("Checked when a student presses Train (a sweep counts as all its trainings).")
        if st.form_submit_button("Set the limits"):
            limits = ClassLimits(_none_if_zero(epochs), _none_if_zero(params), _none_if_zero(runs))
            _save(classes.set_limits, classroom.id, limits, done="The class's limits are set.")


def hidden_form(classes: ClassStore, classroom: Classroom) -> None:
    """A tick box per part (not a drop-down list: its open menu swallowed the first click on the
    button below it, so a teacher's choice seemed saved and was not)."""
    stored = (classroom.id, sorted(classroom.hidden))
    if st.session_state.get(_HIDDEN_DRAWN) != stored:  # first drawn, or changed (e.g. in another tab)
        st.session_state[_HIDDEN_DRAWN] = stored
        for part in HIDEABLE:
            st.session_state[f"class_hide_{part}"] = part in classroom.hidden
    with st.form("class_hidden"):
        st.markdown("Hide from the class (students of this class do not see what is ticked; you still do):")
        columns = st.columns(2)
        ticked = [
            part
            for i, (part, words) in enumerate(HIDEABLE.items())
            if columns[i % 2].checkbox(words, key=f"class_hide_{part}")
        ]
        if st.form_submit_button("Hide the ticked parts"):
            _save(classes.set_hidden, classroom.id, ticked, done="Done: the class's pages follow at once.")


def code_of(text: str) -> str | None:
    """A starting network's code from a share link (its ``start=``) or from the code itself."""
    text = (text or "").strip()
    if "start=" in text:
        found = parse_qs(urlsplit(text).query).get("start")
        return found[0] if found else text
    return text or None


def _start_within_limits(start: sharing.StartingPoint, limits: ClassLimits) -> None:
    """Say where the class's own limits change its starting network for the students."""
    epochs, n_params = start.config.epochs, count_params(start.spec)
    over = {p.setting for p in limits.problems(n_params=n_params, epochs=epochs, used=0)}  # the class's check
    if "max_epochs" in over:
        st.info(
            f"It trains for {epochs} epochs and the class allows {limits.max_epochs}: students' runs of it "
            f"train for {limits.max_epochs}.",
            icon="ℹ️",
        )
    if "max_params" in over:
        st.warning(
            f"It has {n_params:,} parameters and the class allows {limits.max_params:,}: students cannot "
            "train it as it is. Raise the limit or set a smaller network.",
            icon="⚠️",
        )


def start_form(classes: ClassStore, classroom: Classroom) -> None:
    if classroom.start:
        try:
            start = sharing.decode(classroom.start)
            st.markdown(
                f"Students start from **{markdown_text(start.name, 80)}** ({network_summary(start.spec)})."
            )
            _start_within_limits(start, classroom.limits)
        except InvalidSettings:
            st.warning("The class's starting network can no longer be read: set another one.")
    with st.form("class_start"):
        text = st.text_input(
            "A share link from Build & Train (📤 Take this network with you → As a link); empty: none",
            value=classroom.start or "",
        )
        if st.form_submit_button("Set the starting network"):
            _save(
                classes.set_start,
                classroom.id,
                code_of(text),
                done="The starting network is in the join link.",
            )
