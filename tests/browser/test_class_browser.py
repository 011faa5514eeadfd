"""Class mode in the browser: a teacher and two students, each in a browser context of their own (the
students on phones, 400 px wide). The teacher creates the class and hands out the join link; the
students join with display names; neither student can see or stop the other's run or open the
teacher page without its secret; the leaderboard reads on a phone without sideways scrolling.

The students' runs are written into the server's store as a worker writes them (one still training,
its worker being this test process), so no TensorFlow runs here; the run's page, the Stop button, the
pages' access rules and the leaderboard are the real app's.
"""

from __future__ import annotations

import time
from urllib.parse import parse_qs, urlsplit

import pytest
from conftest import DEFAULT_TIMEOUT_MS, by_key, wait_idle
from playwright.sync_api import expect

from nnlab.architectures import get_preset
from nnlab.classes import Challenge, ClassStore
from nnlab.runs import process_handle
from nnlab.ui.access import NOT_YOURS

pytestmark = pytest.mark.browser

LOAD_MS = 90_000
PHONE = {"width": 400, "height": 860}
LOGREG = get_preset("Logistic regression 784-10")  # 7,850 parameters
QUICK = {"epochs": 3, "subset": 300}


def _context(browser, viewport):
    context = browser.new_context(viewport=viewport, has_touch=viewport == PHONE, is_mobile=viewport == PHONE)
    context.set_default_timeout(DEFAULT_TIMEOUT_MS)
    return context


@pytest.fixture
def people(browser):
    """Three visitors, each with a browser context of their own: the teacher, Ada and Bob."""
    contexts = [
        _context(browser, {"width": 1200, "height": 900}),
        _context(browser, PHONE),
        _context(browser, PHONE),
    ]
    try:
        yield [c.new_page() for c in contexts]
    finally:
        for context in contexts:
            context.close()


def _go(page, url: str) -> None:
    page.goto(url)
    wait_idle(page, LOAD_MS)


def _query(page, name: str) -> str:
    return parse_qs(urlsplit(page.url).query)[name][0]


def _no_exception(page, app_server) -> None:
    boxes = page.locator('[data-testid="stException"]')
    assert boxes.count() == 0, boxes.first.inner_text() + app_server.log()[-2000:]


def _fits_the_screen(page) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"the page is {width} px wide on a {PHONE['width']} px screen"


def _join(page, join_url: str, name: str, app_server) -> str:
    _go(page, join_url)
    page.get_by_role("textbox", name="Your name for the class").fill(name)
    page.get_by_role("button", name="Join the class").click()
    expect(page.get_by_text(f"Welcome, {name}")).to_be_visible(timeout=LOAD_MS)
    _no_exception(page, app_server)
    _fits_the_screen(page)
    return _query(page, "visitor")


def _class_run(store, member, accuracy: float | None) -> str:
    """A run of the student in the class: ended with ``accuracy``, or still training (None)."""
    run = store.create(LOGREG, QUICK, name=f"{member.display_name}'s run", owner=member.visitor)
    classes = ClassStore(store)
    (slot,) = classes.reserve(member, 1, lambda classroom, used: [])
    classes.attach(slot, run.id)
    now = time.time()
    if accuracy is None:
        store.update(run.id, status="running", started=now - 5, worker=process_handle())
    else:
        store.update(run.id, status="completed", started=now - 12, finished=now, test_accuracy=accuracy)
    return run.id


def test_a_teacher_and_two_students_each_see_only_what_is_theirs(people, app_server):
    teacher, ada, bob = people
    store = app_server.store()
    _go(teacher, f"{app_server.url}/Teacher")
    teacher.get_by_role("textbox", name="Class name").fill("Year 10, Tuesday")
    teacher.get_by_role("button", name="Create the class").click()
    expect(teacher.get_by_text("Your class is ready")).to_be_visible(timeout=LOAD_MS)
    secret = _query(teacher, "key")
    join_url = (
        teacher.locator('[data-testid="stCode"]').filter(has_text="join=").inner_text().replace("\n", "")
    )
    assert join_url.startswith(f"{app_server.url}/Class?join=") and secret not in join_url

    classes = ClassStore(store)
    ada_id, bob_id = _join(ada, join_url, "Ada", app_server), _join(bob, join_url, "Bob", app_server)
    classroom = classes.for_teacher(secret)
    classes.set_challenge(classroom.id, Challenge("Best accuracy under 20,000 parameters", 20_000))
    ada_live = _class_run(store, classes.member(ada_id), None)
    try:
        _class_run(store, classes.member(ada_id), 0.9123)
        _class_run(store, classes.member(bob_id), 0.9345)

        # Bob follows a link to Ada's run: told in words, no chart of it, no Stop button.
        _go(bob, f"{app_server.url}/Build_and_Train?visitor={bob_id}&run={ada_live}")
        expect(bob.get_by_text(NOT_YOURS)).to_be_visible()
        expect(by_key(bob, f"stop_{ada_live}")).to_have_count(0)
        expect(bob.get_by_text("Ada's run")).to_have_count(0)
        _no_exception(bob, app_server)
        # Ada, on the same link, watches her run and may stop it.
        _go(ada, f"{app_server.url}/Build_and_Train?visitor={ada_id}&run={ada_live}")
        expect(by_key(ada, f"stop_{ada_live}").get_by_role("button")).to_be_visible(timeout=LOAD_MS)
        assert not store.get(ada_live).stop_requested  # Bob's visit changed nothing

        # The teacher page without its secret: nothing of the class, only "create a class".
        for query in ("", "&key=not-the-teachers-secret-at-all-0123456789"):
            _go(bob, f"{app_server.url}/Teacher?visitor={bob_id}{query}")
            expect(bob.get_by_role("button", name="Create the class")).to_be_visible()
            expect(bob.get_by_text("Year 10, Tuesday")).to_have_count(0)
            expect(bob.get_by_text("does not open a class")).to_have_count(1 if query else 0)

        # The teacher sees both students and their runs.
        _go(teacher, f"{app_server.url}/Teacher?key={secret}")
        expect(teacher.get_by_text("2 students joined: Ada, Bob")).to_be_visible(timeout=LOAD_MS)
        _no_exception(teacher, app_server)
        # Setting the challenge keeps the teacher on the tab they were editing (it went to the first).
        rules = teacher.get_by_role("tab", name="Challenge, limits, hidden parts")
        rules.click()
        teacher.get_by_role("textbox", name="The challenge, in words").fill("Best accuracy, any size")
        teacher.get_by_role("button", name="Set the challenge").click()
        expect(teacher.get_by_text("The challenge is set")).to_be_visible(timeout=LOAD_MS)
        expect(rules).to_have_attribute("aria-selected", "true")
        expect(teacher.get_by_role("button", name="Set the limits")).to_be_visible()
        classes.set_challenge(classroom.id, Challenge("Best accuracy under 20,000 parameters", 20_000))

        # The leaderboard on Ada's phone: the best run first, the challenge checked, no sideways scroll.
        _go(ada, f"{app_server.url}/Class?visitor={ada_id}")
        cards = ada.locator('[class*="st-key-board_"]')
        expect(cards).to_have_count(2, timeout=LOAD_MS)
        expect(cards.nth(0)).to_contain_text("1. Bob ✅")
        expect(cards.nth(0)).to_contain_text("93.45% test accuracy")
        expect(cards.nth(1)).to_contain_text("2. Ada (you) ✅")
        expect(ada.get_by_text("Best accuracy under 20,000 parameters")).to_be_visible()
        _no_exception(ada, app_server)
        _fits_the_screen(ada)
        for card in (cards.nth(0), cards.nth(1)):
            box = card.bounding_box()
            assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]
    finally:
        store.update(ada_live, status="stopped", finished=time.time())  # frees the training slot
