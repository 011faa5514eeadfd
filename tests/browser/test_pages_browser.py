"""Every page of the app opens in a real browser, for a visitor without runs, with no exception box.

The pages are found in ``pages/`` (a new page is covered without editing this file). Each test is a
new visitor, and runs belong to their visitor, so each page sees an empty run store even where
other browser tests of the session have trained something.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from conftest import ROOT, running_app, wait_idle
from playwright.sync_api import expect

from nnlab.ui.links import PAGES

pytestmark = pytest.mark.browser

LOAD_MS = 90_000  # first load: TensorFlow and MNIST load in the server on a busy 2-core machine
PAGE_FILES = sorted(p.name for p in (ROOT / "pages").glob("*.py") if not p.name.startswith("_"))


def url_path(file_name: str) -> str:
    """Streamlit's URL path for a page file: the name without its number prefix and ``.py``."""
    return re.sub(r"^[0-9]+[_ -]*", "", Path(file_name).stem)


def _no_exception(page, app_server) -> None:
    boxes = page.locator('[data-testid="stException"]')
    if boxes.count():
        pytest.fail(
            f"exception shown on {page.url}:\n{boxes.first.inner_text()}\n"
            f"server log:\n{app_server.log()[-3000:]}"
        )


def _visitor_runs(page, app_server) -> list:
    match = re.search(r"[?&]visitor=([A-Za-z0-9_-]+)", page.url)
    return app_server.store().list(owner=match.group(1)) if match else []


def test_the_pages_are_found():
    assert len(PAGE_FILES) >= 6, PAGE_FILES
    assert {"Build_and_Train", "Evaluate", "Inspect", "Draw"} <= {url_path(f) for f in PAGE_FILES}


def test_home_page_shows_its_title(open_app, app_server):
    page = open_app("")
    expect(page.get_by_role("heading", level=1, name="NN Lab")).to_be_visible(timeout=LOAD_MS)
    expect(page).to_have_title("NN Lab")
    expect(page.get_by_text("No runs yet")).to_be_visible(timeout=LOAD_MS)
    assert _visitor_runs(page, app_server) == []
    _no_exception(page, app_server)
    # The sidebar links to every page; the home page's body names each (drawn as text: no element
    # whose code Streamlit fetches later), and its picture of the data is drawn.
    targets = page.locator('[data-testid="stSidebarNav"] a[href]').evaluate_all(
        "links => links.map(a => new URL(a.href).pathname.replace(/\\/$/, ''))"
    )
    body = page.locator('[data-testid="stMain"]').inner_text()
    for file_name in PAGE_FILES:
        assert f"/{url_path(file_name)}" in targets, (file_name, targets)
    for listed in PAGES:
        assert f"{listed.title}: {listed.blurb}" in body, (listed.title, body)
    picture = page.locator('[data-testid="stMain"] img[alt="MNIST digits and their counts"]')
    expect(picture).to_be_visible()
    assert picture.evaluate("img => img.complete && img.naturalWidth") == 320


@pytest.mark.parametrize("file_name", PAGE_FILES)
def test_page_loads_without_exception(open_app, app_server, file_name):
    path = url_path(file_name)
    page = open_app(path)
    heading = page.locator('[data-testid="stMain"] h1').first
    expect(heading).to_be_visible(timeout=LOAD_MS)
    # The page itself opened (an unknown path would fall back to the home page with a notice).
    expect(page).to_have_url(re.compile(rf"/{re.escape(path)}(\?|$)"))
    expect(heading).not_to_have_text("🧠 NN Lab")
    expect(page).to_have_title(re.compile(r".+NN Lab$"))  # the page's own title, e.g. "Draw · NN Lab"
    expect(page.get_by_text("Page not found")).to_have_count(0)
    assert _visitor_runs(page, app_server) == []
    _no_exception(page, app_server)


def test_a_page_opened_first_by_its_address_has_the_apps_navigation(page, tmp_path):
    """A server has just started and the first visitor arrives by a link to a page (a student's link
    after the server restarted, a reload): the page runs through app.py, so its sidebar is the app's
    navigation (Home, the pages' own names, the pages the student's class hides left out), not
    Streamlit's list of the page files (which listed every page, under its file name, as "app" first).
    A hidden page's own address says that the class hides it.
    """
    from nnlab.classes import ClassStore
    from nnlab.runs import RunStore

    visitor = "0123456789abcdef"
    classes = ClassStore(RunStore(tmp_path))
    classroom, _ = classes.create("Tuesday")
    classes.set_hidden(classroom.id, ["sweeps", "data"])
    classes.join(classroom.id, visitor, "Ada")
    with running_app(tmp_path) as server:
        page.goto(f"{server.url}/Build_and_Train?visitor={visitor}")
        wait_idle(page, LOAD_MS)
        expect(page.locator('[data-testid="stMain"] h1').first).to_contain_text("Build & Train")
        nav = page.locator('[data-testid="stSidebarNav"] a')
        names = [text.split("\n")[-1].strip() for text in nav.all_inner_texts()]
        assert names == [
            "Home",
            "Build & Train",
            "Evaluate",
            "Inspect",
            "Draw",
            "From scratch",
            "Class",
            "Teacher",
        ]
        expect(page).to_have_url(re.compile(rf"/Build_and_Train\?(.+&)?visitor={visitor}"))
        _no_exception(page, server)
        # A hidden page's address (a bookmark from before the teacher hid it) says so, in the class's words.
        page.goto(f"{server.url}/Sweeps?visitor={visitor}")
        wait_idle(page, LOAD_MS)
        expect(page.get_by_text("Your class does not use the Sweeps page")).to_be_visible()
        expect(page.get_by_text("Page not found")).to_have_count(0)
        assert [t.split("\n")[-1].strip() for t in nav.all_inner_texts()] == names
        _no_exception(page, server)
