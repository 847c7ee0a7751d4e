"""Next-token cross-entropy: the plain training objective and the validation score.

The training loop asks an ``Objective`` for ``(loss, logged parts)``; without a teacher that
is ``LanguageModelling``, with one a ``trainer.kd.distiller.Distiller``. Validation is always
the plain cross-entropy, whatever the objective, on fixed windows (trainer.data.fixed_starts)
so that every evaluation of every run scores the same tokens.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import torch
import torch.nn.functional as F
from transformers import GPT2LMHeadModel

from trainer.data import windows_to_batch
from trainer.device import autocast_for
from trainer.distributed import World, all_sum


def lm_loss(
    model: Any, x: torch.Tensor, y: torch.Tensor, label_smoothing: float = 0.0
) -> torch.Tensor:
    """Mean next-token cross-entropy; y is already x shifted by one, so no shift here."""
    logits = model(input_ids=x, use_cache=False).logits
    return F.cross_entropy(
        logits.float().reshape(-1, logits.size(-1)),
        y.reshape(-1),
        label_smoothing=label_smoothing,
    )


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
        return lm_loss(model, x, y, self.label_smoothing), {}

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
