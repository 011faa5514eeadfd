"""The end of a script run leaves Keras alone: Streamlit's runner cleared its session, with a full
garbage collection, after every run (issue 13).

Streamlit 1.67 ends every script run, each fragment refresh included, with
``script_runner._clean_problem_modules``: once ``keras`` is imported in the server it calls
``keras.backend.clear_session()``, which empties TensorFlow's kernel cache and runs ``gc.collect()``.
The web server imports TensorFlow as soon as a visitor opens Evaluate, Inspect or Draw on a run;
from then on every watcher's refresh, each second, was a full collection of some 440,000 objects
(20-300 ms on this machine): with 50 watchers the server spent all its time collecting (99 % of a
core, page runs 0.5-3 s instead of 0.03 s). Clearing the kernel cache after one visitor's run while
another's prediction runs is a race besides. NN Lab keeps its models in bounded caches
(``models.py``), freed as any Python object is; Python's own collector still runs.

``keep_keras_session`` puts in Streamlit's place a cleanup that does the rest of what it did (closing
matplotlib's figures). Elsewhere (another Streamlit without that function) nothing changes.
"""

from __future__ import annotations

import sys


def keep_keras_session() -> bool:
    """Replace Streamlit's end-of-run cleanup by one that leaves Keras alone; whether it was replaced
    (False: already done, or this Streamlit has no such cleanup)."""
    from streamlit.runtime.scriptrunner import script_runner

    original = getattr(script_runner, "_clean_problem_modules", None)
    if original is None or getattr(original, "streamlit_cleanup", None) is not None:
        return False
    _leave_keras_alone.streamlit_cleanup = original  # type: ignore[attr-defined]
    script_runner._clean_problem_modules = _leave_keras_alone
    return True


def _leave_keras_alone() -> None:
    """Streamlit's cleanup without its Keras part: matplotlib's open figures are closed."""
    pyplot = sys.modules.get("matplotlib.pyplot")
    if pyplot is not None:
        try:
            pyplot.close("all")
        except Exception:  # as Streamlit: a cleanup never breaks a page
            pass
