"""The Class and Teacher pages, and a student's Build & Train, through Streamlit's AppTest.

Students join from the join link with a display name and see the leaderboard with the challenge
checked; the teacher page opens only with the class's secret and then shows every student's runs and
sets the challenge, the limits and the hidden parts, which a student's Build & Train follows.

Submitted runs stay queued behind a run that holds the only training slot (``busy_runner``), so no
TensorFlow is loaded here; trainings that end are written into the store as a worker writes them.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from factories import busy_runner, finish
from streamlit.testing.v1 import AppTest

from nnlab.architectures import get_preset
from nnlab.classes import HIDEABLE, Challenge, ClassLimits, ClassStore, Training, submit_trainings
from nnlab.classes.store import secret_hash
from nnlab.training import TrainConfig

ROOT = Path(__file__).resolve().parent.parent
CLASS = str(ROOT / "pages" / "8_Class.py")
TEACHER = str(ROOT / "pages" / "9_Teacher.py")
BUILD = str(ROOT / "pages" / "1_Build_and_Train.py")
LOGREG = get_preset("Logistic regression 784-10")  # 7,850 parameters
MLP = get_preset("MLP 784-128-10")  # 101,770 parameters
QUICK = TrainConfig(epochs=1, subset=300)


@pytest.fixture
def runner(_isolated_home):
    return busy_runner()


def _page(path: str, **params: str) -> AppTest:
    at = AppTest.from_file(path, default_timeout=90)
    for key, value in params.items():
        at.query_params[key] = value
    return at.run()


def _words(at: AppTest) -> str:
    """Everything the page says in text elements, one string."""
    kinds = ("markdown", "caption", "info", "success", "warning", "error", "subheader", "title")
    return "\n".join(str(e.value) for kind in kinds for e in getattr(at, kind))


def _train(runner, member, spec, accuracy=None, seconds=10.0):
    run = submit_trainings(runner, [Training(spec, QUICK)], owner=member.visitor, member=member)[0]
    if accuracy is not None:
        finish(runner.store, run.id, accuracy, seconds)
    return run


def test_a_student_joins_with_a_display_name_checked_in_words(runner):
    classes = ClassStore(runner.store)
    classroom, _ = classes.create("Year 10, Tuesday")
    at = _page(CLASS, visitor="visitor-a", join=classroom.id)
    assert not at.exception and "Year 10, Tuesday" in _words(at)
    at.text_input[0].set_value("   ")  # a form's fields reach the page with its button
    at.button[0].click().run()
    assert "Choose the name the class will see" in _words(at) and classes.member("visitor-a") is None
    at.text_input[0].set_value("**Ada**")
    at.button[0].click().run()
    assert not at.exception, at.exception
    member = classes.member("visitor-a")
    assert member is not None and member.class_id == classroom.id and member.display_name == "**Ada**"
    words = _words(at)
    assert r"Welcome, \*\*Ada\*\*" in words  # shown as typed, never as bold Markdown
    assert "No finished runs yet" in words

    other = _page(CLASS, visitor="visitor-b", join="no-such-class")
    assert "does not lead to a class" in _words(other) and not other.text_input
    nowhere = _page(CLASS, visitor="visitor-c")
    assert "Open the join link your teacher gave you" in _words(nowhere)
    # A student of a class opening a link: another class's is no change; one that leads nowhere says so.
    second, _ = classes.create("Year 11")
    elsewhere = _page(CLASS, visitor="visitor-a", join=second.id)
    assert "You are already in a class" in _words(elsewhere) and "Year 10, Tuesday" in _words(elsewhere)
    broken = _page(CLASS, visitor="visitor-a", join="no-such-class")
    assert "does not lead to a class; your own class is below" in _words(broken)
    assert "already in a class" not in _words(broken) and "Year 10, Tuesday" in _words(broken)


def test_the_leaderboard_shows_finished_runs_with_the_challenge_checked(runner):
    classes = ClassStore(runner.store)
    classroom, _ = classes.create("Year 10")
    ada = classes.join(classroom.id, "visitor-a", "Ada")
    bob = classes.join(classroom.id, "visitor-b", "Bob")
    _train(runner, ada, LOGREG, 0.9123)
    _train(runner, bob, MLP, 0.9765, seconds=42)
    _train(runner, bob, LOGREG)  # still queued: not on the board
    classes.set_challenge(classroom.id, Challenge("Best accuracy under 20,000 parameters", 20_000))

    at = _page(CLASS, visitor="visitor-a")
    assert not at.exception, at.exception
    words = _words(at)
    assert "Best accuracy under 20,000 parameters" in words and "at most 20,000 parameters" in words
    cards = [str(m.value) for m in at.markdown if "test accuracy" in str(m.value)]
    assert len(cards) == 2
    assert (
        cards[0].startswith("**1. Ada (you)** ✅") and "91.23%" in cards[0] and "7,850 parameters" in cards[0]
    )
    assert cards[1].startswith("**2. Bob** ✖ outside the challenge") and "97.65%" in cards[1]
    assert "101,770 parameters" in cards[1] and r"MLP 784\-128\-10" in cards[1]  # the network, as text
    table = at.dataframe[0].value
    assert list(table["student"]) == ["Ada", "Bob"] and list(table["challenge"]) == ["✅", "✖"]


def test_the_teacher_page_is_refused_without_its_secret(runner):
    classes = ClassStore(runner.store)
    classroom, secret = classes.create("Secret class")
    classes.join(classroom.id, "visitor-a", "Ada")
    for params in ({}, {"key": "not-the-secret"}, {"key": secret_hash(secret)}):
        at = _page(TEACHER, visitor="visitor-a", **params)
        assert not at.exception, at.exception
        words = _words(at)
        assert "Secret class" not in words and "Ada" not in words and not at.tabs
        assert ("does not open a class" in words) == bool(params)  # a wrong key is answered in words
        assert [b.label for b in at.button] == ["Create the class"]


def test_a_teacher_creates_a_class_and_gets_the_two_links(runner):
    at = _page(TEACHER)
    at.text_input[0].set_value("Year 11")
    at.button[0].click().run()
    assert not at.exception, at.exception
    secret = at.query_params["key"][0] if isinstance(at.query_params["key"], list) else at.query_params["key"]
    classroom = ClassStore(runner.store).for_teacher(secret)
    assert classroom is not None and classroom.name == "Year 11" and len(secret) >= 40
    codes = [str(c.value) for c in at.code]
    assert codes == [f"./Class?join={classroom.id}", f"./Teacher?key={secret}"]
    assert "Your class is ready" in _words(at)


HIDEABLE_KEYS = [f"class_hide_{part}" for part in HIDEABLE]


def test_the_teacher_sees_every_run_and_sets_challenge_limits_and_hidden_parts(runner):
    classes = ClassStore(runner.store)
    classroom, secret = classes.create("Year 10")
    ada = classes.join(classroom.id, "visitor-a", "Ada")
    bob = classes.join(classroom.id, "visitor-b", "Bob")
    _train(runner, ada, LOGREG, 0.91)
    _train(runner, bob, MLP)  # queued
    at = _page(TEACHER, key=secret)
    assert not at.exception, at.exception
    assert "2 students joined: Ada, Bob" in _words(at)
    runs = at.dataframe[0].value
    assert sorted(zip(runs["student"], runs["status"], strict=True)) == [
        ("Ada", "done"),
        ("Bob", "waiting in the queue"),
    ]

    form = [t for t in at.text_input if t.label == "The challenge, in words"][0]
    form.set_value("Smallest network above 90 %")
    [n for n in at.number_input if n.label.startswith("At most this many parameters")][0].set_value(20_000)
    at.button(key="FormSubmitter:class_challenge-Set the challenge").click().run()
    assert not at.exception, at.exception
    assert classes.get(classroom.id).challenge == Challenge("Smallest network above 90 %", 20_000, None)
    assert "The challenge is set" in _words(at)

    [n for n in at.number_input if n.label == "Most epochs (0: any)"][0].set_value(2)
    [n for n in at.number_input if n.label == "Trainings per student (0: any)"][0].set_value(3)
    at.button(key="FormSubmitter:class_limits-Set the limits").click().run()
    assert classes.get(classroom.id).limits == ClassLimits(max_epochs=2, max_runs=3)

    at.checkbox(key="class_hide_layer_editor").check()
    at.checkbox(key="class_hide_draw").check()
    at.button(key="FormSubmitter:class_hidden-Hide the ticked parts").click().run()
    assert classes.get(classroom.id).hidden == frozenset({"layer_editor", "draw"})
    at.checkbox(key="class_hide_draw").uncheck()  # unticked: shown again
    at.button(key="FormSubmitter:class_hidden-Hide the ticked parts").click().run()
    assert classes.get(classroom.id).hidden == frozenset({"layer_editor"})
    classes.set_hidden(classroom.id, ["sweeps"])  # changed meanwhile in another tab: the boxes follow
    at.run()
    ticked = {key.removeprefix("class_hide_") for key in HIDEABLE_KEYS if at.checkbox(key=key).value}
    assert ticked == {"sweeps"}
    assert not at.exception, at.exception


def test_a_students_build_and_train_follows_the_classs_hidden_parts_and_limits(runner):
    classes = ClassStore(runner.store)
    classroom, _ = classes.create("Year 10")
    classes.join(classroom.id, "visitor-a", "Ada")
    classes.set_hidden(classroom.id, ["layer_editor", "take_home", "sweeps"])
    classes.set_limits(classroom.id, ClassLimits(max_epochs=2, max_params=20_000))

    outsider = _page(BUILD, visitor="visitor-z")
    assert not outsider.exception, outsider.exception
    assert any(s.label == "Add a layer" for s in outsider.selectbox)
    assert any("Take this network with you" in e.label for e in outsider.expander)
    assert any("Sweep this network" in str(m.value) for m in outsider.markdown)

    at = _page(BUILD, visitor="visitor-a")
    assert not at.exception, at.exception
    words = _words(at)
    assert "Class **Year 10**, as **Ada**" in words and "the layer editor is hidden" in words
    assert not any(s.label == "Add a layer" for s in at.selectbox)
    assert not any("Take this network with you" in e.label for e in at.expander)
    assert not any("Sweep this network" in str(m.value) for m in at.markdown)
    at.toggle(key="hp_quick").set_value(False).run()
    assert at.number_input(key="hp_epochs").max == 2  # the class's bound, tighter than the demo's
    preset = [s for s in at.selectbox if s.options and "MLP 784-128-10" in s.options][0]
    preset.set_value("MLP 784-128-10").run()
    assert not at.exception, at.exception
    assert any("at most 20,000 parameters; this one has 101,770" in str(i.value) for i in at.info)
    assert at.button(key="train_button").disabled


def test_the_navigation_leaves_out_the_pages_a_class_hides(runner):
    from nnlab.ui.class_mode import visible_pages
    from nnlab.ui.links import DRAW, PAGES, SWEEPS

    classes = ClassStore(runner.store)
    classroom, _ = classes.create("Year 10")
    classes.join(classroom.id, "visitor-a", "Ada")
    classes.set_hidden(classroom.id, ["draw", "sweeps", "layer_editor"])
    assert visible_pages("visitor-a") == tuple(p for p in PAGES if p not in (DRAW, SWEEPS))
    assert visible_pages("visitor-z") == PAGES  # not a student: every page
    home = AppTest.from_file(str(ROOT / "app.py"), default_timeout=90)
    home.query_params["visitor"] = "visitor-a"
    words = "\n".join(m.value for m in home.run().markdown)  # the home page's list of the pages
    assert not home.exception, home.exception
    assert "**Evaluate**" in words and "**Draw**" not in words and "**Sweeps**" not in words


def test_the_teacher_is_told_where_the_class_limits_change_its_starting_network(runner):
    from nnlab.sharing import encode

    classes = ClassStore(runner.store)
    classroom, secret = classes.create("Year 10")
    classes.set_start(classroom.id, encode(MLP, TrainConfig(epochs=5)))
    classes.set_limits(classroom.id, ClassLimits(max_epochs=2, max_params=20_000))
    at = _page(TEACHER, key=secret)
    assert not at.exception, at.exception
    words = _words(at)
    assert "It trains for 5 epochs and the class allows 2: students' runs of it train for 2" in words
    assert "It has 101,770 parameters and the class allows 20,000: students cannot train it" in words
    classes.set_limits(classroom.id, ClassLimits(max_epochs=5, max_params=200_000))
    at.run()
    assert "the class allows" not in _words(at)
