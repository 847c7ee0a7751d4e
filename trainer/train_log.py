"""log.jsonl and the console line: one record per log point, written as the run goes.

Only rank 0 writes; the other ranks keep their records without writing them. Each record is
appended as it comes, so the log of an interrupted run holds every record made. A resumed
run first rewrites the log as it was at its checkpoint, so that the records of steps trained
after the checkpoint, before the interruption, are not repeated.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import torch

from trainer.device import dtype_name
from trainer.distributed import World
from trainer.errors import TrainerError


def read_log(path: Path, up_to_step: int) -> list[dict[str, Any]]:
    """The records of an interrupted run's log.jsonl up to its checkpoint's step."""
    if not path.is_file():
        raise TrainerError(f"--resume: {path} is missing")
    records = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    return [r for r in records if r["step"] <= up_to_step]


def step_zero_record(
    loss: float, val_loss: float, lr: float, dtype: torch.dtype, device: torch.device, world: World
) -> dict[str, Any]:
    """The untrained model's record; having made no update, its throughput is 0."""
    return {
        "step": 0,
        "tokens": 0,
        "loss": loss,
        "lr": lr,
        "tokens_per_second": 0.0,
        "val_loss": val_loss,
        "val_ppl": math.exp(val_loss),
        "dtype": dtype_name(dtype),
        "device": str(device),
        "world_size": world.size,
    }


class TrainLog:
    """A run's log.jsonl and the records written to it so far (rank 0 alone writes)."""

    def __init__(
        self, path: Path, world: World, total_steps: int, quiet: bool, resumed_at: int | None
    ) -> None:
        self.path = path
        self.total_steps = total_steps
        self.writes = world.is_main
        self.say = world.is_main and not quiet
        self.records: list[dict[str, Any]] = []
        if resumed_at is not None and self.writes:
            self.records = read_log(path, resumed_at)  # the log as it was at the checkpoint
        if self.writes:
            lines = "".join(json.dumps(record) + "\n" for record in self.records)
            path.write_text(lines, encoding="utf-8")

    def emit(self, record: dict[str, Any]) -> None:
        """Append one record to log.jsonl and, unless quiet, print it."""
        self.records.append(record)
        if self.writes:
            with open(self.path, "a", encoding="utf-8") as log:
                log.write(json.dumps(record) + "\n")
        if not self.say:
            return
        line = (
            f"step {record['step']}/{self.total_steps}: loss {record['loss']:.4f}, "
            f"lr {record['lr']:.2e}, {record['tokens_per_second']:,.0f} tok/s"
        )
        if "mfu" in record:
            line += f", mfu {100 * record['mfu']:.1f}%"
        if "val_loss" in record:
            line += f", val loss {record['val_loss']:.4f}, val ppl {record['val_ppl']:.2f}"
        print(line, flush=True)
