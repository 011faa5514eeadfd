"""The ``nnlab`` command line (also ``python -m nnlab``).

Each module in this package adds its own sub-commands through ``register(subparsers)``; the
sub-command's handler is stored as ``func`` and returns the exit status. Bad arguments give a
one-line error and exit status 2.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, not argparse's usage block
        print(f"{self.prog}: error: {message}", file=sys.stderr)
        raise SystemExit(2)


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
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


def run() -> None:
    """The ``nnlab`` console command (``pyproject.toml``): the same as ``python -m nnlab``."""
    sys.exit(main())
