"""Where a run stands: the updates done, the latest scores and the interval not yet logged.

A log record at step k describes the updates since the previous record: its loss (and each
part a distillation method logs) is their mean, averaged over the data-parallel ranks, and
its tokens/s counts training time only. Timing is read only at log points, where .item()
waits for the GPU anyway, so the host never blocks per step; evaluation and checkpoint time
are excluded from tokens/s. A checkpoint saves all of this but the clock, so a resumed run
logs the interval it was stopped in as if it had never stopped.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import torch

from trainer.distributed import World, all_mean
from trainer.errors import TrainerError


@dataclass
class Progress:
    """A run's counters and running sums, from step 0 (or a checkpoint) to the end."""

    step: int  # optimizer updates done
    val_loss: float  # the latest validation loss
    initial_val_loss: float  # the untrained model's (step 0)
    interval_loss: torch.Tensor  # sum over the interval's updates of their mean objective
    interval_parts: dict[str, torch.Tensor] = field(default_factory=dict)  # likewise per part
    interval_steps: int = 0  # updates in the interval
    train_seconds: float = 0.0  # training time of the intervals closed so far
    timed_steps: int = 0  # updates since the clock started (it restarts on --resume)
    clock: float = field(default_factory=time.perf_counter)  # when the timed stretch began

    @staticmethod
    def start(val_loss: float, device: torch.device) -> Progress:
        """Step 0: nothing trained yet, the untrained model's validation loss."""
        return Progress(0, val_loss, val_loss, torch.zeros((), device=device))

    def add(self, loss: torch.Tensor, parts: dict[str, torch.Tensor], share: int) -> None:
        """One micro-batch's objective and logged parts, each 1/share of its update's."""
        self.interval_loss += loss.detach() / share
        for name, value in parts.items():
            if name not in self.interval_parts:
                self.interval_parts[name] = torch.zeros((), device=self.interval_loss.device)
            self.interval_parts[name] += value.detach().float() / share

    def finish_update(self) -> None:
        """The optimizer has stepped: one more update done, in the interval and timed."""
        self.step += 1
        self.interval_steps += 1
        self.timed_steps += 1

    def close_interval(
        self,
        lr: float,
        world: World,
        tokens_per_step: int,
        flops_per_token: float,
        peak_flops: float | None,
    ) -> dict[str, Any]:
        """The log record of the interval ending now (collective under DDP).

        Its training time is added to ``train_seconds``; a NaN or infinite mean loss raises.
        MFU (model FLOP utilisation, Chowdhery et al. 2022) is logged when the peak is known.
        """
        mean_loss = all_mean(self.interval_loss, world).item() / self.interval_steps
        seconds = time.perf_counter() - self.clock
        self.train_seconds += seconds
        if not math.isfinite(mean_loss):
            raise TrainerError(f"step {self.step}: training loss is {mean_loss}; try a lower --lr")
        tokens_per_second = self.timed_steps * tokens_per_step / seconds
        record: dict[str, Any] = {
            "step": self.step,
            "tokens": self.step * tokens_per_step,
            "loss": mean_loss,
            "lr": lr,
            "tokens_per_second": tokens_per_second,
        }
        if peak_flops:
            record["mfu"] = flops_per_token * tokens_per_second / peak_flops
        for name, value in self.interval_parts.items():
            record[name] = all_mean(value, world).item() / self.interval_steps
        return record

    def open_interval(self) -> None:
        """Start the next interval: the sums emptied and the clock restarted."""
        self.interval_loss = torch.zeros((), device=self.interval_loss.device)
        self.interval_parts = {}
        self.interval_steps = 0
        self.restart_clock()

    def restart_clock(self) -> None:
        self.timed_steps = 0
        self.clock = time.perf_counter()

    @contextlib.contextmanager
    def clock_paused(self) -> Iterator[None]:
        """Time spent inside (checkpointing) is not training time."""
        paused = time.perf_counter()
        yield
        self.clock += time.perf_counter() - paused
