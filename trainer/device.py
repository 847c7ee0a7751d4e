"""Where and in what precision tensors run: one place so pretrain and eval agree."""

from __future__ import annotations

import contextlib
from typing import Any

import torch

from trainer.errors import TrainerError


def resolve_device(name: str) -> torch.device:
    """auto -> cuda when available, else cpu; asking for an absent cuda is an error."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise TrainerError("--device cuda: no CUDA device is available")
    if name not in ("cpu", "cuda"):
        raise TrainerError(f"--device {name}: expected auto, cpu or cuda")
    return torch.device(name)


def autocast_for(device: torch.device) -> contextlib.AbstractContextManager[Any]:
    """bf16 autocast on GPUs that support it (weights stay fp32); plain fp32 on CPU.

    bf16 needs no loss scaler, and CPU runs stay bit-reproducible.
    """
    if device.type == "cuda" and torch.cuda.is_bf16_supported():
        return torch.autocast(device_type="cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()
