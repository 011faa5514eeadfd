"""What is really wrong when the run store cannot be used, in words: a damaged SQLite file, a full disk,
a read-only store folder.

A damaged database must never look like an empty store (that would hide every model a user trained),
so an SQLite store is checked when it is opened (``check_file`` before, ``check_contents`` after):

- its first 16 bytes are SQLite's header;
- a file of 0 bytes (or none at all) while run folders hold runs is a truncated (or lost) run list;
- ``PRAGMA quick_check`` finds damaged pages (about 10 ms for a 2 MB store).

Each says what happened, that the models are safe in their folders, and that ``nnlab repair``
(``repair.py``) rebuilds the run list from them, keeping the damaged file. ``explain`` turns the
errors of a store already open (SQLite's "malformed", "disk is full", "readonly database", or an
``OSError`` such as ENOSPC and EROFS) into the same kind of ``StoreError``.
"""

from __future__ import annotations

import errno
import os
import sqlite3
from pathlib import Path

from nnlab.runs.record import StoreError

SQLITE_HEADER = b"SQLite format 3\x00"
RECORD_FILE = "run.json"  # a run's record in its folder (``folders.py``)
MODEL_FILE = "model.keras"

_DAMAGED = ("malformed", "not a database", "file is encrypted")
_FULL = ("database or disk is full",)
_READ_ONLY = ("readonly database", "read-only file system")


class DamagedStore(StoreError):
    """The run database is damaged (or its run list lost) while run folders hold runs."""


def run_folders(runs_dir: Path) -> list[Path]:
    """The run folders that hold a run: its record or its model."""
    try:
        folders = [p for p in runs_dir.iterdir() if p.is_dir()]
    except OSError:
        return []
    return [p for p in folders if (p / RECORD_FILE).is_file() or (p / MODEL_FILE).is_file()]


def damaged(path: Path, runs_dir: Path, what: str) -> DamagedStore:
    return DamagedStore(
        f"The run database {path} is damaged: {what}. Nothing is lost: the trained models are still in "
        f"their folders in {runs_dir}. To get the runs back, stop NN Lab and run `nnlab repair`: it "
        "rebuilds the run list from those folders and keeps the damaged file beside it."
    )


def check_file(path: Path, runs_dir: Path) -> None:
    """Before SQLite opens ``path``: ``DamagedStore`` if it is not an SQLite file, or is empty (or
    missing) while run folders hold runs."""
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        size = None
    except OSError as exc:
        raise explain(exc, path) or StoreError(f"The run database {path} cannot be read: {exc}") from exc
    if not size:
        folders = [p for p in run_folders(runs_dir) if size == 0 or (p / MODEL_FILE).is_file()]
        if folders:
            state = "it is empty (0 bytes)" if size == 0 else "it is missing"
            raise damaged(path, runs_dir, f"{state}, yet {len(folders)} run folder(s) hold runs")
        return
    try:
        with open(path, "rb") as fh:
            header = fh.read(len(SQLITE_HEADER))
    except OSError as exc:
        raise explain(exc, path) or StoreError(f"The run database {path} cannot be read: {exc}") from exc
    if header != SQLITE_HEADER:
        raise damaged(path, runs_dir, "its first bytes are not an SQLite database's")


def check_contents(path: Path, runs_dir: Path) -> None:
    """Before the store writes to it: ``DamagedStore`` if SQLite's ``quick_check`` finds damaged pages
    (read-only: a damaged file is left exactly as it was found, for ``nnlab repair`` to keep)."""
    if not path.is_file() or path.stat().st_size == 0:
        return
    try:
        con = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)
        try:
            found = [row[0] for row in con.execute("PRAGMA quick_check(3)")]
        finally:
            con.close()
    except sqlite3.DatabaseError as exc:  # "file is not a database", "malformed", a read-only folder...
        explained = explain(exc, path)
        raise explained or StoreError(
            f"The run database {path} cannot be read ({_first_line(exc)})."
        ) from exc
    if found != ["ok"]:
        raise damaged(path, runs_dir, f"SQLite's check reports {found[0]!r}")


def explain(exc: BaseException, database: Path) -> StoreError | None:
    """``exc`` in words, if it is a damaged file, a full disk or a read-only store; else None.

    ``database`` is the store's SQLite file (with PostgreSQL, where it would be): its folder is the
    store's root.
    """
    number = getattr(exc, "errno", None)
    text = _first_line(exc).lower()
    folder = Path(database).parent
    io_error = "disk i/o error" in text or "unable to open database file" in text  # SQLite's vaguer words
    if number == errno.ENOSPC or any(s in text for s in _FULL) or (io_error and _no_space(folder)):
        return StoreError(
            f"The disk is full: NN Lab cannot write to the run store in {folder}. Free some space on that "
            "disk and try again; the runs and models already there are kept as they are."
        )
    cannot_write = "unable to open database file" in text and not os.access(folder, os.W_OK)
    if number == errno.EROFS or cannot_write or any(s in text for s in _READ_ONLY):
        return StoreError(
            f"The store folder is read-only: {folder}. NN Lab writes its run database and each run's "
            "folder there: make it writable again (the runs and models in it are kept as they are)."
        )
    if number is None and any(s in text for s in _DAMAGED):
        return damaged(Path(database), folder / "runs", _first_line(exc))
    return None


def _no_space(folder: Path) -> bool:
    """Whether the disk under ``folder`` is (all but) full: under 64 KB free."""
    try:
        stats = os.statvfs(folder)
    except OSError:
        return False
    return stats.f_bavail * stats.f_frsize < 64 * 1024


def _first_line(exc: BaseException) -> str:
    cause = getattr(exc, "orig", None) or exc
    lines = str(cause).strip().splitlines()
    return lines[0] if lines else type(cause).__name__
