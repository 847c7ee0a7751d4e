"""Pretrain a GPT-2 from scratch on token shards, nanoGPT style.

Read top to bottom, ``pretrain()`` is the whole recipe: validate the inputs, build the
model, then loop (random window batch -> loss -> AdamW step with warmup+cosine lr and grad
clipping), evaluating on a fixed set of validation windows at step 0, every eval interval
and at the end. Everything a comparison between runs needs lands in the output directory:
the Hugging Face checkpoint, ``log.jsonl``, ``loss.png`` and ``run.json``.

Steps count optimizer updates: the record for step k describes the model after k updates
(its ``loss`` is the mean training loss of the updates since the previous record). Step 0
is the untrained model; having made no update, its ``loss`` is measured on the same number
of fixed training windows as validation uses, its ``lr`` is the first update's and its
throughput 0.
"""

from __future__ import annotations

import json
import math
import shutil
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from transformers import GPT2LMHeadModel

from trainer.data import (
    Shards,
    check_length,
    check_token_ids,
    fixed_starts,
    open_shards,
    random_batch,
    windows_to_batch,
)
from trainer.device import autocast_for, resolve_device
from trainer.errors import TrainerError
from trainer.plot import plot_losses
from trainer.presets import build_config, build_model, count_parameters

MAX_DEFAULT_WARMUP = 1000

# (model, inputs, targets) -> scalar loss. The seam where knowledge distillation (--teacher,
# --kd) will mix a teacher's soft targets into the plain next-token cross-entropy.
LossFn = Callable[[GPT2LMHeadModel, torch.Tensor, torch.Tensor], torch.Tensor]


@dataclass
class PretrainConfig:
    """Every knob of a run; the CLI fills it from flags, other code can build it directly."""

    shards: str
    out: str
    model: str = "tiny"
    steps: int | None = None
    tokens: int | None = None
    batch_size: int = 16
    block_size: int = 128
    lr: float = 6e-4
    min_lr_ratio: float = 0.1
    warmup: int | None = None
    weight_decay: float = 0.1
    beta1: float = 0.9
    beta2: float = 0.95
    grad_clip: float = 1.0
    seed: int = 1337
    device: str = "auto"
    eval_interval: int | None = None
    eval_batches: int = 20
    log_interval: int | None = None
    quiet: bool = False
    # Planned by a later issue; accepted so the CLI is stable, rejected until implemented.
    init: str | None = None
    keep_layers: str | None = None
    teacher: str | None = None
    kd: float | None = None
    resume: str | None = None
    stop_after: int | None = None


@dataclass(frozen=True)
class Plan:
    """The numbers derived from a config (defaults resolved), fixed before step 1."""

    steps: int
    warmup: int
    eval_interval: int
    log_interval: int
    tokens_per_step: int


def plan_run(cfg: PretrainConfig) -> Plan:
    """Resolve --steps/--tokens and the interval defaults, rejecting nonsense early."""
    for name in ("batch_size", "block_size", "eval_batches"):
        if getattr(cfg, name) < 1:
            raise TrainerError(f"--{name.replace('_', '-')} must be >= 1")
    if not cfg.lr > 0:
        raise TrainerError("--lr must be > 0")
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
    if eval_interval < 1 or log_interval < 1:
        raise TrainerError("--eval-interval and --log-interval must be >= 1")
    return Plan(steps, warmup, eval_interval, log_interval, tokens_per_step)


def reject_unimplemented(cfg: PretrainConfig) -> None:
    """Fail clearly on options whose behaviour a later issue will define."""
    planned = {
        "--init": cfg.init,
        "--keep-layers": cfg.keep_layers,
        "--teacher": cfg.teacher,
        "--kd": cfg.kd,
        "--resume": cfg.resume,
        "--stop-after": cfg.stop_after,
    }
    for flag, value in planned.items():
        if value is not None:
            raise TrainerError(f"{flag} is not implemented yet")


def lr_at(step: int, max_lr: float, warmup: int, total: int, min_ratio: float = 0.1) -> float:
    """Learning rate for 0-based update ``step``: linear warmup, cosine decay to min_ratio.

    The last update (step total - 1) uses exactly max_lr * min_ratio.
    """
    min_lr = max_lr * min_ratio
    if step < warmup:
        return max_lr * (step + 1) / (warmup + 1)
    progress = min(1.0, (step - warmup) / max(1, total - 1 - warmup))
    return min_lr + 0.5 * (1.0 + math.cos(math.pi * progress)) * (max_lr - min_lr)


def make_optimizer(
    model: torch.nn.Module, cfg: PretrainConfig, device: torch.device
) -> torch.optim.AdamW:
    """AdamW with weight decay on matrices/embeddings only, never on biases or LayerNorms.

    Decaying gains and biases only pulls them towards 0 without regularising anything
    (nanoGPT's rule: decay params with dim >= 2).
    """
    params = [p for p in model.parameters() if p.requires_grad]
    groups = [
        {"params": [p for p in params if p.dim() >= 2], "weight_decay": cfg.weight_decay},
        {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0},
    ]
    return torch.optim.AdamW(
        groups, lr=cfg.lr, betas=(cfg.beta1, cfg.beta2), fused=device.type == "cuda"
    )


def lm_loss(model: GPT2LMHeadModel, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Mean next-token cross-entropy; y is already x shifted by one, so no shift here."""
    logits = model(input_ids=x, use_cache=False).logits
    return F.cross_entropy(logits.float().reshape(-1, logits.size(-1)), y.reshape(-1))


def build_loss(cfg: PretrainConfig) -> LossFn:
    """Choose the training loss; the distillation loss will be returned here (--teacher)."""
    return lm_loss


@torch.no_grad()
def evaluate(
    model: GPT2LMHeadModel,
    data: np.ndarray,
    starts: np.ndarray,
    batch_size: int,
    block_size: int,
    device: torch.device,
) -> float:
    """Mean cross-entropy over the given windows (every window has block_size targets)."""
    was_training = model.training
    model.eval()
    total = 0.0
    for i in range(0, len(starts), batch_size):
        x, y = windows_to_batch(data, starts[i : i + batch_size], block_size, device)
        with autocast_for(device):
            loss = lm_loss(model, x, y)
        total += loss.item() * len(x)
    model.train(was_training)
    return total / len(starts)


def copy_tokenizer(shards_dir: Path, out: Path) -> Path | None:
    """Put the shards' tokenizer.json next to the checkpoint so `trainer eval --text` works.

    The shard writer may keep it in the shard directory or its parent; the first found wins.
    """
    for candidate in (shards_dir / "tokenizer.json", shards_dir.parent / "tokenizer.json"):
        if candidate.is_file():
            target = out / "tokenizer.json"
            shutil.copyfile(candidate, target)
            return target
    return None


def _say(cfg: PretrainConfig, message: str) -> None:
    if not cfg.quiet:
        print(message, flush=True)


def pretrain(cfg: PretrainConfig) -> dict[str, Any]:
    """Run one pretraining job end to end and return its summary (also in run.json).

    Raises TrainerError before any training for every problem with the inputs (and during
    training only if the loss becomes NaN/inf).
    """
    # --- validate everything first: a bad shard must cost seconds, not a crashed run ---
    reject_unimplemented(cfg)
    plan = plan_run(cfg)
    device = resolve_device(cfg.device)
    shards: Shards = open_shards(cfg.shards)
    manifest = shards.manifest
    config = build_config(cfg.model, manifest.vocab_size, manifest.eos_id)
    if cfg.block_size > config.n_positions:
        raise TrainerError(
            f"--block-size {cfg.block_size} exceeds the model's n_positions "
            f"{config.n_positions} (--model {cfg.model})"
        )
    check_length(shards, cfg.block_size)
    check_token_ids(shards, config.vocab_size)

    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)

    # --- model, optimizer, data order: all reproducible from --seed ---
    torch.manual_seed(cfg.seed)
    if device.type == "cuda":
        torch.set_float32_matmul_precision("high")  # TF32 for any matmul left in fp32
    model = build_model(config, init=cfg.init).to(device)
    model.train()
    optimizer = make_optimizer(model, cfg, device)
    loss_fn = build_loss(cfg)
    batch_gen = torch.Generator().manual_seed(cfg.seed)
    n_eval = cfg.eval_batches * cfg.batch_size
    val_starts = fixed_starts(shards.val, n_eval, cfg.block_size)

    n_params = count_parameters(model)
    _say(
        cfg,
        f"model {cfg.model}: {n_params / 1e6:.2f}M parameters, {config.n_layer} layers x "
        f"{config.n_embd}, vocab {config.vocab_size}; {plan.steps} steps of "
        f"{plan.tokens_per_step} tokens on {device}",
    )

    def run_eval() -> float:
        return evaluate(model, shards.val, val_starts, cfg.batch_size, cfg.block_size, device)

    log_path = out / "log.jsonl"
    records: list[dict[str, Any]] = []
    with log_path.open("w", encoding="utf-8") as log:

        def emit(record: dict[str, Any]) -> None:
            records.append(record)
            log.write(json.dumps(record) + "\n")
            log.flush()
            line = (
                f"step {record['step']}/{plan.steps}: loss {record['loss']:.4f}, "
                f"lr {record['lr']:.2e}, {record['tokens_per_second']:,.0f} tok/s"
            )
            if "val_loss" in record:
                line += f", val loss {record['val_loss']:.4f}, val ppl {record['val_ppl']:.2f}"
            _say(cfg, line)

        # Step 0: the untrained model, scored on fixed train windows and on validation.
        train_starts = fixed_starts(shards.train, n_eval, cfg.block_size)
        loss0 = evaluate(model, shards.train, train_starts, cfg.batch_size, cfg.block_size, device)
        val0 = run_eval()
        emit(
            {
                "step": 0,
                "tokens": 0,
                "loss": loss0,
                "lr": lr_at(0, cfg.lr, plan.warmup, plan.steps, cfg.min_lr_ratio),
                "tokens_per_second": 0.0,
                "val_loss": val0,
                "val_ppl": math.exp(val0),
            }
        )

        # --- the training loop ---
        # Timing is read only at log points, where .item() waits for the GPU anyway, so the
        # host never blocks per step; evaluation time is excluded from tokens/s.
        train_seconds = 0.0
        interval_loss = torch.zeros((), device=device)
        interval_steps = 0
        interval_start = time.perf_counter()
        val_loss = val0
        for step in range(1, plan.steps + 1):
            lr = lr_at(step - 1, cfg.lr, plan.warmup, plan.steps, cfg.min_lr_ratio)
            for group in optimizer.param_groups:
                group["lr"] = lr
            x, y = random_batch(shards.train, cfg.batch_size, cfg.block_size, batch_gen, device)
            with autocast_for(device):
                loss = loss_fn(model, x, y)
            loss.backward()
            if cfg.grad_clip > 0:
                torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            interval_loss += loss.detach()
            interval_steps += 1

            is_eval = step % plan.eval_interval == 0 or step == plan.steps
            if not (is_eval or step % plan.log_interval == 0):
                continue
            mean_loss = interval_loss.item() / interval_steps  # waits for the device
            interval_seconds = time.perf_counter() - interval_start
            train_seconds += interval_seconds
            if not math.isfinite(mean_loss):
                raise TrainerError(f"step {step}: training loss is {mean_loss}; try a lower --lr")
            record: dict[str, Any] = {
                "step": step,
                "tokens": step * plan.tokens_per_step,
                "loss": mean_loss,
                "lr": lr,
                "tokens_per_second": interval_steps * plan.tokens_per_step / interval_seconds,
            }
            if is_eval:
                val_loss = run_eval()
                record["val_loss"] = val_loss
                record["val_ppl"] = math.exp(val_loss)
            emit(record)
            interval_loss = torch.zeros((), device=device)
            interval_steps = 0
            interval_start = time.perf_counter()

    # --- outputs: checkpoint, tokenizer, plot, run description ---
    model.save_pretrained(out)
    tokenizer = copy_tokenizer(shards.root, out)
    plot_losses(records, out / "loss.png", title=f"{cfg.model} on {shards.root.name}")
    total_tokens = plan.steps * plan.tokens_per_step
    summary: dict[str, Any] = {
        "final_val_loss": val_loss,
        "final_val_ppl": math.exp(val_loss),
        "initial_val_loss": val0,
        "steps": plan.steps,
        "tokens": total_tokens,
        "tokens_per_second": total_tokens / train_seconds if train_seconds > 0 else 0.0,
        "train_seconds": train_seconds,
        "n_params": n_params,
        "device": str(device),
        "checkpoint": str(out),
        "tokenizer": str(tokenizer) if tokenizer else None,
    }
    run = {
        "config": asdict(cfg),
        "plan": asdict(plan),
        "manifest": manifest.to_dict(),
        "summary": summary,
    }
    (out / "run.json").write_text(json.dumps(run, indent=2) + "\n", encoding="utf-8")

    print(
        f"final val loss {val_loss:.4f} (ppl {math.exp(val_loss):.2f}) after {plan.steps} "
        f"steps / {total_tokens:,} tokens; {summary['tokens_per_second']:,.0f} tokens/s "
        f"on {device}"
    )
    print(f"checkpoint: {out} (config.json, model.safetensors)")
    print(f"log: {log_path}; plot: {out / 'loss.png'}")
    return summary
