"""Starting points on Build & Train: a link that loads a network and its settings into the editor.

``apply_shared_link`` reads ``?start=CODE`` (``nnlab.sharing``) once per session and per code: a valid
code replaces the editor's network and settings (nothing else: no run is created, stopped or changed);
a malformed or hostile one leaves everything as it was and says why. ``take_home_panel`` offers the
editor's network as code (``code_export.py``) and as such a link. The link carries no visitor id, so
whoever opens it works as themselves.
"""

from __future__ import annotations

import math

import streamlit as st

from nnlab import sharing
from nnlab.architectures import Spec
from nnlab.export.notebook import markdown_text
from nnlab.training import TrainConfig
from nnlab.ui.code_export import code_panel
from nnlab.ui.compose import load_spec
from nnlab.ui.hyperparams import load_config
from nnlab.ui.links import BUILD, page_url
from nnlab.validation import InvalidSettings, Problem

PARAM = "start"


def _markdown_literal(text: str) -> str:
    """A name shown inside inline code, so that Markdown in it is never rendered."""
    return "`" + sharing.clean_name(text).replace("`", "'") + "`"


def apply_shared_link() -> None:
    """Load ``?start=CODE`` into the editor (once: the code then leaves the address); call it before
    the editor is drawn."""
    code = st.query_params.get(PARAM)
    if code is None:
        return
    # Out of the address once read: a rerun or a reload keeps what the visitor has changed since,
    # instead of loading the link's network over it again; opening the link again loads it again.
    del st.query_params[PARAM]
    try:
        start = sharing.decode(code)
    except InvalidSettings as exc:
        _refused(exc.problems)
        return
    load_spec(start.spec)
    load_config(start.config.to_dict())
    unshown = _not_shown(start.config)
    if unshown:
        st.warning(
            "The training form offers fixed choices and cannot show these settings of the link, so it "
            "keeps its own: " + markdown_text("; ".join(unshown), 300) + ".",
            icon="⚠️",
        )
    st.success(
        f"This link's starting point, {_markdown_literal(start.name)}, is now in your editor: its layers "
        "below and its training settings. Change anything and train it; your runs are untouched.",
        icon="🔗",
    )


def _refused(problems: list[Problem]) -> None:
    # The problems quote the link's own text: escaped, so that no Markdown in a hostile link is rendered.
    listed = "\n".join(f"- {markdown_text(p, 300)}" for p in problems[:8]) + (
        "\n- ..." if len(problems) > 8 else ""
    )
    st.error("This link's starting point cannot be used, so nothing was changed:\n" + listed, icon="🔗")


# The form's widget for each setting whose choices are a fixed list (a link may hold another value).
_FORM = {
    "learning_rate": "hp_lr",
    "batch_size": "hp_batch",
    "validation_fraction": "hp_val",
    "optimizer": "hp_optimizer",
    "schedule": "hp_schedule",
}


def _not_shown(config: TrainConfig) -> list[str]:
    """The link's settings the form could not take (it offers fixed choices): it keeps its own there."""
    out = []
    for name, key in _FORM.items():
        value, shown = getattr(config, name), st.session_state.get(key)
        same = (
            math.isclose(value, shown, rel_tol=1e-6)
            if isinstance(value, float) and isinstance(shown, (int, float))
            else value == shown
        )
        if not same:
            out.append(f"{name.replace('_', ' ')} {value}")
    return out


def share_url(code: str) -> str:
    """The address of Build & Train with ``?start=CODE`` on this server (relative where it is unknown)."""
    return page_url(BUILD, {PARAM: code})


def share_section(spec: Spec, config: TrainConfig) -> None:
    """A link to this network and these settings, with a copy button (or why there is none)."""
    try:
        code = sharing.encode(spec, config)
    except InvalidSettings:
        st.info("Fix the problems of the network and its settings (above) to share them.", icon="ℹ️")
        return
    st.caption(
        "Send this link (a teacher: to a class) to start from this network: whoever opens it finds its "
        "layers and training settings in their own editor. It holds no visitor id and changes no run."
    )
    st.code(share_url(code), language=None, wrap_lines=True)


def take_home_panel(spec: Spec, config: TrainConfig) -> None:
    """Build & Train's 'take it with you': the network as code, as a notebook, and as a link."""
    with st.expander("📤 Take this network with you: as Python code, a notebook, or a link"):
        code_tab, link_tab = st.tabs(["As code", "As a link"])
        with code_tab:
            code_panel(spec, config, source="NN Lab's editor", key="build_export")
        with link_tab:
            share_section(spec, config)
