"""``python -m nnlab repair``: rebuild the run list of a damaged SQLite store from its run folders."""

from __future__ import annotations

import argparse

from nnlab.cli import UsageError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "repair",
        help="rebuild the run list from the run folders (a damaged runs.sqlite is kept, not deleted)",
    )
    p.set_defaults(func=_repair)


def _repair(args: argparse.Namespace) -> int:
    from nnlab.runs import default_database_url, default_root
    from nnlab.runs.repair import repair

    if default_database_url():
        raise UsageError(
            "repair rebuilds an SQLite store's run list; with NNLAB_DATABASE_URL the runs are in "
            "PostgreSQL, whose own tools (pg_dump, backups) keep them."
        )
    root = default_root()
    if not (root / "runs").is_dir():
        raise UsageError(f"there is no run store in {root} (no runs/ folder)")
    report = repair(root)
    print(f"rebuilt the run list of {root}: {report.runs} run(s)")
    parts = {
        "from the old database": report.from_database,
        "from their run.json": report.from_records,
        "from their model alone (network read from the model, no metrics)": report.from_models,
    }
    for what, ids in parts.items():
        if ids:
            print(f"  {len(ids)} {what}")
    if report.skipped:
        print(f"  {len(report.skipped)} folder(s) with neither a record nor a model left as they are")
    if report.kept_as:
        print(f"the old database is kept as {report.kept_as}")
    return 0
