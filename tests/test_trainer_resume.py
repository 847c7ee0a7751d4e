"""Checkpoints: --stop-after K then --resume reproduces the uninterrupted run exactly (CPU)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from test_trainer import _expect_error, counting_docs, flatten, read_log, small_args, write_shards
from transformers import GPT2LMHeadModel

from trainer import cli
from trainer.checkpoint import STATE_FILE


@pytest.fixture(scope="module")
def shards(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("data")
    return write_shards(
        root / "shards", flatten(counting_docs(300, 0)), flatten(counting_docs(40, 1))
    )


def losses(out: Path) -> list[tuple]:
    """Everything in the log that must not depend on the interruption (not the timings)."""
    keys = ("step", "tokens", "loss", "lr", "val_loss", "ce", "kd_rail")
    return [tuple(r.get(k) for k in keys) for r in read_log(out)]


def run_interrupted(shards: Path, tmp_path: Path, *extra: str, stop: int) -> tuple[Path, Path]:
    """The same run uninterrupted (a) and stopped after `stop` then resumed (b)."""
    whole, parts = tmp_path / "a", tmp_path / "b"
    assert cli.main(small_args(shards, whole, *extra)) == 0
    assert cli.main(small_args(shards, parts, *extra, "--stop-after", str(stop))) == 0
    assert read_log(parts)[-1]["step"] <= stop
    assert not (parts / "model.safetensors").exists()  # stopped: no final outputs yet
    assert cli.main(small_args(shards, parts, *extra, "--resume")) == 0
    return whole, parts


def test_resume_reproduces_the_loss_sequence(shards: Path, tmp_path: Path) -> None:
    # Stop at 7: between log points (interval 2), eval points (5) and checkpoints (4).
    extra = (
        "--steps",
        "12",
        "--log-interval",
        "2",
        "--eval-interval",
        "5",
        "--checkpoint-interval",
        "4",
    )
    whole, parts = run_interrupted(shards, tmp_path, *extra, stop=7)
    assert losses(parts) == losses(whole)
    assert [r["step"] for r in read_log(parts)] == [0, 2, 4, 5, 6, 8, 10, 12]
    a, b = GPT2LMHeadModel.from_pretrained(whole), GPT2LMHeadModel.from_pretrained(parts)
    for key, value in a.state_dict().items():
        assert torch.equal(value, b.state_dict()[key]), key
    summary = json.loads((parts / "run.json").read_text())["summary"]
    assert summary["final_val_loss"] == read_log(whole)[-1]["val_loss"]


def test_resume_with_grad_accum_and_rail(shards: Path, tmp_path: Path) -> None:
    """Random layer draws (rail) and micro-batches resume exactly too."""
    teacher = tmp_path / "teacher"
    config = tmp_path / "t.json"
    config.write_text(json.dumps({"n_layer": 3, "n_head": 4, "n_embd": 64, "n_positions": 64}))
    assert cli.main(small_args(shards, teacher, "--steps", "3", "--model", str(config))) == 0
    student = tmp_path / "s.json"
    student.write_text(json.dumps({"n_layer": 2, "n_head": 4, "n_embd": 64, "n_positions": 64}))
    extra = (
        "--steps", "6", "--model", str(student), "--teacher", str(teacher), "--kd", "rail",
        "--grad-accum", "2", "--log-interval", "1",
    )  # fmt: skip
    whole, parts = run_interrupted(shards, tmp_path, *extra, stop=3)
    assert losses(parts) == losses(whole)


def test_checkpoint_contents(shards: Path, tmp_path: Path) -> None:
    out = tmp_path / "o"
    assert cli.main(small_args(shards, out, "--steps", "4", "--stop-after", "2")) == 0
    ckpt = out / "checkpoint"
    assert GPT2LMHeadModel.from_pretrained(ckpt).config.n_layer == 2  # a plain HF checkpoint
    state = torch.load(ckpt / STATE_FILE, weights_only=True)  # tensors, numbers, strings only
    assert state["step"] == 2
    assert {"optimizer", "batch_generator", "torch_rng", "fingerprint"} <= state.keys()


def test_resume_errors(shards: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "o"
    _expect_error(
        capsys, small_args(shards, out, "--steps", "4", "--resume"), "--resume", "no checkpoint"
    )
    assert cli.main(small_args(shards, out, "--steps", "4", "--stop-after", "2")) == 0
    _expect_error(
        capsys,
        small_args(shards, out, "--steps", "4", "--resume", "--lr", "1e-3"),
        "--resume: --lr is 0.001",
        "same arguments",
    )
    _expect_error(capsys, small_args(shards, out, "--steps", "5", "--resume"), "--steps is 5")
    assert cli.main(small_args(shards, out, "--steps", "4", "--resume")) == 0
    _expect_error(capsys, small_args(shards, out, "--steps", "4", "--resume"), "already finished")
    # A fresh run (no --resume) in the same folder starts over and drops the old checkpoint.
    assert cli.main(small_args(shards, out, "--steps", "3", "--stop-after", "1")) == 0
    assert torch.load(out / "checkpoint" / STATE_FILE, weights_only=True)["step"] == 1
