"""``python -m nnlab train`` and ``python -m nnlab presets``."""

from __future__ import annotations

import argparse

from nnlab import architectures
from nnlab.cli import UsageError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="train a preset network in the terminal")
    p.add_argument(
        "--preset",
        required=True,
        help="preset name (see `python -m nnlab presets`); a unique prefix is enough",
    )
    p.add_argument("--epochs", type=int, default=None)
    p.add_argument(
        "--subset",
        type=int,
        default=None,
        help="train on this many images (stratified), e.g. 2000 for a quick run",
    )
    p.add_argument("--batch-size", type=int, default=None)
    p.add_argument("--lr", type=float, default=None, help="learning rate")
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--optimizer", choices=("adam", "sgd", "rmsprop"), default=None)
    p.add_argument("--schedule", choices=("constant", "plateau", "cosine", "exponential"), default=None)
    p.add_argument("--augment", action="store_true", help="light random shifts and rotations")
    p.add_argument(
        "--raw-pixels",
        action="store_true",
        help="do not scale the inputs: the network's weights see raw 0-255 pixels (the classic lesson)",
    )
    p.add_argument("--name", default=None, help="a name for the run")
    p.set_defaults(func=_train)

    q = sub.add_parser("presets", help="list the preset networks with their parameter counts")
    q.set_defaults(func=_presets)


def resolve_preset(name: str) -> str:
    """Exact name, else a unique case-insensitive prefix or substring."""
    if name in architectures.PRESETS:
        return name
    low = name.lower()
    matches = [n for n in architectures.PRESETS if n.lower().startswith(low)] or [
        n for n in architectures.PRESETS if low in n.lower()
    ]
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise UsageError(f"unknown preset {name!r}; see `python -m nnlab presets`")
    raise UsageError(f"preset {name!r} is ambiguous: {', '.join(matches)}")


def _presets(args: argparse.Namespace) -> int:
    width = max(len(n) for n in architectures.PRESETS)
    for name, spec in architectures.PRESETS.items():
        print(f"{name:<{width}}  {architectures.count_params(spec):>9,} parameters")
    return 0


def _train(args: argparse.Namespace) -> int:
    from nnlab.training import TrainConfig, validate_config

    preset = resolve_preset(args.preset)
    overrides = {
        "epochs": args.epochs,
        "subset": args.subset,
        "batch_size": args.batch_size,
        "learning_rate": args.lr,
        "seed": args.seed,
        "optimizer": args.optimizer,
        "schedule": args.schedule,
    }
    given = {k: v for k, v in overrides.items() if v is not None}
    config = TrainConfig(**given, augment=args.augment, scale_inputs=not args.raw_pixels)
    problems = validate_config(config)
    if problems:
        raise UsageError(" ".join(str(p) for p in problems))
    from nnlab.cli.train_run import run_in_terminal
    from nnlab.validation import InvalidSettings

    try:
        return run_in_terminal(architectures.get_preset(preset), config, name=args.name or preset)
    except InvalidSettings as exc:  # a name with control characters, a batch too large for the memory...
        raise UsageError(str(exc)) from None
