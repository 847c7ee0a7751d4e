"""The ``trainer`` command line: ``pretrain`` and ``eval`` (``ablate`` comes later).

Each subcommand is a thin adapter from flags to one library function; input problems
surface as TrainerError and become a single ``trainer: error: ...`` line and exit status 2
(argparse's own usage errors exit 2 the same way).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable

from trainer.errors import TrainerError

Handler = Callable[[argparse.Namespace], int]


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def _add_pretrain(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "pretrain",
        help="pretrain a GPT-2 from scratch on token shards",
        description="Pretrain a GPT-2 (Hugging Face GPT2LMHeadModel) on nanoGPT-style shards "
        "(train.bin, val.bin, manifest.json) and save a from_pretrained-loadable checkpoint, "
        "log.jsonl, loss.png and run.json in --out.",
    )
    p.add_argument("--shards", required=True, metavar="DIR", help="shard directory")
    p.add_argument("--out", required=True, metavar="DIR", help="output directory")
    p.add_argument(
        "--model",
        default="tiny",
        metavar="PRESET|CONFIG.json",
        help="tiny, distilgpt2, gpt2, or a GPT-2 config.json (default: tiny)",
    )
    length = p.add_mutually_exclusive_group(required=True)
    length.add_argument("--steps", type=_positive_int, metavar="N", help="optimizer steps")
    length.add_argument(
        "--tokens",
        type=_positive_int,
        metavar="N",
        help="training tokens; steps = ceil(N / (batch-size * block-size))",
    )
    p.add_argument("--batch-size", type=_positive_int, default=16, help="default: 16")
    p.add_argument(
        "--block-size",
        type=_positive_int,
        default=128,
        help="context length, <= the model's n_positions (default: 128)",
    )
    p.add_argument("--lr", type=float, default=6e-4, help="peak learning rate (default: 6e-4)")
    p.add_argument(
        "--warmup",
        type=int,
        default=None,
        metavar="STEPS",
        help="linear warmup steps (default: 10%% of steps, at most 1000)",
    )
    p.add_argument("--weight-decay", type=float, default=0.1, help="AdamW, 2-D params only")
    p.add_argument("--seed", type=int, default=1337, help="model init and batch order")
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    p.add_argument(
        "--eval-interval",
        type=_positive_int,
        default=None,
        metavar="STEPS",
        help="validate every N steps (default: steps / 10)",
    )
    p.add_argument(
        "--eval-batches",
        type=_positive_int,
        default=20,
        help="validation batches per evaluation (fixed windows; default: 20)",
    )
    p.add_argument(
        "--log-interval",
        type=_positive_int,
        default=None,
        metavar="STEPS",
        help="log every N steps (default: steps / 200, at least 1)",
    )
    p.add_argument("--quiet", action="store_true", help="print only the final summary")
    later = p.add_argument_group("planned (not implemented yet)")
    later.add_argument("--init", metavar="HF_DIR", help="start from a checkpoint")
    later.add_argument("--keep-layers", metavar="LIST", help="layers of --init to keep")
    later.add_argument("--teacher", metavar="HF_DIR", help="distillation teacher")
    later.add_argument("--kd", type=float, metavar="WEIGHT", help="distillation loss weight")
    later.add_argument("--resume", metavar="DIR", help="resume an interrupted run")
    later.add_argument("--stop-after", type=int, metavar="STEPS", help="stop early")
    p.set_defaults(handler=_run_pretrain)


def _silence_hf_progress() -> None:
    """Hide transformers' per-file progress bars (save/load); our own lines say enough."""
    from transformers.utils import logging

    logging.disable_progress_bar()


def _run_pretrain(args: argparse.Namespace) -> int:
    # Imported here so `trainer --help` and argument errors do not pay torch's import time.
    from trainer.pretrain import PretrainConfig, pretrain

    _silence_hf_progress()
    cfg = PretrainConfig(
        shards=args.shards,
        out=args.out,
        model=args.model,
        steps=args.steps,
        tokens=args.tokens,
        batch_size=args.batch_size,
        block_size=args.block_size,
        lr=args.lr,
        warmup=args.warmup,
        weight_decay=args.weight_decay,
        seed=args.seed,
        device=args.device,
        eval_interval=args.eval_interval,
        eval_batches=args.eval_batches,
        log_interval=args.log_interval,
        quiet=args.quiet,
        init=args.init,
        keep_layers=args.keep_layers,
        teacher=args.teacher,
        kd=args.kd,
        resume=args.resume,
        stop_after=args.stop_after,
    )
    pretrain(cfg)
    return 0


def _add_eval(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "eval",
        help="sliding-window perplexity of a checkpoint",
        description="Strided sliding-window perplexity (as Hugging Face documents for GPT-2) "
        "of a checkpoint on a text file or a shard split; prints one JSON line "
        '{"perplexity": x, "tokens": n, "tokens_per_second": y}.',
    )
    p.add_argument("--model", required=True, metavar="HF_DIR", help="checkpoint directory")
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument(
        "--text", metavar="FILE", help="UTF-8 text, tokenized with the checkpoint's tokenizer.json"
    )
    source.add_argument("--shards", metavar="DIR", help="shard directory (uses --split)")
    p.add_argument("--split", choices=("val", "train"), default="val", help="default: val")
    p.add_argument(
        "--block-size",
        type=_positive_int,
        default=None,
        help="context per window (default: the model's n_positions)",
    )
    p.add_argument(
        "--stride",
        type=_positive_int,
        default=None,
        help="window advance (default: block-size / 2)",
    )
    p.add_argument("--batch-size", type=_positive_int, default=8, help="windows per forward")
    p.add_argument(
        "--max-tokens", type=_positive_int, default=None, help="score only the first N tokens"
    )
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    p.set_defaults(handler=_run_eval)


def _run_eval(args: argparse.Namespace) -> int:
    from trainer.perplexity import evaluate_perplexity

    _silence_hf_progress()
    result = evaluate_perplexity(
        args.model,
        text=args.text,
        shards=args.shards,
        split=args.split,
        block_size=args.block_size,
        stride=args.stride,
        batch_size=args.batch_size,
        max_tokens=args.max_tokens,
        device=args.device,
    )
    print(json.dumps(result))
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The full parser; subcommands register themselves with a ``handler`` default."""
    parser = argparse.ArgumentParser(
        prog="trainer",
        description="Compact GPT-2 trainer: pretrain on token shards, measure perplexity.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    _add_pretrain(sub)
    _add_eval(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Console entry point; returns the exit status (2 for any input problem)."""
    args = build_parser().parse_args(argv)
    handler: Handler = args.handler
    try:
        return handler(args)
    except TrainerError as exc:
        print(f"trainer: error: {exc}", file=sys.stderr)
        return 2
