"""``python -m nnlab scratch``: train the from-scratch NumPy network in the terminal."""

from __future__ import annotations

import argparse

from nnlab.cli import UsageError
from nnlab.events import EpochEvent, Event, StartEvent


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "scratch",
        help="train the from-scratch NumPy MLP on MNIST and print its test accuracy",
        description="Train the multilayer perceptron written in NumPy only (nnlab/scratch/net.py).",
    )
    p.add_argument(
        "--hidden",
        type=int,
        nargs="+",
        default=[128],
        metavar="UNITS",
        help="units of each hidden layer, e.g. --hidden 256 128 (default: 128)",
    )
    p.add_argument("--activation", default="relu", help="relu, sigmoid or tanh (default: relu)")
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--lr", dest="learning_rate", type=float, default=0.1, help="learning rate (default: 0.1)")
    p.add_argument("--momentum", type=float, default=0.9)
    p.add_argument("--l2", type=float, default=0.0, help="L2 penalty on the weights (default: 0)")
    p.add_argument("--init", default="auto", help="auto, he or xavier (default: auto)")
    p.add_argument("--subset", type=int, default=None, help="train on this many images (default: all)")
    p.add_argument(
        "--digits",
        type=int,
        nargs="+",
        default=None,
        help="keep only these digits; two of them make a binary task (e.g. --digits 3 8)",
    )
    p.add_argument(
        "--val",
        dest="validation_fraction",
        type=float,
        default=0.1,
        help="validation fraction (default: 0.1)",
    )
    p.add_argument(
        "--no-scale",
        dest="scale_inputs",
        action="store_false",
        help="feed raw 0-255 pixels instead of [0, 1]",
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--blas-threads",
        type=int,
        default=None,
        help="NumPy BLAS threads while training (default: the machine's setting)",
    )
    p.add_argument("--quiet", action="store_true", help="print only the final result")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from nnlab import scratch
    from nnlab.scratch import ScratchConfig

    # The options are named like the settings: --batch-size is ``batch_size``, --lr ``learning_rate``.
    settings = {k: v for k, v in vars(args).items() if k in ScratchConfig.__dataclass_fields__}
    settings["hidden"] = tuple(args.hidden)
    settings["digits"] = tuple(args.digits) if args.digits else None
    config = scratch.ScratchConfig(**settings)
    problems = scratch.validate_config(config)
    if problems:
        raise UsageError(" ".join(str(p) for p in problems))

    result = scratch.train(config, on_event=None if args.quiet else _Printer(config))
    if result.diverged:
        print(
            "the loss became NaN/infinite: training diverged (try a smaller learning rate, or scaled inputs)"
        )
    print(
        f"test accuracy: {result.test_accuracy:.4f} (test loss {result.test_loss:.4f}, "
        f"{result.elapsed:.1f} s of training{', stopped early' if result.stopped else ''})"
    )
    return 0


class _Printer:
    """Prints the start and each epoch of a from-scratch training."""

    def __init__(self, config) -> None:
        self.config = config

    def __call__(self, event: Event) -> None:
        config = self.config
        if isinstance(event, StartEvent):
            sizes = "-".join(str(n) for n in (784, *config.hidden, len(config.digits or range(10))))
            print(
                f"training {sizes} {config.activation} from scratch on {event.n_train:,} images, "
                f"{config.epochs} epochs",
                flush=True,
            )
        elif isinstance(event, EpochEvent):
            val = ""
            if event.val_loss is not None:
                val = f", val_loss {event.val_loss:.4f}, val_accuracy {event.val_accuracy:.4f}"
            norms = " ".join(f"{g:.3g}" for g in event.grad_norms or [])
            print(
                f"epoch {event.epoch}/{config.epochs}: loss {event.loss:.4f}, accuracy {event.accuracy:.4f}"
                f"{val} ({event.elapsed:.1f} s; gradient norms {norms})",
                flush=True,
            )
