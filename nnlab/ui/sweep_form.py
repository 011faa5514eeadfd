"""The Sweeps page's form: a base network and settings, one or two settings to vary, their values.

The base is the network handed over by Build & Train ("Sweep this network": its share code in the
address, ``?base=CODE``, checked by ``sharing.decode``), a preset with quick settings, or one of the
visitor's runs. Problems (values, cells, the operator's and the class's limits for the group) are
shown before the button, in words; the button queues the grid through ``sweeps.submit_sweep``.
"""

from __future__ import annotations

import streamlit as st

from nnlab import sharing
from nnlab.architectures import IMPORTED, PRESETS, Spec, get_preset
from nnlab.classes import Training
from nnlab.export.notebook import markdown_text
from nnlab.limits import Limits
from nnlab.runner import Runner
from nnlab.sweeps import Axis, Point, choices, expand, group_limit_problems, parse_values, submit_sweep
from nnlab.training import TrainConfig
from nnlab.ui.class_mode import ClassContext
from nnlab.ui.format import run_label
from nnlab.ui.links import SWEEPS, link
from nnlab.ui.repeat_clicks import already_queued, remember_queued
from nnlab.validation import InvalidSettings, Problem
from nnlab.words import plural

BASE = "base"  # query parameter: the share code of the network Build & Train hands over
PICKED = "sweep_pick"  # the sweep shown below the form (a widget key of sweep_view)
QUICK = TrainConfig(epochs=1, subset=6000)
SUGGESTED = {
    "learning_rate": "0.0003, 0.001, 0.003",
    "batch_size": "32, 128",
    "epochs": "1, 2, 3",
    "subset": "1000, 3000, 6000",
    "seed": "0, 1, 2",
    "units": "32, 64, 128",
    "filters": "8, 16, 32",
    "rate": "0.1, 0.3, 0.5",
}


def sweep_link(spec: Spec, config: TrainConfig) -> None:
    """Build & Train's way to the Sweeps page with its network and settings (valid ones only)."""
    try:
        code = sharing.encode(spec, config)
    except InvalidSettings:
        return
    link(SWEEPS, "Sweep this network: train a grid of settings and compare them", query_params={BASE: code})


def describe_config(config: TrainConfig) -> str:
    images = f"{config.subset:,}" if config.subset else "all 60,000"
    return (
        f"{plural(config.epochs, 'epoch')} · {images} training images · batch {config.batch_size} · "
        f"learning rate {config.learning_rate:g} · {config.optimizer}"
    )


def _linked() -> sharing.StartingPoint | None:
    code = st.query_params.get(BASE)
    if not code:
        return None
    try:
        return sharing.decode(code)
    except InvalidSettings:
        st.warning("The network in this address cannot be read: choose a preset or one of your runs.")
        return None


def choose_base(runner: Runner, visitor: str) -> tuple[Spec, TrainConfig] | None:
    """The network and settings the sweep starts from."""
    linked = _linked()
    sources = (["The network from Build & Train"] if linked else []) + ["A preset", "One of your runs"]
    source = st.radio("Start from", sources, horizontal=True, key="sweep_source")
    if linked is not None and source == sources[0]:
        return linked.spec, linked.config
    if source == "A preset":
        name = st.selectbox("Preset", list(PRESETS), key="sweep_preset")
        return get_preset(name), QUICK
    runs = [
        r
        for r in runner.store.list(owner=visitor, include_unowned=False)
        if not any(layer.get("kind") == IMPORTED for layer in r.spec.get("layers", []))
    ]
    if not runs:
        st.info("You have no runs yet: start from a preset, or train a network on Build & Train first.")
        return None
    run = st.selectbox("Run", runs, format_func=run_label, key="sweep_run")
    return run.spec, TrainConfig.from_dict(run.config)


def axis_inputs(spec: Spec) -> tuple[list[Axis], list[Problem]]:
    """One or two settings and their values, typed; with what is wrong with them."""
    options = choices(spec)
    axes, problems = [], []
    for i, col in enumerate(st.columns(2)):
        with col:
            listed: list[Axis | None] = list(options) if i == 0 else [None, *options]
            default = 0 if i == 0 else listed.index(Axis("batch_size"))
            picked = st.selectbox(
                f"Setting {i + 1}", listed, index=default, key=f"sweep_axis_{i}",
                format_func=lambda a: "(none: one setting only)" if a is None else a.label,
            )  # fmt: skip
            if picked is None:
                continue
            text = st.text_input(
                f"Values of the {picked.label} (2 to 5, with commas)",
                value=SUGGESTED.get(picked.setting, ""),
                key=f"sweep_values_{i}_{picked.setting}_{picked.layer}",
            )
            values, found = parse_values(text, picked)
            axes.append(Axis(picked.setting, values, picked.layer))
            problems += found
    return axes, problems


def _grid(runner: Runner, visitor: str, klass: ClassContext, limits: Limits, spec: Spec, config: TrainConfig):
    """The grid's cells, and every reason it cannot be queued now."""
    axes, problems = axis_inputs(spec)
    points: list[Point] = []
    if not problems:
        try:
            points = expand(spec, config, axes)
        except InvalidSettings as exc:
            problems = exc.problems
    if points:
        problems = group_limit_problems(runner, limits, points, visitor)
        problems += klass.problems([Training(p.spec, p.config) for p in points], sweep=True)
    return axes, points, problems


def sweep_form(runner: Runner, visitor: str, klass: ClassContext, limits: Limits) -> None:
    """The whole form; a queued sweep becomes the one shown below it."""
    base = choose_base(runner, visitor)
    if base is None:
        return
    spec, config = base
    st.caption(f"Base: {markdown_text(spec.get('name', 'Custom network'), 80)}, {describe_config(config)}.")
    axes, points, problems = _grid(runner, visitor, klass, limits, spec, config)
    if points:
        shape = " × ".join(str(len(a.values)) for a in axes)
        st.markdown(f"**{shape} = {len(points)} trainings**, queued together (row by row).")
    for problem in problems:
        st.error(markdown_text(str(problem), 400), icon="⚠️")
    queue = st.button(
        "Queue the sweep", type="primary", icon="🧪", disabled=bool(problems) or not points, key="sweep_queue"
    )
    if queue:
        grid = (spec, config, axes)  # axes: dataclasses, compared by repr
        sweep_id = already_queued("sweep", *grid)  # a double click: the sweep its first click queued
        try:
            if sweep_id is None:
                sweep_id = submit_sweep(
                    runner,
                    owner=visitor,
                    spec=spec,
                    config=config,
                    axes=axes,
                    limits=limits,
                    member=klass.member,
                ).id
        except InvalidSettings as exc:
            for problem in exc.problems:
                st.error(markdown_text(str(problem), 400), icon="⚠️")
            return
        remember_queued("sweep", sweep_id, *grid)
        st.session_state[PICKED] = sweep_id
        st.query_params["sweep"] = sweep_id
        st.rerun()
