"""The optimizer and its schedule: AdamW, linear warmup, cosine decay (as in nanoGPT)."""

from __future__ import annotations

import math

import torch

from trainer.config import Plan, PretrainConfig


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


def lr_at(step: int, max_lr: float, warmup: int, total: int, min_ratio: float = 0.1) -> float:
    """Learning rate for 0-based update ``step``: linear warmup, cosine decay to min_ratio.

    The last update (step total - 1) uses exactly max_lr * min_ratio.
    """
    min_lr = max_lr * min_ratio
    if step < warmup:
        return max_lr * (step + 1) / (warmup + 1)
    progress = min(1.0, (step - warmup) / max(1, total - 1 - warmup))
    return min_lr + 0.5 * (1.0 + math.cos(math.pi * progress)) * (max_lr - min_lr)


def scheduled_lr(step: int, cfg: PretrainConfig, plan: Plan) -> float:
    """``lr_at`` with the run's peak, warmup, length and floor."""
    return lr_at(step, cfg.lr, plan.warmup, plan.steps, cfg.min_lr_ratio)


def set_lr(optimizer: torch.optim.Optimizer, lr: float) -> float:
    """Give every parameter group the learning rate ``lr``; return it."""
    for group in optimizer.param_groups:
        group["lr"] = lr
    return lr
