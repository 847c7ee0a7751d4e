"""The ``trainer`` command line: ``pretrain``, ``eval`` and ``ablate``.

Each subcommand is a thin adapter from flags to one library function; input problems
surface as TrainerError and become a single ``trainer: error: ...`` line and exit status 2
(argparse's own usage errors exit 2 the same way).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from trainer.errors import TrainerError

if TYPE_CHECKING:
    from trainer.ablation import AblationConfig

Handler = Callable[[argparse.Namespace], int]


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def _fraction(text: str) -> float:
    value = float(text)
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1, got {value}")
    return value


def _add_pretrain(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "pretrain",
        help="pretrain or distil a GPT-2 on token shards",
        description="Pretrain a GPT-2 (Hugging Face GPT2LMHeadModel) on nanoGPT-style shards "
        "(train.bin, val.bin, manifest.json), from scratch, from a checkpoint or from a "
        "truncated checkpoint, optionally distilling from a teacher; save a "
        "from_pretrained-loadable checkpoint, log.jsonl, loss.png and run.json in --out. "
        "Under torchrun each process trains on its slice of every global batch (DDP).",
    )
    p.add_argument("--shards", required=True, metavar="DIR", help="shard directory")
    p.add_argument("--out", required=True, metavar="DIR", help="output directory")

    model = p.add_argument_group("model")
    model.add_argument(
        "--init",
        default="scratch",
        metavar="scratch|HF_DIR",
        help="scratch (a fresh --model) or a GPT-2 checkpoint directory to continue from",
    )
    model.add_argument(
        "--model",
        default=None,
        metavar="PRESET|CONFIG.json",
        help="with --init scratch: tiny, distilgpt2, gpt2, or a GPT-2 config.json (default: tiny)",
    )
    model.add_argument(
        "--keep-layers",
        metavar="SPEC",
        help="truncate --init HF_DIR to these blocks: a list (0,2,4,7,9,11) or distil "
        "(= 0,2,4,7,9,11), alt (0,2,4,...), bottom:N, top:N",
    )

    length = p.add_mutually_exclusive_group(required=True)
    length.add_argument("--steps", type=_positive_int, metavar="N", help="optimizer steps")
    length.add_argument(
        "--tokens",
        type=_positive_int,
        metavar="N",
        help="training tokens; steps = ceil(N / (batch-size * block-size))",
    )
    p.add_argument(
        "--batch-size",
        type=_positive_int,
        default=16,
        help="windows per optimizer step, over all processes and --grad-accum (default: 16)",
    )
    p.add_argument(
        "--block-size",
        type=_positive_int,
        default=128,
        help="context length, <= the model's n_positions (default: 128)",
    )
    p.add_argument(
        "--grad-accum",
        type=_positive_int,
        default=1,
        metavar="K",
        help="split each process's share of a batch into K micro-batches (default: 1)",
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
    p.add_argument("--label-smoothing", type=float, default=0.0, metavar="EPS", help="(default: 0)")
    p.add_argument("--seed", type=int, default=1337, help="model init and batch order")

    speed = p.add_argument_group("device and speed")
    speed.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    speed.add_argument(
        "--dtype",
        choices=("auto", "fp32", "bf16"),
        default="auto",
        help="autocast precision; auto = bf16 on GPUs and CPUs with native bf16 "
        "(AVX512-BF16/AMX), else fp32 (default: auto)",
    )
    speed.add_argument("--compile", action="store_true", help="torch.compile the model")
    speed.add_argument(
        "--peak-flops",
        type=float,
        default=None,
        metavar="FLOPS",
        help="device peak FLOP/s for the logged MFU (default: a table of GPUs; none on CPU)",
    )

    kd = p.add_argument_group("distillation")
    kd.add_argument("--teacher", metavar="HF_DIR", help="teacher checkpoint (frozen, eval mode)")
    kd.add_argument(
        "--kd",
        metavar="METHOD[,METHOD]",
        help="vanilla, distilgpt2, pkd, minilm, annealing, rail, reverse_kl; several add "
        "their terms, the label cross-entropy taking the largest weight any of them gives "
        "(default with --teacher: vanilla)",
    )
    kd.add_argument(
        "--kd-temperature",
        type=float,
        default=None,
        metavar="T",
        help="softmax temperature (vanilla, distilgpt2: default 2) or annealing's T_max "
        "(default 10)",
    )
    kd.add_argument(
        "--kd-alpha",
        type=_fraction,
        default=0.5,
        metavar="A",
        help="vanilla, reverse_kl: A * KD + (1 - A) * CE (default: 0.5)",
    )
    kd.add_argument(
        "--kd-beta",
        type=float,
        default=100.0,
        metavar="B",
        help="pkd, rail: weight of the hidden-state term (default: 100)",
    )
    kd.add_argument(
        "--kd-anneal-fraction",
        type=_fraction,
        default=2 / 3,
        metavar="F",
        help="annealing: share of the steps in phase 1 (default: 2/3)",
    )
    kd.add_argument(
        "--teacher-dtype",
        choices=("auto", "fp32", "bf16", "fp16"),
        default="auto",
        help="teacher weights' dtype (default: the training --dtype)",
    )

    runs = p.add_argument_group("evaluation, logging, checkpoints")
    runs.add_argument(
        "--eval-interval",
        type=_positive_int,
        default=None,
        metavar="STEPS",
        help="validate every N steps (default: steps / 10)",
    )
    runs.add_argument(
        "--eval-batches",
        type=_positive_int,
        default=20,
        help="validation batches per evaluation (fixed windows; default: 20)",
    )
    runs.add_argument(
        "--log-interval",
        type=_positive_int,
        default=None,
        metavar="STEPS",
        help="log every N steps (default: steps / 200, at least 1)",
    )
    runs.add_argument(
        "--checkpoint-interval",
        type=_positive_int,
        default=None,
        metavar="STEPS",
        help="write OUT/checkpoint every N steps and at the end (default: the eval interval)",
    )
    runs.add_argument(
        "--stop-after",
        type=_positive_int,
        default=None,
        metavar="K",
        help="train on the planned schedule but checkpoint and exit after step K",
    )
    runs.add_argument(
        "--resume",
        action="store_true",
        help="continue the run in --out from its checkpoint (give the same arguments)",
    )
    runs.add_argument("--quiet", action="store_true", help="print only the final summary")
    p.set_defaults(handler=_run_pretrain)


def _silence_hf_progress() -> None:
    """Hide transformers' per-file progress bars (save/load); our own lines say enough."""
    from transformers.utils import logging

    logging.disable_progress_bar()


# Flags whose dest is a PretrainConfig field of the same name (all but the handler's own).
_NOT_CONFIG = ("command", "handler")


def _run_pretrain(args: argparse.Namespace) -> int:
    # Imported here so `trainer --help` and argument errors do not pay torch's import time.
    from trainer.config import PretrainConfig
    from trainer.pretrain import pretrain

    _silence_hf_progress()
    fields = {k: v for k, v in vars(args).items() if k not in _NOT_CONFIG}
    pretrain(PretrainConfig(**fields))
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


def add_ablation_options(p: argparse.ArgumentParser) -> None:
    """Options shared by ``trainer ablate`` and ``corpusclean ablate`` (docs/contract.md)."""
    p.add_argument(
        "--eval",
        required=True,
        action="append",
        metavar="FILE",
        help="UTF-8 evaluation text; repeat for more (the first decides the verdicts)",
    )
    p.add_argument("--out", required=True, metavar="DIR", help="output directory")
    p.add_argument(
        "--tokens",
        type=_positive_int,
        default=1_000_000,
        metavar="N",
        help="training tokens per run, equal for every variant (default: 1,000,000)",
    )
    p.add_argument(
        "--seeds",
        type=_positive_int,
        default=2,
        metavar="K",
        help="paired seeds 1..K per variant (default: 2; one seed gives no noise estimate)",
    )
    p.add_argument(
        "--first-seed",
        type=_positive_int,
        default=1,
        metavar="S",
        help="seeds S..S+K-1 instead of 1..K (a disjoint seed set: benchmarks/ablation_real.py)",
    )
    p.add_argument(
        "--curve-points",
        type=_positive_int,
        default=5,
        metavar="P",
        help="evaluations along the budget, for learning curves (default: 5)",
    )
    p.add_argument(
        "--eval-tokens",
        type=_positive_int,
        default=100_000,
        metavar="N",
        help="score the first N tokens of the eval text and held-out slice (default: 100,000)",
    )
    p.add_argument(
        "--eval-block-tokens",
        type=_positive_int,
        default=2048,
        metavar="N",
        help="scored tokens per block of the final evaluation's per-block losses, on which the "
        "verdicts' intervals rest (default: 2,048)",
    )
    model = p.add_argument_group("model (the same initialisation for every variant)")
    model.add_argument(
        "--init",
        default="scratch",
        metavar="scratch|HF_DIR",
        help="scratch (default) or a GPT-2 checkpoint, truncated with --keep-layers",
    )
    model.add_argument("--model", default=None, metavar="PRESET|CONFIG.json", help="scratch shape")
    model.add_argument("--keep-layers", metavar="SPEC", help="as in trainer pretrain")
    model.add_argument("--teacher", metavar="HF_DIR", help="distil every student from it")
    model.add_argument("--kd", metavar="METHOD[,METHOD]", help="as in trainer pretrain")
    p.add_argument("--batch-size", type=_positive_int, default=16)
    p.add_argument("--block-size", type=_positive_int, default=128)
    p.add_argument("--lr", type=float, default=6e-4)
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    p.add_argument("--dtype", choices=("auto", "fp32", "bf16"), default="auto")
    p.add_argument("--compile", action="store_true", help="torch.compile each student")
    where = p.add_argument_group("where the runs train")
    where.add_argument(
        "--executor",
        choices=("local", "ray"),
        default="local",
        help="local: one run after another here (default); ray: every (variant, seed) run a "
        "Ray task, one GPU each where the cluster has GPUs, with the same numbers as local "
        "(needs the ray extra; OUT must be on a filesystem every node sees)",
    )
    where.add_argument(
        "--address",
        metavar="ADDR",
        help="the Ray cluster (auto, HOST:6379, ray://HOST:10001); default: start a local "
        "instance on this machine's cores",
    )
    p.add_argument("--quiet", action="store_true")


def ablation_config(
    args: argparse.Namespace, variants: dict[str, str], **extra: Any
) -> AblationConfig:
    """An AblationConfig from the shared options plus what the caller decides."""
    from trainer.ablation import AblationConfig

    executor, address = getattr(args, "executor", "local"), getattr(args, "address", None)
    first_seed = getattr(args, "first_seed", 1)
    if address and executor != "ray":
        raise TrainerError("--address names a Ray cluster: it needs --executor ray")
    return AblationConfig(
        variants=variants,
        eval_text=args.eval[0],
        more_evals=tuple(args.eval[1:]),
        out=args.out,
        tokens=args.tokens,
        seeds=tuple(range(first_seed, first_seed + args.seeds)),
        curve_points=args.curve_points,
        eval_tokens=args.eval_tokens,
        eval_block_tokens=getattr(args, "eval_block_tokens", 2048),  # the demo sets none
        init=args.init,
        model=args.model,
        keep_layers=args.keep_layers,
        teacher=args.teacher,
        kd=args.kd,
        batch_size=args.batch_size,
        block_size=args.block_size,
        lr=args.lr,
        device=args.device,
        dtype=args.dtype,
        compile=args.compile,
        quiet=args.quiet,
        executor=executor,  # getattr: the demo sets no such option
        address=address,
        **extra,
    )


def _variant(text: str) -> tuple[str, str]:
    name, sep, directory = text.partition("=")
    if not sep or not name or not directory:
        raise argparse.ArgumentTypeError(f"expected NAME=SHARDS_DIR, got {text!r}")
    return name, directory


def _add_ablate(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "ablate",
        help="train one student per shard variant and seed, compare eval perplexity",
        description="Ablation from existing shards: every variant (NAME=SHARDS_DIR, all "
        "tokenized with one tokenizer) trains one student per paired seed from the same "
        "initialisation and token budget; each is scored along the way on --eval and on a "
        "shared held-out slice. Writes ablation.json, ablation.md and ablation.html to --out; "
        "finished runs with the same inputs and settings are reused.",
    )
    p.add_argument(
        "--variant",
        action="append",
        required=True,
        type=_variant,
        metavar="NAME=SHARDS_DIR",
        help="a data variant (repeat; the first is the baseline unless --baseline)",
    )
    p.add_argument("--baseline", metavar="NAME", help="variant the others are compared with")
    p.add_argument(
        "--heldout",
        metavar="SHARDS_DIR",
        help="shards whose val split is the shared held-out slice (default: the baseline's)",
    )
    add_ablation_options(p)
    p.set_defaults(handler=_run_ablate)


def _run_ablate(args: argparse.Namespace) -> int:
    from trainer.ablation import Comparison, run_ablation

    _silence_hf_progress()
    variants: dict[str, str] = {}
    for name, directory in args.variant:
        if name in variants:
            raise TrainerError(f"--variant {name} given twice")
        variants[name] = directory
    baseline = args.baseline or next(iter(variants))
    if baseline not in variants:
        raise TrainerError(f"--baseline {baseline}: no --variant of that name")
    comparisons = [
        Comparison(label=f"{name} vs {baseline}", without=baseline, with_=name)
        for name in variants
        if name != baseline
    ]
    cfg = ablation_config(
        args,
        variants,
        comparisons=comparisons,
        heldout=args.heldout or variants[baseline],
    )
    run_ablation(cfg)
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
    _add_ablate(sub)
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
