"""How NN Lab words things for people: run statuses, progress, durations, sizes, run labels, errors.

The pages, the home page, the command line and the model checks all use these, so that a run reads
the same everywhere. No Streamlit here.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import Any

from nnlab.events import fraction_done
from nnlab.words import plural

STATUS_LABELS = {
    "queued": "⏳ waiting",
    "running": "🏃 training",
    "completed": "✅ completed",
    "stopped": "⏹️ stopped",
    "failed": "❌ failed",
}
STATUS_WORDS = {
    "queued": "waiting in the queue",
    "running": "training",
    "completed": "done",
    "stopped": "stopped",
    "failed": "failed",
}


def format_seconds(seconds: float | None) -> str:
    """``75`` -> ``1:15``; ``3700`` -> ``1:01:40``; None -> ``–``."""
    if seconds is None or seconds != seconds or seconds < 0:
        return "–"
    seconds = int(round(seconds))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def percent_sure(p: float) -> str:
    """A probability as a person reads it: ``0.87`` -> ``87%``; ``0.998`` -> ``99.8%``, never ``100%``
    for what is not 1 (rounded down to 99.9% at most)."""
    if 0.995 <= p < 1.0:
        return f"{min(int(p * 1000) / 10, 99.9):.1f}%"
    return f"{p:.0%}"


def format_bytes(n: float, digits: int = 1) -> str:
    """A size in the decimal units browsers and upload widgets use: ``1,500`` -> ``1.5 kB``."""
    for unit in ("bytes", "kB", "MB"):
        if abs(n) < 1000:
            return f"{n:,.0f} {unit}" if unit == "bytes" else f"{n:,.{digits}f} {unit}"
        n /= 1000
    return f"{n:,.{digits}f} GB"


def size_and_limit(size: int, limit: int) -> str:
    """``(50.2 MB; at most 50.0 MB)``; where one decimal, then two, would read the same, in bytes."""
    for digits in (1, 2):
        shown, allowed = format_bytes(size, digits), format_bytes(limit, digits)
        if shown != allowed:
            return f"({shown}; at most {allowed})"
    return f"({size:,} bytes; at most {limit:,} bytes)"


_MARKDOWN_PUNCTUATION = re.compile(r"([!-/:-@\[-`{-~])")  # every ASCII punctuation mark
_UNPRINTABLE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def plain_text(text: Any) -> str:
    """``text`` (a run's name) for a place that reads Markdown: shown as typed, never as a link or image.

    Every ASCII punctuation mark is backslash-escaped (CommonMark's rule), so ``![x](http://...)``,
    ``<img>``, ``**``, ``$`` and Streamlit's ``:red[...]`` stay characters; control characters become
    spaces.
    """
    return _MARKDOWN_PUNCTUATION.sub(r"\\\1", _UNPRINTABLE.sub(" ", str(text)))


_MARKDOWN_ACTIVE = re.compile(r"([\\`*_~$|\[\]<>])")  # what makes links, images, HTML, code, emphasis


def markdown_safe(text: Any) -> str:
    """A message that may quote what a file or a visitor wrote (a layer's name), for a Markdown element:
    nothing in it becomes a link, an image, HTML or emphasis, and its ordinary punctuation stays as is."""
    return _MARKDOWN_ACTIVE.sub(r"\\\1", _UNPRINTABLE.sub(" ", str(text)))


def terminal_text(text: Any) -> str:
    """``text`` for a terminal: control characters (escape sequences) shown as ``\\x1b``, never sent."""
    return _UNPRINTABLE.sub(lambda m: ascii(m.group())[1:-1], str(text))


@dataclass(frozen=True)
class Progress:
    """How far a run is: share done, 'Epoch 2/5 · batch 40/422', times and pace."""

    fraction: float
    text: str
    elapsed: float | None
    remaining: float | None  # seconds, estimated from the pace so far
    samples_per_sec: float | None


def run_progress(run: Any) -> Progress:
    """A running run's progress, from the numbers its worker keeps on it."""
    p = run.progress or {}
    epochs = int(p.get("epochs") or run.config.get("epochs") or 1)
    steps = int(p.get("steps_per_epoch") or 0)
    epoch, batch = int(p.get("epoch") or 0), int(p.get("batch") or 0)
    elapsed = p.get("elapsed")
    fraction = fraction_done(epoch, batch, steps, epochs)
    remaining = float(elapsed) * (1 - fraction) / fraction if fraction > 0 and elapsed else None
    text = f"Epoch {max(epoch, 1) if steps else 0}/{epochs} · batch {batch}/{steps or '?'}"
    return Progress(fraction, text, elapsed, remaining, p.get("samples_per_sec"))


def status_text(run: Any) -> str:
    """A run's status in a sentence: 'running: epoch 2/5, batch 40/422', 'failed: <why>'..."""
    if run.status == "running":
        p = run.progress or {}
        if p.get("epochs"):
            steps = p.get("steps_per_epoch", "?")
            return f"running: epoch {p.get('epoch', 1)}/{p['epochs']}, batch {p.get('batch', 0)}/{steps}"
        return "running: starting"
    if run.status == "failed":
        return f"failed: {plain_error(run.error)}"
    return STATUS_WORDS.get(run.status, run.status)


def short_status(run: Any, queue_position: int | None = None) -> str:
    """A status in a few characters for a table: 'running 2/5', 'queued #3', 'completed'."""
    if run.status == "running" and (run.progress or {}).get("epochs"):
        return f"running {run.progress.get('epoch', 0)}/{run.progress['epochs']}"
    if run.status == "queued":
        return f"queued #{queue_position or '-'}"
    return run.status


def run_label(run: Any) -> str:
    """One line naming a run in a list: 'MLP 784-128-10 (✅ completed · 97.1%, 14:05:33)'."""
    when = time.strftime("%H:%M:%S", time.localtime(run.created))
    score = f" · {run.test_accuracy:.1%}" if run.test_accuracy is not None else ""
    return f"{run.name} ({STATUS_LABELS.get(run.status, run.status)}{score}, {when})"


def plain_error(error: str | None) -> str:
    """A run's error in words: never a traceback (its last line says what went wrong)."""
    if not error:
        return "The training failed without a message."
    lines = [line.strip() for line in error.strip().splitlines() if line.strip()]
    if lines and lines[0].startswith("Traceback"):
        return lines[-1]
    return error.strip()


def workers_text(connected: int, busy: int, machines: int, queued: int, celery: bool) -> str:
    """The workers line of the home page and Build & Train: '2 workers connected (on 2 machines),
    1 training · 3 runs waiting'. Without Celery, workers of this machine start when a run needs one."""
    waiting = f" · {queued} run{'s' if queued != 1 else ''} waiting" if queued else ""
    if connected == 0:
        if celery:
            return f"No worker is connected: runs wait until one starts (`nnlab worker --celery`){waiting}."
        return f"Workers: one starts on this machine when a run is queued{waiting}."
    where = f" on {machines} machines" if machines > 1 else ""
    return f"Workers: {plural(connected, 'worker')} connected{where}, {busy} training{waiting}."
