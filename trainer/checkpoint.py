"""Resumable checkpoints: everything a run needs to continue as if never stopped.

``OUT/checkpoint/`` holds the model as ``save_pretrained`` writes it (so it also loads with
``from_pretrained``) and ``trainer_state.pt``: the step, the optimizer's state, the batch
generator's state (the data position: batches are random windows drawn from it), the
global RNG states of every rank (dropout), any distillation method's RNG, the partly accumulated log
interval and the run's fingerprint. The state is a dict of tensors, numbers and strings,
saved with ``torch.save`` and read back with ``torch.load(weights_only=True)``, which
refuses to unpickle arbitrary objects.

A checkpoint is written to ``checkpoint.tmp/`` and then swapped in by renames, so a crash
while writing leaves the previous checkpoint (or, between the renames, the new one in
``checkpoint.tmp/``) intact: ``find_checkpoint`` looks at both.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file
from transformers import GPT2LMHeadModel

from trainer.config import PretrainConfig
from trainer.distributed import World, all_gather, all_mean
from trainer.errors import TrainerError
from trainer.objective import Objective
from trainer.progress import Progress

CHECKPOINT_DIR = "checkpoint"
STATE_FILE = "trainer_state.pt"
STATE_VERSION = 1

# Options that may change between a run and its --resume without changing its results
# (or that are the resume machinery itself).
NOT_FINGERPRINTED = ("resume", "stop_after", "quiet", "checkpoint_interval", "compile", "device")
PATH_OPTIONS = ("shards", "out", "init", "teacher")


def fingerprint(cfg: PretrainConfig) -> dict[str, Any]:
    """The options that must be equal for --resume to continue the same run."""
    values = {k: v for k, v in asdict(cfg).items() if k not in NOT_FINGERPRINTED}
    for key in PATH_OPTIONS:
        value = values.get(key)
        if value is not None and value != "scratch":
            values[key] = str(Path(value).resolve())
    return values


def save_checkpoint(out: Path, model: GPT2LMHeadModel, state: dict[str, Any]) -> Path:
    """Write OUT/checkpoint/ (weights + trainer_state.pt) atomically enough to survive a kill."""
    final, tmp, old = (
        out / CHECKPOINT_DIR,
        out / f"{CHECKPOINT_DIR}.tmp",
        out / f"{CHECKPOINT_DIR}.old",
    )
    shutil.rmtree(tmp, ignore_errors=True)
    model.save_pretrained(tmp)
    torch.save({"version": STATE_VERSION, **state}, tmp / STATE_FILE)
    shutil.rmtree(old, ignore_errors=True)
    if final.exists():
        final.rename(old)
    tmp.rename(final)
    shutil.rmtree(old, ignore_errors=True)
    return final


def find_checkpoint(out: Path) -> Path | None:
    """The newest complete checkpoint directory under OUT, if any."""
    for name in (CHECKPOINT_DIR, f"{CHECKPOINT_DIR}.tmp", f"{CHECKPOINT_DIR}.old"):
        candidate = out / name
        if (candidate / STATE_FILE).is_file() and (candidate / "model.safetensors").is_file():
            return candidate
    return None


def prepare_out(out: Path, fresh: bool) -> None:
    """Create OUT. A fresh (not --resume) run must not leave an older run's checkpoint to
    resume from, so it removes any."""
    out.mkdir(parents=True, exist_ok=True)
    if fresh:
        for name in (CHECKPOINT_DIR, f"{CHECKPOINT_DIR}.tmp", f"{CHECKPOINT_DIR}.old"):
            shutil.rmtree(out / name, ignore_errors=True)


def load_checkpoint(
    out: Path, cfg: PretrainConfig, total_steps: int
) -> tuple[Path, dict[str, Any]]:
    """Read the trainer state of OUT's checkpoint after checking it belongs to this run.

    A run that already made its ``total_steps`` updates has nothing left to resume.
    """
    ckpt = find_checkpoint(out)
    if ckpt is None:
        raise TrainerError(f"--resume: {out / CHECKPOINT_DIR} holds no checkpoint to resume")
    state = torch.load(ckpt / STATE_FILE, map_location="cpu", weights_only=True)
    if state.get("version") != STATE_VERSION:
        raise TrainerError(f"{ckpt / STATE_FILE}: unknown checkpoint version")
    saved = json.loads(state["fingerprint"])
    current = fingerprint(cfg)
    for key in sorted(set(saved) | set(current)):
        if saved.get(key) != current.get(key):
            flag = "--" + key.replace("_", "-")
            raise TrainerError(
                f"--resume: {flag} is {current.get(key)!r} but the interrupted run used "
                f"{saved.get(key)!r}; resume with the same arguments"
            )
    if state["step"] >= total_steps:
        raise TrainerError(f"--resume: the run in {out} already finished ({total_steps} steps)")
    return ckpt, state


def load_weights(model: GPT2LMHeadModel, ckpt: Path) -> None:
    """Load the checkpoint's weights into an already built model of the same shape."""
    weights = load_file(ckpt / "model.safetensors")
    missing, unexpected = model.load_state_dict(weights, strict=False)
    tied = {"lm_head.weight"}  # saved once, as transformer.wte.weight
    if set(missing) - tied or unexpected:
        raise TrainerError(
            f"{ckpt}: weights do not fit the model (missing {sorted(set(missing) - tied)}, "
            f"unexpected {sorted(unexpected)})"
        )
    model.tie_weights()


def trainer_state(
    cfg: PretrainConfig,
    optimizer: torch.optim.Optimizer,
    batch_gen: torch.Generator,
    objective: Objective,
    progress: Progress,
    world: World,
    device: torch.device,
) -> dict[str, Any]:
    """What --resume needs besides the weights; collective under DDP (every rank's RNG
    is gathered, and the partial interval made global, so every rank resumes alike)."""
    cuda = device.type == "cuda"
    return {
        "step": progress.step,
        "fingerprint": json.dumps(fingerprint(cfg), sort_keys=True),
        "optimizer": optimizer.state_dict(),
        "batch_generator": batch_gen.get_state(),
        "torch_rng": all_gather(torch.get_rng_state().to(device), world),
        "cuda_rng": all_gather(torch.cuda.get_rng_state(device).to(device), world) if cuda else [],
        "objective": objective.state_dict(),
        "interval_loss": all_mean(progress.interval_loss, world).cpu(),
        "interval_parts": {k: all_mean(v, world).cpu() for k, v in progress.interval_parts.items()},
        "interval_steps": progress.interval_steps,
        "train_seconds": progress.train_seconds,
        "val_loss": progress.val_loss,
        "initial_val_loss": progress.initial_val_loss,
    }


def resume(
    resumed: tuple[Path, dict[str, Any]] | None,
    model: GPT2LMHeadModel,
    optimizer: torch.optim.Optimizer,
    batch_gen: torch.Generator,
    objective: Objective,
    world: World,
    device: torch.device,
) -> Progress | None:
    """Put a checkpoint back: weights, optimizer, data position, this rank's RNGs and the
    objective's; return the run's progress as it was (None for a fresh run: no checkpoint)."""
    if resumed is None:
        return None
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
    return Progress(
        step=saved["step"],
        val_loss=saved["val_loss"],
        initial_val_loss=saved["initial_val_loss"],
        interval_loss=saved["interval_loss"].to(device),
        interval_parts={k: v.to(device) for k, v in saved["interval_parts"].items()},
        interval_steps=saved["interval_steps"],
        train_seconds=saved["train_seconds"],
    )
