"""What being a student of a class changes on the other pages: the pages shown, the class's banner,
its limits and hidden parts on Build & Train and Sweeps, and submitting within its rules.

``class_context(store, visitor)`` reads the visitor's class once per page run (one indexed read);
for a visitor in no class every method is a no-op, so pages call it unconditionally.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import streamlit as st

from nnlab.classes import Classroom, ClassStore, Member, Training, submit_trainings
from nnlab.classes.submit import class_problems
from nnlab.export.notebook import markdown_text
from nnlab.limits import Limits
from nnlab.runner import Runner
from nnlab.runs import Run, RunStore, StoreError
from nnlab.ui.links import CLASS, PAGES, Page, link
from nnlab.ui.services import get_store
from nnlab.validation import InvalidSettings, Problem


def _least(a: int | None, b: int | None) -> int | None:
    return b if a is None else a if b is None else min(a, b)


@dataclass(frozen=True)
class ClassContext:
    """The visitor's class, if they are a student (``member`` and ``classroom`` None otherwise)."""

    store: RunStore
    member: Member | None = None
    classroom: Classroom | None = None

    def hides(self, part: str) -> bool:
        return self.classroom is not None and self.classroom.hides(part)

    def limits(self, operator: Limits) -> Limits:
        """The operator's limits, tightened by the class's (for the settings form's bounds)."""
        if self.classroom is None:
            return operator
        own = self.classroom.limits
        return dataclasses.replace(
            operator,
            max_epochs=_least(operator.max_epochs, own.max_epochs),
            max_params=_least(operator.max_params, own.max_params),
        )

    def problems(self, trainings: list[Training], sweep: bool = False) -> list[Problem]:
        """Why the class would refuse these trainings now (the page says so before a click)."""
        if self.member is None or self.classroom is None:
            return []
        try:
            used = ClassStore(self.store).used(self.member)
            return class_problems(self.classroom, trainings, used, sweep)
        except InvalidSettings:  # the network or settings themselves: the page shows those already
            return []

    def submit(self, runner: Runner, spec: dict, config: Any, *, name: str | None, owner: str) -> Run:
        """Queue one training, within the class's rules for a student (``InvalidSettings`` otherwise)."""
        training = Training(spec, config, name)
        return submit_trainings(runner, [training], owner=owner, member=self.member)[0]

    def banner(self) -> None:
        """The class's name, the student's name and the challenge, with a link to the leaderboard."""
        if self.member is None or self.classroom is None:
            return
        name, me = markdown_text(self.classroom.name, 80), markdown_text(self.member.display_name, 30)
        words = f"🎓 Class **{name}**, as **{me}**"
        challenge = challenge_words(self.classroom)
        st.info(words + (f" · challenge: {challenge}" if challenge else ""))
        link(CLASS, "The class's leaderboard and challenge")


def class_context(store: RunStore, visitor: str) -> ClassContext:
    classes = ClassStore(store)
    member = classes.member(visitor)
    classroom = classes.get(member.class_id) if member else None
    return ClassContext(store, member, classroom) if classroom else ClassContext(store)


def challenge_words(classroom: Classroom) -> str:
    """The challenge as Markdown-safe words: its text, then its rules ('' when none is set)."""
    challenge = classroom.challenge
    rules = "; ".join(challenge.rules())
    text = markdown_text(challenge.text, 200) if challenge.text else ""
    if text and rules:
        return f"{text} ({rules})"
    return text or (f"best test accuracy with {rules}" if rules else "")


def _page_part(page: Page) -> str:
    return page.url_path.lower()  # 'From_Scratch' -> 'from_scratch', the key of the part in HIDEABLE


def visible_pages(visitor: str) -> tuple[Page, ...]:
    """The pages for this visitor: all of them, less those their class hides."""
    try:
        context = class_context(get_store(), visitor)
    except StoreError:  # the home page explains a store that cannot be opened
        return PAGES
    return tuple(p for p in PAGES if not context.hides(_page_part(p)))


def hidden_page(page: Page) -> Callable[[], None]:
    """What a student sees at the address of a page their class hides (a bookmark, a link from before
    the teacher hid it): that the class hides it, instead of Streamlit's "page not found"."""

    def hidden() -> None:
        st.title(f"{page.icon} {page.title}")
        st.info(
            f"Your class does not use the {page.title} page: your teacher chose the parts of NN Lab "
            "the class works with. The other pages are in the menu.",
            icon="🎓",
        )
        link(CLASS)

    return hidden
