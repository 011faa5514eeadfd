"""Build & Train: compose a network, choose its training settings, train it and watch it learn."""

from __future__ import annotations

import streamlit as st

from nnlab.architectures import count_params
from nnlab.classes import Training
from nnlab.runs import Run
from nnlab.training import validate_config
from nnlab.ui.access import NOT_YOURS, can_see, can_stop
from nnlab.ui.app_navigation import run_through_app
from nnlab.ui.augment_view import augmentation_preview
from nnlab.ui.class_mode import class_context
from nnlab.ui.compose import compose_network, has_network, load_spec, summary_panel
from nnlab.ui.diagram_view import spec_diagram
from nnlab.ui.format import run_label
from nnlab.ui.hyperparams import hyperparameter_form, load_config
from nnlab.ui.importer import edit_refusal
from nnlab.ui.live import newest_active, watch_run
from nnlab.ui.repeat_clicks import already_queued, remember_queued
from nnlab.ui.services import get_runner, limits_or_warn
from nnlab.ui.starting_points import apply_shared_link, take_home_panel
from nnlab.ui.sweep_form import sweep_link
from nnlab.ui.visitor import visitor_id
from nnlab.ui.workers import workers_caption
from nnlab.validation import InvalidSettings

_RUN = "train_run"  # the run this session watches (also in the URL as ?run=ID)
_CLEAR_NAME = "train_clear_run_name"  # a run was just started: empty the run-name field

run_through_app()  # a page opened by its own address runs through app.py's navigation
st.set_page_config(page_title="Build & Train · NN Lab", page_icon="🧠", layout="wide")
st.title("🧠 Build & Train")
st.caption(
    "Start from a preset network, change it layer by layer, choose how to train it, and watch it learn."
)

visitor = visitor_id()
limits = limits_or_warn()
runner = get_runner(limits.max_concurrent)
store = runner.store
klass = class_context(store, visitor)  # a student's class: its banner, rules and hidden parts
klass.banner()


def _watch(run_id: str | None) -> None:
    st.session_state[_RUN] = run_id
    if run_id:
        st.query_params["run"] = run_id
    elif "run" in st.query_params:
        del st.query_params["run"]


def watched_run_id() -> str | None:
    """The run to show: the URL's, else this session's, else this visitor's newest active run.

    Only a run this visitor may see (``access.py``): a link to another's run is answered in words.
    """
    for candidate in (st.query_params.get("run"), st.session_state.get(_RUN)):
        if not (isinstance(candidate, str) and candidate):
            continue
        if can_see(store.get(candidate) if _looks_like_id(candidate) else None, visitor):
            _watch(candidate)
            return candidate
        st.warning(NOT_YOURS, icon="🔒")
    active = newest_active(store, visitor)
    _watch(active.id if active else None)
    return active.id if active else None


def _looks_like_id(text: str) -> bool:
    return len(text) <= 64 and all(c.isalnum() or c in "-_" for c in text)


def edit_run(run: Run) -> None:
    """Load a run's network and settings into the editor (button callback, or a fresh session)."""
    if edit_refusal(run):  # an imported network with layers NN Lab cannot build
        return
    load_spec(run.spec)
    load_config(run.config or {})


apply_shared_link()  # ?start=CODE: a shared starting point replaces the editor's network and settings
watched = watched_run_id()
if watched and not has_network():
    # A fresh session (a browser refresh, a shared link) that watches a run edits that run's network,
    # not a preset the visitor never chose.
    loaded = store.get(watched)
    if loaded is not None:
        edit_run(loaded)

# ---- 1. the network ----------------------------------------------------------------------------
st.header("1 · Network", divider="gray")
spec, problems = compose_network(presets_only=klass.hides("layer_editor"))
with st.expander("Summary: output shape and parameters per layer", expanded=True):
    summary_panel(spec, problems)
with st.expander("The network as a picture", expanded=True):
    spec_diagram(spec, problems)

# ---- 2. the training settings ---------------------------------------------------------------------
st.header("2 · Training settings", divider="gray")
config = hyperparameter_form(klass.limits(limits), preset=st.session_state.get("compose_preset"))
config_problems = validate_config(config)
if config.augment and not config_problems:
    with st.expander("What augmentation does", expanded=True):
        augmentation_preview(config.seed)
for problem in config_problems:
    st.error(str(problem), icon="⚠️")
if limits.describe():
    st.caption("Limits of this demo: " + "; ".join(limits.describe()) + ".")
if not klass.hides("take_home"):
    take_home_panel(spec, config)
if not klass.hides("sweeps"):
    sweep_link(spec, config)

# ---- 3. train and watch ---------------------------------------------------------------------------
st.header("3 · Train", divider="gray")
mine = store.list(owner=visitor, include_unowned=False)  # this visitor's runs, newest first: read once
active, queued = sum(r.is_active for r in mine), len(store.queued_ids())  # the runner checks them again
workers_caption(store, queued)
limit_problems = (
    []
    if problems
    else limits.problems(
        n_params=count_params(spec), epochs=config.epochs, visitor_active=active, queued=queued
    )
    + ([] if config_problems else limits.network_problems(spec, config.batch_size))  # layers, memory
    + klass.problems([Training(spec, config)])  # a class's limits for its students
)
reasons = (
    (["The network has problems (see the layers above)."] if problems else [])
    + (["The training settings have problems (see above)."] if config_problems else [])
    + [str(p) for p in limit_problems]
)

cols = st.columns([3, 1], vertical_alignment="bottom")
if st.session_state.pop(_CLEAR_NAME, False):  # set before the field is drawn, so the browser shows it
    st.session_state["train_run_name"] = ""  # the last run took the name; the next one gets its own
run_name = cols[0].text_input(
    "Run name (optional)",
    key="train_run_name",
    max_chars=80,
    placeholder=spec["name"],
    help="A name to find this run again on the other pages; empty gives the network's name and the time.",
)
if cols[1].button(
    "Train", type="primary", icon="▶️", disabled=bool(reasons), key="train_button", width="stretch"
):
    repeated = already_queued("train", spec, config)  # a double click: the run its first click made
    name = run_name.strip() or None
    try:
        run_id = repeated or klass.submit(runner, spec, config, name=name, owner=visitor).id
    except InvalidSettings as exc:  # the runner re-validates: say why in words
        for problem in exc.problems:
            st.error(str(problem))
    else:
        remember_queued("train", run_id, spec, config)
        _watch(run_id)
        st.session_state[_CLEAR_NAME] = True
        st.rerun()
for reason in reasons:
    st.info(reason, icon="ℹ️")

if watched and watched not in {r.id for r in mine}:
    other = store.get(watched)
    mine = ([other] if other else []) + mine
if len(mine) > 1:
    ids = [r.id for r in mine]
    labels = {r.id: run_label(r) for r in mine}
    picked = st.selectbox(
        "Watching",
        ids,
        index=ids.index(watched) if watched in ids else 0,
        format_func=labels.get,
        help="Your trainings, newest first: pick one to see its charts and results.",
    )
    if picked != watched:
        _watch(picked)
        st.rerun()
elif mine and not watched:  # one run, none watched (a fresh session): show it, as the list above would
    watched = mine[0].id
    _watch(watched)

if watched:
    current = store.get(watched)
    watch_run(
        watched,
        runner=runner,
        visitor=visitor,
        can_stop=can_stop(current, visitor),  # never the operator's runs, nor another visitor's
        on_edit=None if current is None or edit_refusal(current) else edit_run,
    )
    if current is not None and edit_refusal(current):
        st.info(edit_refusal(current), icon="ℹ️")
else:
    st.info(
        "No training yet: choose a network and press **Train**. A quick run gives a result in seconds.",
        icon="👆",
    )
