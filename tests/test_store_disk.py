"""A full disk and a read-only store folder are called so: in the terminal (``nnlab train``, ``nnlab
runs``: one line, no traceback), on the pages, and to a server whose store was open when the disk
filled; and no advice that would hide the runs ("move it away").

Real ones: each scenario runs as root in a private mount namespace (``unshare -m``) on a small tmpfs,
filled up with a file or remounted read-only; nothing outside the namespace sees the mounts.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable

MAKE_RUN = (
    "from nnlab.runs import RunStore; from nnlab.architectures import get_preset; "
    "RunStore().create(get_preset('Logistic regression 784-10'), {'epochs': 1}, name='before')"
)
PAGE = (
    "from streamlit.testing.v1 import AppTest; "
    "at = AppTest.from_file('app.py', default_timeout=120).run(); "
    "print('PAGE-EXCEPTION', bool(at.exception)); [print('PAGE-ERROR', e.value) for e in at.error]"
)
# A server with the store open when the disk fills up: its next Train is refused in words.
OPEN_THEN_FULL = """
import os, sys
from nnlab.architectures import get_preset
from nnlab.runner import Runner
from nnlab.runs import RunStore, StoreError
store = RunStore()
store.list()
with open(os.path.join(os.environ["NNLAB_HOME"], "filler"), "wb", buffering=0) as fh:
    try:  # unbuffered: nothing is left to write (and fail again) when the file closes
        while True:
            fh.write(b"\\0" * 65536)
    except OSError:
        pass
try:
    Runner(store, max_concurrent=1).submit(get_preset("Logistic regression 784-10"), {"epochs": 1}, owner="v")
except StoreError as exc:
    print("SUBMIT-REFUSED", exc)
"""


def _in_private_mounts(home: Path, script: str) -> str:
    """Run ``script`` (sh) as root in a mount namespace of its own; its output, stderr included."""
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        pytest.skip("real read-only and full mounts need root and unshare (the CI runs the tests as root)")
    probe = subprocess.run(["unshare", "-m", "true"], capture_output=True, text=True)
    assert probe.returncode == 0, f"unshare -m is refused here: {probe.stderr}"
    home.mkdir()
    env = {**os.environ, "NNLAB_HOME": str(home), "PYTHONPATH": str(ROOT), "PY": PY, "H": str(home)}
    done = subprocess.run(
        ["unshare", "-m", "sh", "-c", f"set -u\n{script}"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    return done.stdout + done.stderr


def _lines(output: str, start: str) -> list[str]:
    return [line for line in output.splitlines() if line.startswith(start)]


def test_a_read_only_store_folder_is_called_so(tmp_path):
    out = _in_private_mounts(
        tmp_path / "home",
        f"""
mount -t tmpfs -o size=4m tmpfs "$H"
"$PY" -c "{MAKE_RUN}"
mount -o remount,ro "$H"
"$PY" -m nnlab train --preset Logistic --subset 300 --epochs 1; echo "train-rc=$?"
"$PY" -c "{PAGE}"
mount -o remount,rw "$H"
"$PY" -m nnlab runs; echo "runs-rc=$?"
""",
    )
    home = tmp_path / "home"
    assert "train-rc=1" in out and "Traceback" not in out, out
    said = f"error: The store folder is read-only: {home}."
    assert _lines(out, f"python -m nnlab train: {said}"), out
    assert "move it away" not in out
    assert _lines(out, "PAGE-EXCEPTION False") and "read-only" in " ".join(_lines(out, "PAGE-ERROR")), out
    assert "runs-rc=0" in out and "before" in out  # writable again: the run is still there


def test_a_full_disk_is_called_so(tmp_path):
    out = _in_private_mounts(
        tmp_path / "home",
        f"""
mount -t tmpfs -o size=1m tmpfs "$H"
"$PY" -c "{MAKE_RUN}"
"$PY" -c '{OPEN_THEN_FULL}'
"$PY" -m nnlab train --preset Logistic --subset 300 --epochs 1; echo "train-rc=$?"
"$PY" -c "{PAGE}"
rm "$H/filler"
"$PY" -m nnlab runs; echo "runs-rc=$?"
""",
    )
    assert "Traceback" not in out, out
    assert "disk is full" in " ".join(_lines(out, "SUBMIT-REFUSED The disk is full")), out
    assert "train-rc=1" in out and _lines(out, "python -m nnlab train: error: The disk is full"), out
    assert _lines(out, "PAGE-EXCEPTION False") and "The disk is full" in " ".join(_lines(out, "PAGE-ERROR"))
    assert "move it away" not in out
    assert "runs-rc=0" in out and "before" in out  # space freed: nothing was lost
