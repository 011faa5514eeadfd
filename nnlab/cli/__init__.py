"""The ``nnlab`` command line (also ``python -m nnlab``).

Each module in this package adds its own sub-commands through ``register(subparsers)``; the
sub-command's handler is stored as ``func`` and returns the exit status. Bad arguments give a
one-line error and exit status 2; a damaged store, a full disk or a read-only store folder a one-line
error in words and exit status 1, never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys

from nnlab.runs.record import StoreError


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, not argparse's usage block
        print(f"{self.prog}: error: {message}", file=sys.stderr)
        raise SystemExit(2)


def store_problem(exc: BaseException) -> str:
    """What is wrong with the run store (or the disk under it), in words."""
    from nnlab.runs import StoreError, default_root
    from nnlab.runs.integrity import explain

    if isinstance(exc, StoreError):
        return str(exc)
    explained = explain(exc, default_root() / "runs.sqlite")
    return str(explained) if explained else f"{exc.strerror or exc} ({exc.filename or 'the run store'})"


class UsageError(Exception):
    """An argument that parses but makes no sense (unknown preset, bad value): exit status 2."""


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m nnlab", description="NN Lab on the command line.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{__name__}.{info.name}")
        if hasattr(module, "register"):
            module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except UsageError as exc:
        print(f"{parser.prog} {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except (StoreError, OSError) as exc:  # a damaged store, a full disk, a read-only folder: in words
        print(f"{parser.prog} {args.command}: error: {store_problem(exc)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


def run() -> None:
    """The ``nnlab`` console command (``pyproject.toml``): the same as ``python -m nnlab``."""
    sys.exit(main())
