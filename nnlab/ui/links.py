"""The pages of the app and the links between them, with what one page hands to the next.

``PAGES`` is the one list of pages: ``app.py`` builds the navigation and the home page's list of pages
from it. A link to a run's results carries ``?run=ID`` (and the visitor id, kept by ``app.py``); a link
from Draw to Inspect carries ``?image=drawing`` and the drawing itself travels in the session state;
``?image=123`` opens test image 123 and ``?view=step`` one of Inspect's views (``INSPECT_VIEWS``).
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlencode, urlsplit

import streamlit as st

SELECTED = "nnlab_selected_run"  # the run last looked at, shared by Evaluate, Inspect and Draw
LAST_DRAWING = "nnlab_last_drawing"  # written by Draw, read by Inspect: a 28x28 float32 image in [0, 1]
IMAGE_PARAM = "image"  # Inspect's image from a link: "drawing" (Draw's last drawing) or a test image number
DRAWING_LINK = {IMAGE_PARAM: "drawing"}  # query parameters of Draw's link to Inspect: open on the drawing
VIEW_PARAM = "view"  # Inspect's view from a link: one of INSPECT_VIEWS' slugs, e.g. ?view=step
INSPECT_VIEWS = {
    "network": "Network",
    "step": "Step by step",
    "kernels": "Kernels & weights",
    "maps": "Feature maps",
    "saliency": "Saliency",
    "fooling": "Fooling it",
    "digit-map": "Digit map",
    "replay": "Learning replayed",
    "histograms": "Weight histograms",
}


@dataclass(frozen=True)
class Page:
    path: str
    title: str
    icon: str
    blurb: str  # what a learner does there, for the home page

    @property
    def url_path(self) -> str:
        """``pages/1_Build_and_Train.py`` -> ``Build_and_Train``."""
        return self.path.rsplit("/", 1)[-1].removesuffix(".py").split("_", 1)[-1]


BUILD = Page(
    "pages/1_Build_and_Train.py",
    "Build & Train",
    "🏗️",
    "compose a network, set its hyperparameters, watch it learn",
)
EVALUATE = Page(
    "pages/2_Evaluate.py", "Evaluate", "📊", "confusion matrix, per-class metrics, mistakes, compare runs"
)
INSPECT = Page("pages/3_Inspect.py", "Inspect", "🔬", "kernels, feature maps, weights, saliency")
DRAW = Page("pages/4_Draw.py", "Draw", "✏️", "draw a digit and let your network read it")
DATA = Page("pages/5_Data.py", "Data", "🖼️", "explore the MNIST images")
SCRATCH = Page("pages/6_From_Scratch.py", "From scratch", "🧮", "a network in pure NumPy, next to Keras")
SWEEPS = Page("pages/7_Sweeps.py", "Sweeps", "🧪", "train a grid of settings and compare them")
CLASS = Page("pages/8_Class.py", "Class", "🎓", "join your class, its challenge and leaderboard")
TEACHER = Page("pages/9_Teacher.py", "Teacher", "🧑‍🏫", "create a class, follow it, set its challenge")
PAGES = (BUILD, EVALUATE, INSPECT, DRAW, DATA, SCRATCH, SWEEPS, CLASS, TEACHER)

RESULT_PAGES = (
    (EVALUATE, "Test-set accuracy per digit, confusion matrix, mistakes."),
    (INSPECT, "Weights, filters and activations of this network."),
    (DRAW, "Draw a digit and see what this network thinks."),
)


def link(
    page: Page, label: str | None = None, query_params: dict[str, str] | None = None, help: str | None = None
) -> None:
    """A link to another page (plain Markdown where it is not registered: a page run alone, in tests)."""
    label = label or f"**{page.title}**: {page.blurb}"
    try:
        st.page_link(page.path, label=label, icon=page.icon, query_params=query_params, help=help)
    except Exception:  # StreamlitPageNotFoundError and friends
        query = f"?{urlencode(query_params)}" if query_params else ""
        st.markdown(f"{page.icon} [{label}](./{page.url_path}{query})", help=help)


def pages_in_words(pages: tuple[Page, ...]) -> str:
    """The pages as a Markdown list, each with what a learner does there (the home page's; the
    sidebar's navigation links to them)."""
    return "\n".join(f"- {page.icon} **{page.title}**: {page.blurb}" for page in pages)


def page_url(page: Page, query: dict[str, str]) -> str:
    """The full address of ``page`` with ``query`` on this server (relative where it is unknown), to
    copy into a message: a share link, a class's join link, a teacher link."""
    encoded = urlencode(query)
    try:
        parts = urlsplit(st.context.url or "")
    except Exception:  # no browser behind this session (a test)
        parts = urlsplit("")
    if not parts.scheme or not parts.netloc:
        return f"./{page.url_path}?{encoded}"
    base = parts.path.rsplit("/", 1)[0]  # the app's own base path, if it is served under one
    return f"{parts.scheme}://{parts.netloc}{base}/{page.url_path}?{encoded}"


def inspect_link(
    label: str, *, run_id: str | None = None, image: str | None = None, view: str | None = None,
    help: str | None = None,
) -> None:  # fmt: skip
    """A link to Inspect opening a run, an image (``"drawing"`` or a test image's number) and a view."""
    params = {"run": run_id, IMAGE_PARAM: image, VIEW_PARAM: view}
    link(INSPECT, label, query_params={k: v for k, v in params.items() if v is not None}, help=help)


def result_links(run_id: str, visitor: str | None = None) -> None:
    """Links to Evaluate, Inspect and Draw with this run selected."""
    params = {"run": run_id, **({"visitor": visitor} if visitor else {})}
    st.session_state[SELECTED] = run_id  # the pages that remember a selection start from this run
    for col, (page, help_text) in zip(st.columns(len(RESULT_PAGES)), RESULT_PAGES, strict=True):
        with col:
            link(page, f"{page.title} this run", query_params=params, help=help_text)
