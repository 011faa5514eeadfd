"""The code stays readable: short modules, short functions, thin pages, and ruff's rules hold.

These limits come from the project's layout (docs/architecture.md): a reader finds a thing from the
file tree and reads it in one sitting.
"""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60
MAX_PAGE_LINES = 200


def _sources() -> list[Path]:
    return sorted(
        [*ROOT.joinpath("nnlab").rglob("*.py"), *ROOT.joinpath("pages").glob("*.py"), ROOT / "app.py"]
    )


def _lines(path: Path) -> int:
    return len(path.read_text(encoding="utf-8").splitlines())


def test_no_module_is_over_400_lines():
    long = {str(p.relative_to(ROOT)): _lines(p) for p in _sources() if _lines(p) > MAX_MODULE_LINES}
    assert long == {}


def test_every_page_is_a_thin_script():
    pages = [ROOT / "app.py", *ROOT.joinpath("pages").glob("*.py")]
    long = {str(p.relative_to(ROOT)): _lines(p) for p in pages if _lines(p) > MAX_PAGE_LINES}
    assert long == {}


def test_no_function_is_over_60_lines():
    long = {}
    for path in _sources():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                start = min([node.lineno, *(d.lineno for d in node.decorator_list)])
                if node.end_lineno - start + 1 > MAX_FUNCTION_LINES:
                    long[f"{path.relative_to(ROOT)}:{node.name}"] = node.end_lineno - start + 1
    assert long == {}


def test_the_from_scratch_page_shows_the_maths_file_only():
    net = ROOT / "nnlab" / "scratch" / "net.py"
    assert _lines(net) <= 250
    text = net.read_text(encoding="utf-8")
    assert "def gradient_check" in text and "class MLP" in text and "class SGD" in text
    for elsewhere in ("import threading", "import streamlit", "nnlab._tf", "load_mnist", "Event"):
        assert elsewhere not in text  # the loop, the data, the app and Keras live in other files


def test_ruff_is_clean():
    ruff = shutil.which("ruff", path=str(Path(sys.executable).parent)) or shutil.which("ruff")
    if ruff is None:
        pytest.skip("ruff is not installed (pip install -r requirements-dev.txt)")
    out = subprocess.run([ruff, "check", "--no-cache", str(ROOT)], capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0, out.stdout + out.stderr
