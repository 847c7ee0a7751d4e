"""Pretrain (or distil) a GPT-2 on token shards, nanoGPT style.

Read top to bottom, ``pretrain()`` is the whole recipe: validate the inputs (shards, model,
teacher, options: every problem is a TrainerError before the first step), build the model
(from a preset, a checkpoint, or a truncated checkpoint), then loop (random window batch ->
loss -> AdamW step with warmup+cosine lr and grad clipping), evaluating on a fixed set of
validation windows at step 0, every eval interval and at the end, and checkpointing every
checkpoint interval. Everything a comparison between runs needs lands in the output
directory: the Hugging Face checkpoint, ``log.jsonl``, ``loss.png`` and ``run.json``.
The details live beside it: the options in trainer.config, the model in trainer.student,
the teacher in trainer.kd.distiller, processes in trainer.distributed, what --resume
restores in trainer.checkpoint, the log's running sums in trainer.progress.

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

import json
import math
import shutil
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import torch
from transformers import GPT2LMHeadModel

from trainer.checkpoint import (
    load_checkpoint,
    prepare_out,
    resume,
    save_checkpoint,
    trainer_state,
)
from trainer.config import Plan, PretrainConfig, plan_run
from trainer.data import (
    Shards,
    find_tokenizer,
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
    data_parallel,
    destroy_process_group,
    gradient_sync,
    init_process_group,
    rank_device,
    rank_share,
    seed_per_rank,
    world_from_env,
)
from trainer.kd.distiller import Distiller, build_distiller
from trainer.objective import LanguageModelling, Objective, evaluate
from trainer.optim import make_optimizer, scheduled_lr, set_lr
from trainer.plot import plot_losses
from trainer.presets import count_parameters, flops_per_token
from trainer.progress import Progress
from trainer.student import build_student
from trainer.train_log import TrainLog, step_zero_record


def pretrain(cfg: PretrainConfig) -> dict[str, Any]:
    """Run one pretraining job end to end and return its summary (also in run.json).

    Every problem with the inputs raises TrainerError before step 1; later, only a NaN/inf loss.
    """
    # Set-up: this process's place among torchrun's, its device and precision, the plan.
    world = world_from_env()
    plan = plan_run(cfg, world.size)
    device = rank_device(world, resolve_device(cfg.device))
    dtype = resolve_dtype(cfg.dtype, device)
    if device.type == "cpu":
        reuse_freed_memory()  # [B, T, V] tensors reuse memory instead of page-faulting anew

    # Data, model and teacher, each checked against the others: a bad shard costs seconds.
    shards = open_shards(cfg.shards)
    torch.manual_seed(cfg.seed)  # before building: a scratch init is reproducible
    model, keep, description = build_student(cfg, shards)
    distiller = build_distiller(cfg, model, keep, shards, dtype, plan.steps)
    objective: Objective = distiller or LanguageModelling(cfg.label_smoothing)
    out = Path(cfg.out)
    resumed = load_checkpoint(out, cfg, plan.steps) if cfg.resume else None

    # Processes, devices, optimizer; the batches and dropout masks follow from --seed.
    init_process_group(world, device)
    if world.is_main:  # rank 0 alone writes files
        prepare_out(out, fresh=resumed is None)
    if device.type == "cuda":
        torch.set_float32_matmul_precision("high")  # TF32 for any matmul left in fp32
    model.to(device).train()
    if distiller is not None:
        distiller.teacher.to(device)
    optimizer = make_optimizer(model, cfg, device)
    batch_gen = torch.Generator().manual_seed(cfg.seed)  # the same batches on every rank
    seed_per_rank(world, cfg.seed)

    # Resume: weights, optimizer, RNGs, data position and unlogged interval (None if fresh).
    progress = resume(resumed, model, optimizer, batch_gen, objective, world, device)
    # `model` is what is saved and evaluated; `trained` runs the steps (compiled, DDP).
    trained = data_parallel(torch.compile(model) if cfg.compile else model, world, device)

    # Evaluation: mean cross-entropy on fixed windows, the same ones at every evaluation.
    def score(data: np.ndarray, starts: np.ndarray) -> float:
        return evaluate(model, data, starts, cfg.batch_size, cfg.block_size, device, dtype, world)

    n_eval = cfg.eval_batches * cfg.batch_size
    val_starts = fixed_starts(shards.val, n_eval, cfg.block_size)
    teacher_flops = flops_per_token(distiller.teacher, training=False) if distiller else 0
    flops = flops_per_token(model) + teacher_flops  # per token and step, for the MFU
    peak = cfg.peak_flops or peak_flops(device, dtype)
    if world.is_main and not cfg.quiet:
        print(banner(cfg, plan, model, description, world, device, dtype), flush=True)
    resumed_at = progress.step if progress else None  # the log is rewritten up to there
    log = TrainLog(out / "log.jsonl", world, plan.steps, cfg.quiet, resumed_at)
    if progress is None:  # step 0: the untrained model, on fixed train windows and val
        loss0 = score(shards.train, fixed_starts(shards.train, n_eval, cfg.block_size))
        val0 = score(shards.val, val_starts)
        log.emit(step_zero_record(loss0, val0, scheduled_lr(0, cfg, plan), dtype, device, world))
        progress = Progress.start(val0, device)

    # Training loop: one update per step; log, evaluate and checkpoint at the plan's intervals.
    progress.restart_clock()  # set-up and step 0 are not training time
    for step in range(progress.step + 1, plan.steps + 1):
        lr = set_lr(optimizer, scheduled_lr(step - 1, cfg, plan))
        starts = random_starts(shards.train, cfg.batch_size, cfg.block_size, batch_gen)
        train_step(
            trained, objective, optimizer, shards, starts, cfg, plan, world, device, dtype, progress
        )
        is_eval = step % plan.eval_interval == 0 or step == plan.steps
        if is_eval or step % plan.log_interval == 0:
            record = progress.close_interval(lr, world, plan.tokens_per_step, flops, peak)
            if is_eval:
                progress.val_loss = record["val_loss"] = score(shards.val, val_starts)
                record["val_ppl"] = math.exp(progress.val_loss)
            log.emit(record)
            progress.open_interval()
        if step % plan.checkpoint_interval == 0 or step in (cfg.stop_after, plan.steps):
            with progress.clock_paused():  # collective under DDP: every rank builds the state
                state = trainer_state(cfg, optimizer, batch_gen, objective, progress, world, device)
                if world.is_main:
                    save_checkpoint(out, model, state)
        if step == cfg.stop_after:
            break

    # Drop the DDP wrapper (its reducer holds the process group) before tearing that down.
    del trained
    destroy_process_group(world)
    if progress.step == cfg.stop_after:  # as if interrupted: a checkpoint, no final outputs
        return stopped(progress.step, plan, out, world)

    # Saving (rank 0): the model, its tokenizer, the loss plot and run.json, in --out.
    summary = run_summary(progress, plan, model, flops, peak, world, device, dtype, out)
    if world.is_main:
        model.save_pretrained(out)
        summary["tokenizer"] = copy_tokenizer(shards.root, out)
        plot_losses({"": log.records}, out / "loss.png", f"{description} on {shards.root.name}")
        write_run_json(out, cfg, plan, shards, description, keep, distiller, summary)
        print_outcome(summary, out)
    return summary


def train_step(
    model: torch.nn.Module,
    objective: Objective,
    optimizer: torch.optim.Optimizer,
    shards: Shards,
    starts: np.ndarray,
    cfg: PretrainConfig,
    plan: Plan,
    world: World,
    device: torch.device,
    dtype: torch.dtype,
    progress: Progress,
) -> None:
    """One optimizer update on the global batch at ``starts``: this rank's micro-batches,
    their gradients averaged over micro-batches (and ranks), clipped, then AdamW's step."""
    for micro in range(cfg.grad_accum):
        mine = rank_share(starts, micro, plan.micro_batch, world)
        x, y = windows_to_batch(shards.train, mine, cfg.block_size, device)
        with gradient_sync(model, world, last_micro_batch=micro == cfg.grad_accum - 1):
            with autocast_for(device, dtype):
                loss, parts = objective(model, x, y, progress.step)
            (loss / cfg.grad_accum).backward()
        progress.add(loss, parts, cfg.grad_accum)
    if cfg.grad_clip > 0:
        torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    progress.finish_update()


def stopped(step: int, plan: Plan, out: Path, world: World) -> dict[str, Any]:
    """What a run stopped by --stop-after returns, after saying how to continue it."""
    if world.is_main:
        print(
            f"stopped after step {step}/{plan.steps}; checkpoint: {out / 'checkpoint'}; "
            "continue with the same arguments plus --resume"
        )
    return {"stopped_after": step, "steps": plan.steps, "checkpoint": str(out)}


def banner(
    cfg: PretrainConfig,
    plan: Plan,
    model: GPT2LMHeadModel,
    description: str,
    world: World,
    device: torch.device,
    dtype: torch.dtype,
) -> str:
    """The line a run starts with: the model, the teacher, the budget and where it runs."""
    config = model.config
    kd = f"; distilling from {cfg.teacher} ({cfg.kd or 'vanilla'})" if cfg.teacher else ""
    return (
        f"{description}: {count_parameters(model) / 1e6:.2f}M parameters, {config.n_layer} "
        f"layers x {config.n_embd}, vocab {config.vocab_size}{kd}; {plan.steps} steps of "
        f"{plan.tokens_per_step} tokens on {world.size} x {device}, {dtype_name(dtype)}"
    )


def run_summary(
    progress: Progress,
    plan: Plan,
    model: GPT2LMHeadModel,
    flops: float,
    peak: float | None,
    world: World,
    device: torch.device,
    dtype: torch.dtype,
    out: Path,
) -> dict[str, Any]:
    """What a finished run returns and run.json keeps: scores, budget, speed, place."""
    total_tokens = plan.steps * plan.tokens_per_step
    seconds = progress.train_seconds
    summary: dict[str, Any] = {
        "final_val_loss": progress.val_loss,
        "final_val_ppl": math.exp(progress.val_loss),
        "initial_val_loss": progress.initial_val_loss,
        "steps": plan.steps,
        "tokens": total_tokens,
        "tokens_per_second": total_tokens / seconds if seconds > 0 else 0.0,
        "train_seconds": seconds,
        "n_params": count_parameters(model),
        "device": str(device),
        "dtype": dtype_name(dtype),
        "world_size": world.size,
        "checkpoint": str(out),
    }
    if peak:
        summary["mfu"] = flops * summary["tokens_per_second"] / peak
    return summary


def copy_tokenizer(shards_dir: Path, out: Path) -> str | None:
    """Put the shards' tokenizer.json next to the checkpoint so `trainer eval --text` works;
    its new path, or None when the shards have none."""
    source = find_tokenizer(shards_dir)
    if source is None:
        return None
    target = out / "tokenizer.json"
    shutil.copyfile(source, target)
    return str(target)


def write_run_json(
    out: Path,
    cfg: PretrainConfig,
    plan: Plan,
    shards: Shards,
    description: str,
    keep: list[int] | None,
    distiller: Distiller | None,
    summary: dict[str, Any],
) -> None:
    """run.json: the options, the plan, the shards' manifest, the model and the summary."""
    kd = None
    if distiller is not None:
        kd = {
            "methods": [m.name for m in distiller.methods],
            "layer_maps": {
                m.name: m.layer_map for m in distiller.methods if hasattr(m, "layer_map")
            },
        }
    run = {
        "config": asdict(cfg),
        "plan": asdict(plan),
        "manifest": shards.manifest.to_dict(),
        "model": description,
        "keep_layers": keep,
        "kd": kd,
        "summary": summary,
    }
    (out / "run.json").write_text(json.dumps(run, indent=2) + "\n", encoding="utf-8")


def print_outcome(summary: dict[str, Any], out: Path) -> None:
    """The final score, speed and where the outputs are."""
    print(
        f"final val loss {summary['final_val_loss']:.4f} (ppl {summary['final_val_ppl']:.2f}) "
        f"after {summary['steps']} steps / {summary['tokens']:,} tokens; "
        f"{summary['tokens_per_second']:,.0f} tokens/s on {summary['world_size']} x "
        f"{summary['device']} ({summary['dtype']})"
    )
    print(f"checkpoint: {out} (config.json, model.safetensors)")
    print(f"log: {out / 'log.jsonl'}; plot: {out / 'loss.png'}")
