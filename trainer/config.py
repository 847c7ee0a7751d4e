"""A run's options and the plan they amount to, fixed before step 1.

``PretrainConfig`` holds every knob, as the CLI's flags set it; its defaults follow GPT-3
Small's recipe as nanoGPT uses it (AdamW, lr 6e-4, betas 0.9/0.95, weight decay 0.1,
gradient clipping at 1.0, cosine decay to a tenth of the peak; Brown et al. 2020, Table 2.1
and Appendix B). ``plan_run`` resolves the defaults that depend on the run's length and
rejects nonsense, so a bad option costs nothing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from trainer.errors import TrainerError

# The default warmup is a tenth of the run, but never more than this many updates.
MAX_DEFAULT_WARMUP = 1000


@dataclass
class PretrainConfig:
    """Every knob of a run; the CLI fills it from flags, other code can build it directly."""

    shards: str
    out: str
    model: str | None = None  # preset or CONFIG.json for --init scratch (default: tiny)
    init: str = "scratch"  # or a Hugging Face checkpoint directory
    keep_layers: str | None = None  # truncate --init HF_DIR to these blocks
    steps: int | None = None  # optimizer updates; exactly one of steps and tokens
    tokens: int | None = None  # training tokens, rounded up to whole steps
    batch_size: int = 16  # windows per update, over all processes and micro-batches
    block_size: int = 128  # tokens per window (the context length)
    lr: float = 6e-4  # peak learning rate, after warmup
    min_lr_ratio: float = 0.1  # the cosine ends at lr / 10, as GPT-3's did
    warmup: int | None = None  # linear warmup updates (default: steps / 10, <= 1000)
    weight_decay: float = 0.1  # AdamW's, on matrices and embeddings only
    beta1: float = 0.9
    beta2: float = 0.95  # GPT-3's (Adam's own default is 0.999)
    grad_clip: float = 1.0  # max global gradient norm; 0 turns clipping off
    label_smoothing: float = 0.0
    seed: int = 1337  # nanoGPT's; seeds the init, the batch order and dropout
    device: str = "auto"
    dtype: str = "auto"
    compile: bool = False
    grad_accum: int = 1  # micro-batches per process and update
    eval_interval: int | None = None  # default: steps / 10
    eval_batches: int = 20  # validation scores eval_batches * batch_size fixed windows
    log_interval: int | None = None  # default: steps / 200, so a log has about 200 records
    peak_flops: float | None = None  # for the logged MFU (default: a table of GPUs)
    quiet: bool = False
    teacher: str | None = None
    kd: str | None = None  # METHOD[,METHOD...]; default vanilla when --teacher is given
    kd_temperature: float | None = None  # None: each method's own default
    kd_alpha: float = 0.5  # vanilla, reverse_kl: alpha * KD + (1 - alpha) * CE
    kd_beta: float = 100.0  # pkd, rail: weight of the hidden-state term
    kd_anneal_fraction: float = 2 / 3  # annealing: share of the steps in phase 1
    teacher_dtype: str = "auto"  # auto: the training dtype
    checkpoint_interval: int | None = None  # default: the eval interval
    stop_after: int | None = None
    resume: bool = False


@dataclass(frozen=True)
class Plan:
    """The numbers derived from a config (defaults resolved), fixed before step 1."""

    steps: int
    warmup: int
    eval_interval: int
    log_interval: int
    checkpoint_interval: int
    tokens_per_step: int
    micro_batch: int  # windows per forward pass in each process
    world_size: int


def plan_run(cfg: PretrainConfig, world_size: int = 1) -> Plan:
    """Resolve --steps/--tokens and the interval defaults, rejecting nonsense early."""
    for name in ("batch_size", "block_size", "eval_batches", "grad_accum"):
        if getattr(cfg, name) < 1:
            raise TrainerError(f"--{name.replace('_', '-')} must be >= 1")
    if not cfg.lr > 0:
        raise TrainerError("--lr must be > 0")
    if not 0 <= cfg.label_smoothing < 1:
        raise TrainerError("--label-smoothing must be in [0, 1)")
    tokens_per_step = cfg.batch_size * cfg.block_size
    if (cfg.steps is None) == (cfg.tokens is None):
        raise TrainerError("give exactly one of --steps or --tokens")
    if cfg.steps is not None:
        steps = cfg.steps
    else:
        assert cfg.tokens is not None
        steps = math.ceil(cfg.tokens / tokens_per_step)
    if steps < 1:
        raise TrainerError("--steps/--tokens must amount to at least one step")
    warmup = min(steps // 10, MAX_DEFAULT_WARMUP) if cfg.warmup is None else cfg.warmup
    if warmup < 0:
        raise TrainerError("--warmup must be >= 0")
    eval_interval = max(1, steps // 10) if cfg.eval_interval is None else cfg.eval_interval
    log_interval = max(1, steps // 200) if cfg.log_interval is None else cfg.log_interval
    ckpt_interval = eval_interval if cfg.checkpoint_interval is None else cfg.checkpoint_interval
    if min(eval_interval, log_interval, ckpt_interval) < 1:
        raise TrainerError("--eval-interval, --log-interval and --checkpoint-interval must be >= 1")
    if cfg.stop_after is not None and not 1 <= cfg.stop_after < steps:
        raise TrainerError(f"--stop-after {cfg.stop_after}: must be between 1 and {steps - 1}")
    shares = world_size * cfg.grad_accum
    if cfg.batch_size % shares != 0:
        raise TrainerError(
            f"--batch-size {cfg.batch_size} must split evenly into {world_size} process(es) "
            f"x --grad-accum {cfg.grad_accum}"
        )
    return Plan(
        steps,
        warmup,
        eval_interval,
        log_interval,
        ckpt_interval,
        tokens_per_step,
        cfg.batch_size // shares,
        world_size,
    )
