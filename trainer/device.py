"""Where and in what precision tensors run: one place so pretrain and eval agree.

Also the peak-FLOPs table behind the model FLOPs utilisation (MFU) in the training log:
MFU = 6 * N * tokens/s / peak (Kaplan et al. 2020's 6N training FLOPs per token, the
estimate nanoGPT and PaLM's MFU use, without the attention term).
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import sys
from typing import Any

import torch

from trainer.errors import TrainerError

DTYPES = ("auto", "fp32", "bf16")

# Dense (no 2:4 sparsity) tensor-core peaks from NVIDIA's data sheets, in FLOP/s, matched by
# substring against torch.cuda.get_device_name() (first match wins, so more specific names
# come first). "fp32" is the TF32 peak: pretrain enables TF32 for any matmul left in fp32.
PEAK_FLOPS: list[tuple[str, dict[str, float]]] = [
    ("H100 PCIe", {"bf16": 756e12, "fp32": 378e12}),
    ("H100 NVL", {"bf16": 835e12, "fp32": 418e12}),
    ("H100", {"bf16": 989e12, "fp32": 495e12}),  # SXM
    ("H200", {"bf16": 989e12, "fp32": 495e12}),
    ("A100", {"bf16": 312e12, "fp32": 156e12}),
    ("L4", {"bf16": 121e12, "fp32": 60e12}),
]


def resolve_device(name: str) -> torch.device:
    """auto -> cuda when available, else cpu; asking for an absent cuda is an error."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise TrainerError("--device cuda: no CUDA device is available")
    if name not in ("cpu", "cuda"):
        raise TrainerError(f"--device {name}: expected auto, cpu or cuda")
    return torch.device(name)


def cpu_has_native_bf16() -> bool:
    """True when the CPU multiplies bf16 in hardware (AVX512-BF16 or AMX tiles).

    There oneDNN's bf16 matmuls beat fp32 ones (a 3 x 256 GPT-2 trains at 9.1k instead of
    5.5k tokens/s on 2 cores of an AVX512-BF16 EPYC, benchmarks/trainer.py); without them
    bf16 is emulated and slower.
    """
    checks = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    return any(getattr(torch.cpu, name, lambda: False)() for name in checks)


def resolve_dtype(name: str, device: torch.device) -> torch.dtype:
    """The autocast dtype for training: auto -> bf16 where the hardware does bf16 natively.

    bf16 needs no loss scaler (unlike fp16); weights and optimizer state stay fp32 either way.
    """
    if name not in DTYPES:
        raise TrainerError(f"--dtype {name}: expected one of {', '.join(DTYPES)}")
    if name == "fp32":
        return torch.float32
    if device.type == "cuda":
        native = torch.cuda.is_bf16_supported()
    else:
        native = cpu_has_native_bf16()
    if name == "bf16" and device.type == "cuda" and not native:
        raise TrainerError("--dtype bf16: this GPU does not support bf16")
    if name == "bf16" or native:
        return torch.bfloat16
    return torch.float32


def dtype_name(dtype: torch.dtype) -> str:
    return {torch.float32: "fp32", torch.bfloat16: "bf16", torch.float16: "fp16"}[dtype]


def autocast_for(
    device: torch.device, dtype: torch.dtype | None = None
) -> contextlib.AbstractContextManager[Any]:
    """Autocast to ``dtype`` (weights stay fp32); a no-op for fp32.

    With dtype None (evaluation): bf16 on GPUs that support it, plain fp32 on CPU, so
    `trainer eval` perplexities on CPU are exact fp32 numbers.
    """
    if dtype is None:
        bf16_gpu = device.type == "cuda" and torch.cuda.is_bf16_supported()
        dtype = torch.bfloat16 if bf16_gpu else torch.float32
    if dtype == torch.float32:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=dtype)


# glibc's mallopt parameters (malloc.h) and the value given to both: 1 GiB.
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3
KEEP_BELOW = 1 << 30
_ALLOCATOR_ENV = ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "LD_PRELOAD")


def reuse_freed_memory() -> bool:
    """Make glibc's malloc keep freed blocks below 1 GiB for reuse; True if it did.

    By default glibc serves every block above its mmap threshold (at most 32 MiB) with a
    fresh mmap and unmaps it on free, so each new [B, T, V] tensor (64 MiB of logits for
    16 x 128 tokens over 8,192 ids) is paid again in page faults: 16,384 of them,
    measured here, and a step allocates several. That is what made the distillation step,
    with its teacher logits and soft-target tensors, cost 2x the plain step on CPU.
    PyTorch's performance tuning guide recommends jemalloc or tcmalloc for the same reason
    (https://pytorch.org/tutorials/recipes/recipes/tuning_guide.html); raising glibc's
    mmap and trim thresholds with mallopt(3) does it without an extra library. Freed memory
    then stays with the process, which holds its peak footprint until it ends.

    Left alone when the user chose an allocator (MALLOC_MMAP_THRESHOLD_,
    MALLOC_TRIM_THRESHOLD_ or LD_PRELOAD set: e.g. MALLOC_MMAP_THRESHOLD_=131072 restores
    glibc's default to compare) and off glibc (macOS, musl).
    """
    if not sys.platform.startswith("linux") or any(k in os.environ for k in _ALLOCATOR_ENV):
        return False
    try:
        libc = ctypes.CDLL(None)
        libc.gnu_get_libc_version  # noqa: B018 - raises AttributeError off glibc
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return bool(mallopt(M_MMAP_THRESHOLD, KEEP_BELOW)) and bool(
        mallopt(M_TRIM_THRESHOLD, KEEP_BELOW)
    )


def peak_flops(device: torch.device, dtype: torch.dtype) -> float | None:
    """Peak FLOP/s of this device for ``dtype`` from PEAK_FLOPS, or None when unknown (CPUs)."""
    if device.type != "cuda":
        return None
    name = torch.cuda.get_device_name(device)
    for pattern, peaks in PEAK_FLOPS:
        if pattern in name:
            return peaks["bf16" if dtype == torch.bfloat16 else "fp32"]
    return None
