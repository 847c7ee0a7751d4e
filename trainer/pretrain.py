"""Pretrain (or distil) a GPT-2 on token shards, nanoGPT style.

Read top to bottom, ``pretrain()`` is the whole recipe: validate the inputs (shards, model,
teacher, options: every problem is a TrainerError before the first step), build the model
(from a preset, a checkpoint, or a truncated checkpoint), then loop (random window batch ->
loss -> AdamW step with warmup+cosine lr and grad clipping), evaluating on a fixed set of
validation windows at step 0, every eval interval and at the end, and checkpointing every
checkpoint interval. Everything a comparison between runs needs lands in the output
directory: the Hugging Face checkpoint, ``log.jsonl``, ``loss.png`` and ``run.json``.

Steps count optimizer updates: the record for step k describes the model after k updates
(its ``loss`` is the mean training objective of the updates since the previous record).
Step 0 is the untrained model; having made no update, its ``loss`` is the plain
cross-entropy on the same number of fixed training windows as validation uses, its ``lr``
is the first update's and its throughput 0.

A step's global batch (--batch-size windows) is drawn from one seeded generator and split
into --grad-accum micro-batches per process and one slice per data-parallel process, so
neither changes the run beyond float summation order. With --stop-after K the run stops
after step K as an interruption would (checkpoint, no final outputs); --resume with the
same arguments continues it, bit for bit on CPU.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import shutil
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch
import torch.nn.functional as F
from torch.nn.parallel import DistributedDataParallel
from transformers import GPT2LMHeadModel

from trainer.checkpoint import (
    fingerprint,
    load_checkpoint,
    load_weights,
    remove_checkpoints,
    save_checkpoint,
)
from trainer.data import (
    Manifest,
    Shards,
    check_length,
    check_token_ids,
    fixed_starts,
    open_shards,
    random_starts,
    windows_to_batch,
)
from trainer.device import (
    autocast_for,
    dtype_name,
    peak_flops,
    resolve_device,
    resolve_dtype,
    reuse_freed_memory,
)
from trainer.distributed import (
    World,
    all_gather,
    all_mean,
    all_sum,
    destroy_process_group,
    init_process_group,
    rank_device,
    world_from_env,
)
from trainer.errors import TrainerError
from trainer.kd import KD_LOSSES, Distiller, KDOptions, Shapes, parse_methods
from trainer.plot import plot_losses
from trainer.presets import build_config, build_model, count_parameters, flops_per_token
from trainer.student import fuse_gelu, load_gpt2, parse_keep_layers, truncate

MAX_DEFAULT_WARMUP = 1000
TEACHER_DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}


@dataclass
class PretrainConfig:
    """Every knob of a run; the CLI fills it from flags, other code can build it directly."""

    shards: str
    out: str
    model: str | None = None  # preset or CONFIG.json for --init scratch (default: tiny)
    init: str = "scratch"  # or a Hugging Face checkpoint directory
    keep_layers: str | None = None  # truncate --init HF_DIR to these blocks
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
    label_smoothing: float = 0.0
    seed: int = 1337
    device: str = "auto"
    dtype: str = "auto"
    compile: bool = False
    grad_accum: int = 1
    eval_interval: int | None = None
    eval_batches: int = 20
    log_interval: int | None = None
    peak_flops: float | None = None
    quiet: bool = False
    teacher: str | None = None
    kd: str | None = None  # METHOD[,METHOD...]; default vanilla when --teacher is given
    kd_temperature: float | None = None
    kd_alpha: float = 0.5
    kd_beta: float = 100.0
    kd_anneal_fraction: float = 2 / 3
    teacher_dtype: str = "auto"
    checkpoint_interval: int | None = None
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
    (nanoGPT's rule: decay params with dim >= 2). The fused kernel is used on GPUs; on CPU
    torch's fused AdamW measured no faster than the default multi-tensor one.
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


class Objective(Protocol):
    """The training loss: ``(model, x, y, step) -> (loss, logged parts)``."""

    def __call__(
        self, model: Any, x: torch.Tensor, y: torch.Tensor, step: int
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]: ...

    def state_dict(self) -> dict[str, Any]: ...

    def load_state_dict(self, state: dict[str, Any]) -> None: ...


@dataclass
class LanguageModelling:
    """Next-token cross-entropy, optionally label-smoothed (Szegedy et al. 2016)."""

    label_smoothing: float = 0.0

    def __call__(
        self, model: Any, x: torch.Tensor, y: torch.Tensor, step: int
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        logits = model(input_ids=x, use_cache=False).logits
        loss = F.cross_entropy(
            logits.float().reshape(-1, logits.size(-1)),
            y.reshape(-1),
            label_smoothing=self.label_smoothing,
        )
        return loss, {}

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        del state


@torch.no_grad()
def evaluate(
    model: GPT2LMHeadModel,
    data: np.ndarray,
    starts: np.ndarray,
    batch_size: int,
    block_size: int,
    device: torch.device,
    dtype: torch.dtype | None = None,
    world: World | None = None,
) -> float:
    """Mean cross-entropy over the given windows (every window has block_size targets).

    Data-parallel ranks each score every world-size-th window and add up their sums.
    """
    world = world or World()
    mine = starts[world.rank :: world.size]
    was_training = model.training
    model.eval()
    total = torch.zeros((), dtype=torch.float64, device=device)
    for i in range(0, len(mine), batch_size):
        x, y = windows_to_batch(data, mine[i : i + batch_size], block_size, device)
        with autocast_for(device, dtype):
            loss = lm_loss(model, x, y)
        total += loss.double() * len(x)
    model.train(was_training)
    return all_sum(total, world).item() / len(starts)


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


def build_student(
    cfg: PretrainConfig, manifest: Manifest
) -> tuple[GPT2LMHeadModel, list[int] | None, str]:
    """The model to train, the blocks it kept (truncation) and a one-line description.

    --init scratch builds --model (a preset or CONFIG.json) with the shards' vocabulary;
    --init HF_DIR continues from the checkpoint, truncated to --keep-layers when given.
    The caller seeds torch first, so a scratch initialisation is reproducible.
    """
    if cfg.init == "scratch":
        if cfg.keep_layers is not None:
            raise TrainerError("--keep-layers needs --init HF_DIR (the checkpoint to truncate)")
        name = cfg.model or "tiny"
        model = build_model(build_config(name, manifest.vocab_size, manifest.eos_id))
        return model, None, f"model {name}"
    if cfg.model is not None:
        raise TrainerError(f"--model applies to --init scratch; --init {cfg.init} sets the shape")
    source = load_gpt2(cfg.init, "--init")
    vocab = source.config.vocab_size
    if manifest.vocab_size > vocab:
        raise TrainerError(
            f"{cfg.shards}: the shards' vocabulary (manifest vocab_size {manifest.vocab_size}) "
            f"exceeds --init {cfg.init}'s vocab {vocab}"
        )
    if cfg.keep_layers is None:
        return source, None, f"--init {cfg.init}"
    keep = parse_keep_layers(cfg.keep_layers, source.config.n_layer, f"--init {cfg.init}")
    description = f"--init {cfg.init} truncated to blocks {','.join(map(str, keep))}"
    return truncate(source, keep), keep, description


def build_distiller(
    cfg: PretrainConfig,
    student: GPT2LMHeadModel,
    keep: list[int] | None,
    manifest: Manifest,
    shards: Shards,
    dtype: torch.dtype,
    total_steps: int,
) -> Distiller | None:
    """Load the teacher and the --kd methods, checking they fit the student and shards."""
    if cfg.teacher is None:
        if cfg.kd is not None:
            raise TrainerError("--kd needs --teacher HF_DIR")
        return None
    if cfg.teacher_dtype != "auto" and cfg.teacher_dtype not in TEACHER_DTYPES:
        raise TrainerError(f"--teacher-dtype {cfg.teacher_dtype}: expected auto, fp32, bf16, fp16")
    names = parse_methods(cfg.kd or "vanilla")
    teacher_dtype = dtype if cfg.teacher_dtype == "auto" else TEACHER_DTYPES[cfg.teacher_dtype]
    teacher = load_gpt2(cfg.teacher, "--teacher", dtype=teacher_dtype)
    fuse_gelu(teacher)  # same function, one kernel: the teacher is never trained nor saved
    if manifest.vocab_size > teacher.config.vocab_size:
        raise TrainerError(
            f"--teacher {cfg.teacher}: vocab {teacher.config.vocab_size} is smaller than the "
            f"shards' vocab_size {manifest.vocab_size}"
        )
    check_token_ids(shards, teacher.config.vocab_size)
    if cfg.block_size > teacher.config.n_positions:
        raise TrainerError(
            f"--block-size {cfg.block_size} exceeds --teacher {cfg.teacher}'s n_positions "
            f"{teacher.config.n_positions}"
        )
    # Student block i came from block keep[i] of --init: a layer map into the teacher only
    # when the teacher is that very checkpoint (else the methods map layers uniformly).
    same = cfg.init != "scratch" and Path(cfg.init).resolve() == Path(cfg.teacher).resolve()
    shapes = Shapes.of(student, teacher, keep if same else None)
    opts = KDOptions(cfg.kd_temperature, cfg.kd_alpha, cfg.kd_beta, cfg.kd_anneal_fraction)
    methods = [KD_LOSSES[name](opts, shapes, seed=cfg.seed) for name in names]
    return Distiller(
        teacher,
        student,
        methods,
        manifest.vocab_size,
        total_steps,
        label_smoothing=cfg.label_smoothing,
    )


def read_log(path: Path, up_to_step: int) -> list[dict[str, Any]]:
    """The records of an interrupted run's log.jsonl up to its checkpoint's step."""
    if not path.is_file():
        raise TrainerError(f"--resume: {path} is missing")
    records = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    return [r for r in records if r["step"] <= up_to_step]


def pretrain(cfg: PretrainConfig) -> dict[str, Any]:
    """Run one pretraining job end to end and return its summary (also in run.json).

    Raises TrainerError before any training for every problem with the inputs (and during
    training only if the loss becomes NaN/inf).
    """
    # --- validate everything first: a bad shard must cost seconds, not a crashed run ---
    world = world_from_env()
    plan = plan_run(cfg, world.size)
    device = rank_device(world, resolve_device(cfg.device))
    dtype = resolve_dtype(cfg.dtype, device)
    if device.type == "cpu":
        reuse_freed_memory()  # [B, T, V] tensors reuse memory instead of page-faulting anew
    shards: Shards = open_shards(cfg.shards)
    manifest = shards.manifest
    torch.manual_seed(cfg.seed)  # before building: a scratch init is reproducible
    model, keep, description = build_student(cfg, manifest)
    config = model.config
    if cfg.block_size > config.n_positions:
        raise TrainerError(
            f"--block-size {cfg.block_size} exceeds the model's n_positions "
            f"{config.n_positions} ({description})"
        )
    check_length(shards, cfg.block_size)
    check_token_ids(shards, config.vocab_size)
    distiller = build_distiller(cfg, model, keep, manifest, shards, dtype, plan.steps)
    objective: Objective = distiller or LanguageModelling(cfg.label_smoothing)
    out = Path(cfg.out)
    resumed = load_checkpoint(out, cfg) if cfg.resume else None
    if resumed is not None and resumed[1]["step"] >= plan.steps:
        raise TrainerError(f"--resume: the run in {out} already finished ({plan.steps} steps)")

    # --- model, optimizer, data order: all reproducible from --seed ---
    init_process_group(world, device)
    if world.is_main:
        out.mkdir(parents=True, exist_ok=True)
        if resumed is None:
            remove_checkpoints(out)
    if device.type == "cuda":
        torch.set_float32_matmul_precision("high")  # TF32 for any matmul left in fp32
    model.to(device).train()
    if distiller is not None:
        distiller.teacher.to(device)
    optimizer = make_optimizer(model, cfg, device)
    batch_gen = torch.Generator().manual_seed(cfg.seed)  # the same batches on every rank
    if world.size > 1:
        torch.manual_seed(cfg.seed + world.rank)  # but each its own dropout masks
    start_step = 0
    if resumed is not None:
        ckpt, saved = resumed
        load_weights(model, ckpt)
        optimizer.load_state_dict(saved["optimizer"])
        batch_gen.set_state(saved["batch_generator"])
        rngs = saved["torch_rng"]  # one per rank
        torch.set_rng_state(rngs[world.rank % len(rngs)].clone())
        if device.type == "cuda" and saved["cuda_rng"]:
            cuda_rngs = saved["cuda_rng"]
            torch.cuda.set_rng_state(cuda_rngs[world.rank % len(cuda_rngs)].clone(), device)
        objective.load_state_dict(saved["objective"])
        start_step = saved["step"]
    bare = model  # what is saved and evaluated; `model` may become compiled or DDP-wrapped
    if cfg.compile:
        model = torch.compile(model)
    if world.size > 1:
        model = DistributedDataParallel(
            model, device_ids=[device.index] if device.type == "cuda" else None
        )
    n_eval = cfg.eval_batches * cfg.batch_size
    val_starts = fixed_starts(shards.val, n_eval, cfg.block_size)

    n_params = count_parameters(bare)
    flops = flops_per_token(bare)
    if distiller is not None:
        flops += flops_per_token(distiller.teacher, training=False)
    peak = cfg.peak_flops or peak_flops(device, dtype)
    say = world.is_main and not cfg.quiet
    if say:
        kd = f"; distilling from {cfg.teacher} ({cfg.kd or 'vanilla'})" if distiller else ""
        print(
            f"{description}: {n_params / 1e6:.2f}M parameters, {config.n_layer} layers x "
            f"{config.n_embd}, vocab {config.vocab_size}{kd}; {plan.steps} steps of "
            f"{plan.tokens_per_step} tokens on {world.size} x {device}, {dtype_name(dtype)}",
            flush=True,
        )

    def run_eval(data: np.ndarray = shards.val, starts: np.ndarray = val_starts) -> float:
        return evaluate(bare, data, starts, cfg.batch_size, cfg.block_size, device, dtype, world)

    log_path = out / "log.jsonl"
    records: list[dict[str, Any]] = []
    if resumed is not None and world.is_main:
        records = read_log(log_path, start_step)  # the log as it was at the checkpoint
    # Only rank 0 writes; the other ranks log into the void.
    with open(log_path if world.is_main else os.devnull, "w", encoding="utf-8") as log:
        for record in records:
            log.write(json.dumps(record) + "\n")

        def emit(record: dict[str, Any]) -> None:
            records.append(record)
            log.write(json.dumps(record) + "\n")
            log.flush()
            if not say:
                return
            line = (
                f"step {record['step']}/{plan.steps}: loss {record['loss']:.4f}, "
                f"lr {record['lr']:.2e}, {record['tokens_per_second']:,.0f} tok/s"
            )
            if "mfu" in record:
                line += f", mfu {100 * record['mfu']:.1f}%"
            if "val_loss" in record:
                line += f", val loss {record['val_loss']:.4f}, val ppl {record['val_ppl']:.2f}"
            print(line, flush=True)

        if resumed is not None:
            saved = resumed[1]
            interval_loss = saved["interval_loss"].to(device)
            interval_parts = {k: v.to(device) for k, v in saved["interval_parts"].items()}
            interval_steps = saved["interval_steps"]
            train_seconds = saved["train_seconds"]
            val_loss, val0 = saved["val_loss"], saved["initial_val_loss"]
        else:
            # Step 0: the untrained model, scored on fixed train windows and on validation.
            loss0 = run_eval(shards.train, fixed_starts(shards.train, n_eval, cfg.block_size))
            val0 = val_loss = run_eval()
            emit(
                {
                    "step": 0,
                    "tokens": 0,
                    "loss": loss0,
                    "lr": lr_at(0, cfg.lr, plan.warmup, plan.steps, cfg.min_lr_ratio),
                    "tokens_per_second": 0.0,
                    "val_loss": val0,
                    "val_ppl": math.exp(val0),
                    "dtype": dtype_name(dtype),
                    "device": str(device),
                    "world_size": world.size,
                }
            )
            interval_loss = torch.zeros((), device=device)
            interval_parts = {}
            interval_steps = 0
            train_seconds = 0.0

        def checkpoint_state(step: int) -> dict[str, Any]:
            """What --resume needs; collective under DDP (every rank's RNG is gathered)."""
            cuda = device.type == "cuda"
            return {
                "step": step,
                "fingerprint": json.dumps(fingerprint(cfg), sort_keys=True),
                "optimizer": optimizer.state_dict(),
                "batch_generator": batch_gen.get_state(),
                "torch_rng": all_gather(torch.get_rng_state().to(device), world),
                "cuda_rng": all_gather(torch.cuda.get_rng_state(device).to(device), world)
                if cuda
                else [],
                "objective": objective.state_dict(),
                # Made global first, so every rank resumes with the same partial interval.
                "interval_loss": all_mean(interval_loss, world).cpu(),
                "interval_parts": {k: all_mean(v, world).cpu() for k, v in interval_parts.items()},
                "interval_steps": interval_steps,
                "train_seconds": train_seconds,
                "val_loss": val_loss,
                "initial_val_loss": val0,
            }

        # --- the training loop ---
        # Timing is read only at log points, where .item() waits for the GPU anyway, so the
        # host never blocks per step; evaluation and checkpoint time are excluded from tokens/s.
        timed_steps = 0
        interval_start = time.perf_counter()
        mb = plan.micro_batch
        step = start_step
        for step in range(start_step + 1, plan.steps + 1):
            lr = lr_at(step - 1, cfg.lr, plan.warmup, plan.steps, cfg.min_lr_ratio)
            for group in optimizer.param_groups:
                group["lr"] = lr
            starts = random_starts(shards.train, cfg.batch_size, cfg.block_size, batch_gen)
            for micro in range(cfg.grad_accum):
                first = (micro * world.size + world.rank) * mb
                x, y = windows_to_batch(
                    shards.train, starts[first : first + mb], cfg.block_size, device
                )
                last = micro == cfg.grad_accum - 1
                # Gradients are all-reduced once per step, after the last micro-batch.
                no_sync = (
                    model.no_sync() if world.size > 1 and not last else contextlib.nullcontext()
                )
                with no_sync:
                    with autocast_for(device, dtype):
                        loss, parts = objective(model, x, y, step - 1)
                    (loss / cfg.grad_accum).backward()
                interval_loss += loss.detach() / cfg.grad_accum
                for name, value in parts.items():
                    if name not in interval_parts:
                        interval_parts[name] = torch.zeros((), device=device)
                    interval_parts[name] += value.detach().float() / cfg.grad_accum
            if cfg.grad_clip > 0:
                torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            interval_steps += 1
            timed_steps += 1

            is_eval = step % plan.eval_interval == 0 or step == plan.steps
            if is_eval or step % plan.log_interval == 0:
                mean_loss = all_mean(interval_loss, world).item() / interval_steps
                interval_seconds = time.perf_counter() - interval_start
                train_seconds += interval_seconds
                if not math.isfinite(mean_loss):
                    raise TrainerError(
                        f"step {step}: training loss is {mean_loss}; try a lower --lr"
                    )
                tokens_per_second = timed_steps * plan.tokens_per_step / interval_seconds
                record: dict[str, Any] = {
                    "step": step,
                    "tokens": step * plan.tokens_per_step,
                    "loss": mean_loss,
                    "lr": lr,
                    "tokens_per_second": tokens_per_second,
                }
                if peak:
                    record["mfu"] = flops * tokens_per_second / peak
                for name, value in interval_parts.items():
                    record[name] = all_mean(value, world).item() / interval_steps
                if is_eval:
                    val_loss = run_eval()
                    record["val_loss"] = val_loss
                    record["val_ppl"] = math.exp(val_loss)
                emit(record)
                interval_loss = torch.zeros((), device=device)
                interval_parts = {}
                interval_steps = timed_steps = 0
                interval_start = time.perf_counter()

            if step % plan.checkpoint_interval == 0 or step in (cfg.stop_after, plan.steps):
                save_start = time.perf_counter()
                ckpt_state = checkpoint_state(step)  # collective under DDP: all ranks build it
                if world.is_main:
                    save_checkpoint(out, bare, ckpt_state)
                interval_start += time.perf_counter() - save_start
            if step == cfg.stop_after:
                break

    # Drop the DDP wrapper (its reducer holds the process group) before tearing that down.
    model = bare
    destroy_process_group(world)
    if step == cfg.stop_after:
        if world.is_main:
            print(
                f"stopped after step {step}/{plan.steps}; checkpoint: {out / 'checkpoint'}; "
                "continue with the same arguments plus --resume"
            )
        return {"stopped_after": step, "steps": plan.steps, "checkpoint": str(out)}
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
        "dtype": dtype_name(dtype),
        "world_size": world.size,
        "checkpoint": str(out),
    }
    if peak:
        summary["mfu"] = flops * summary["tokens_per_second"] / peak
    if not world.is_main:
        return summary

    # --- outputs: checkpoint, tokenizer, plot, run description ---
    bare.save_pretrained(out)
    tokenizer = copy_tokenizer(shards.root, out)
    summary["tokenizer"] = str(tokenizer) if tokenizer else None
    plot_losses(records, out / "loss.png", title=f"{description} on {shards.root.name}")
    run = {
        "config": asdict(cfg),
        "plan": asdict(plan),
        "manifest": manifest.to_dict(),
        "model": description,
        "keep_layers": keep,
        "kd": {
            "methods": [m.name for m in distiller.methods],
            "layer_maps": {
                m.name: m.layer_map for m in distiller.methods if hasattr(m, "layer_map")
            },
        }
        if distiller
        else None,
        "summary": summary,
    }
    (out / "run.json").write_text(json.dumps(run, indent=2) + "\n", encoding="utf-8")

    print(
        f"final val loss {val_loss:.4f} (ppl {math.exp(val_loss):.2f}) after {plan.steps} "
        f"steps / {total_tokens:,} tokens; {summary['tokens_per_second']:,.0f} tokens/s "
        f"on {world.size} x {device} ({dtype_name(dtype)})"
    )
    print(f"checkpoint: {out} (config.json, model.safetensors)")
    print(f"log: {log_path}; plot: {out / 'loss.png'}")
    return summary
