"""``python -m nnlab export RUN [--notebook]`` and ``python -m nnlab import FILE``.

``export`` writes a run's network and training settings as a standalone Keras script (or notebook)
into the current folder, never over an existing file, and prints its path. ``import`` keeps a model
file (``.keras``, or ``.h5`` as the tutorials save it) as a run, loaded safely.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from nnlab.cli import UsageError
from nnlab.cli.runs import _find, _store


def register(sub: argparse._SubParsersAction) -> None:
    e = sub.add_parser("export", help="write a run's network and training as a Keras script or notebook")
    e.add_argument("run", metavar="RUN", help="run id (or a unique prefix, or its name)")
    e.add_argument("--notebook", action="store_true", help="a Jupyter notebook (.ipynb) instead of a script")
    e.set_defaults(func=_export)

    i = sub.add_parser("import", help="keep a model file (.keras or .h5) as a run, to evaluate and inspect")
    i.add_argument("file", metavar="FILE", help="the model file")
    i.add_argument("--name", default=None, help="a name for the run (default: the file's name)")
    i.add_argument("--owner", default=None, help="the visitor id the run belongs to (default: none)")
    i.set_defaults(func=_import)


def free_path(folder: Path, file_name: str) -> Path:
    """``folder/file_name``, or ``name-2.py``, ``name-3.py``... where that file exists already."""
    path = folder / file_name
    stem, suffix = path.stem, path.suffix
    n = 2
    while path.exists():
        path = folder / f"{stem}-{n}{suffix}"
        n += 1
    return path


def _export(args: argparse.Namespace) -> int:
    from nnlab.export import export_notebook, export_script
    from nnlab.importing import editor_problems
    from nnlab.training import TrainConfig
    from nnlab.validation import InvalidSettings

    run = _find(_store(), args.run)
    problems = editor_problems(run.spec)
    if problems:
        raise UsageError(f"run {run.id} cannot be written as code: " + "; ".join(problems))
    make = export_notebook if args.notebook else export_script
    try:
        exported = make(run.spec, TrainConfig.from_dict(run.config or {}), source=f"run {run.id}")
    except InvalidSettings as exc:
        raise UsageError(f"run {run.id} cannot be written as code: {exc}") from None
    path = free_path(Path.cwd(), exported.file_name)
    with open(path, "x", encoding="utf-8") as fh:  # never over a file that appeared meanwhile
        fh.write(exported.text)
    print(path)
    return 0


def _import(args: argparse.Namespace) -> int:
    from nnlab.export.code import comment_text
    from nnlab.importing import import_model_file
    from nnlab.modelio import ModelLoadError

    try:
        done = import_model_file(_store(), args.file, name=args.name, owner=args.owner)
    except ModelLoadError as exc:
        raise UsageError(f"{args.file}: {exc}") from None
    run = done.run
    print(f"imported {args.file} as run {run.id} ({run.name}): test accuracy {run.test_accuracy:.2%}")
    for problem in done.conversion.problems:  # they may quote the file's layer names: one clean line each
        print(f"  not editable: {comment_text(problem, 300)}")
    for note in done.conversion.notes:
        print(f"  note: {comment_text(note, 300)}")
    return 0
