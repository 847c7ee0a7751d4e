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

from trainer.errors import TrainerError

CHECKPOINT_DIR = "checkpoint"
STATE_FILE = "trainer_state.pt"
STATE_VERSION = 1

# Options that may change between a run and its --resume without changing its results
# (or that are the resume machinery itself).
NOT_FINGERPRINTED = ("resume", "stop_after", "quiet", "checkpoint_interval", "compile", "device")
PATH_OPTIONS = ("shards", "out", "init", "teacher")


def fingerprint(cfg: Any) -> dict[str, Any]:
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


def remove_checkpoints(out: Path) -> None:
    """A fresh (not --resume) run must not leave an older run's checkpoint to resume from."""
    for name in (CHECKPOINT_DIR, f"{CHECKPOINT_DIR}.tmp", f"{CHECKPOINT_DIR}.old"):
        shutil.rmtree(out / name, ignore_errors=True)


def load_checkpoint(out: Path, cfg: Any) -> tuple[Path, dict[str, Any]]:
    """Read the trainer state of OUT's checkpoint after checking it belongs to this run."""
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
