"""Data-parallel training across processes started by torchrun (DDP; Li et al. 2020).

``torchrun --nproc_per_node N -m trainer pretrain ...`` sets RANK, LOCAL_RANK and
WORLD_SIZE; without them the run is a single process and nothing here does anything.
Every rank draws the same global batch from the same seeded generator and trains on its
own slice, so N processes follow the loss curve of one process with the same --batch-size
(up to float summation order). Backend: NCCL between GPUs, gloo on CPU.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass

import numpy as np
import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel


@dataclass(frozen=True)
class World:
    """This process's place among the training processes."""

    rank: int = 0
    size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        """Rank 0 alone writes files and prints."""
        return self.rank == 0


def world_from_env() -> World:
    """Read torchrun's variables; a plain `trainer pretrain` is a world of one."""
    size = int(os.environ.get("WORLD_SIZE", "1"))
    if size <= 1:
        return World()
    return World(int(os.environ["RANK"]), size, int(os.environ.get("LOCAL_RANK", "0")))


def rank_device(world: World, device: torch.device) -> torch.device:
    """One GPU per process (cuda:LOCAL_RANK); CPU processes share the CPU."""
    if device.type == "cuda" and world.size > 1:
        torch.cuda.set_device(world.local_rank)
        return torch.device("cuda", world.local_rank)
    return device


def init_process_group(world: World, device: torch.device) -> None:
    if world.size > 1 and not dist.is_initialized():
        dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")


def destroy_process_group(world: World) -> None:
    if world.size > 1 and dist.is_initialized():
        dist.destroy_process_group()


def seed_per_rank(world: World, seed: int) -> None:
    """Each rank its own dropout masks (the batch generator is seeded apart, alike on all)."""
    if world.size > 1:
        torch.manual_seed(seed + world.rank)


def data_parallel(model: torch.nn.Module, world: World, device: torch.device) -> torch.nn.Module:
    """``model`` wrapped in DDP, which averages gradients over the ranks; alone, itself."""
    if world.size == 1:
        return model
    return DistributedDataParallel(
        model, device_ids=[device.index] if device.type == "cuda" else None
    )


def rank_share(starts: np.ndarray, micro: int, micro_batch: int, world: World) -> np.ndarray:
    """This rank's windows of micro-batch ``micro`` of a global batch (its window starts).

    The global batch is cut into micro-batches, each into one slice per rank, in that order.
    """
    first = (micro * world.size + world.rank) * micro_batch
    return starts[first : first + micro_batch]


def gradient_sync(
    model: torch.nn.Module, world: World, last_micro_batch: bool
) -> contextlib.AbstractContextManager[object]:
    """Where backward runs: gradients are all-reduced once per step, after the last
    micro-batch; DDP's no_sync() keeps the others local."""
    if world.size > 1 and not last_micro_batch:
        return model.no_sync()  # type: ignore[operator]
    return contextlib.nullcontext()


def all_mean(tensor: torch.Tensor, world: World) -> torch.Tensor:
    """The mean of ``tensor`` over all ranks (the tensor itself for a single process)."""
    if world.size == 1:
        return tensor
    reduced = tensor.detach().clone()
    dist.all_reduce(reduced, op=dist.ReduceOp.SUM)
    return reduced / world.size


def all_sum(tensor: torch.Tensor, world: World) -> torch.Tensor:
    if world.size == 1:
        return tensor
    reduced = tensor.detach().clone()
    dist.all_reduce(reduced, op=dist.ReduceOp.SUM)
    return reduced


def all_gather(tensor: torch.Tensor, world: World) -> list[torch.Tensor]:
    """Every rank's ``tensor`` (same shape on all ranks), in rank order, on the CPU.

    Done as a sum of otherwise-zero rows: only all_reduce is used, not all_gather, whose
    gloo work objects were seen to deadlock the process group's teardown.
    """
    rows = torch.zeros((world.size, *tensor.shape), dtype=tensor.dtype, device=tensor.device)
    rows[world.rank] = tensor
    # Separate copies, not views of one storage: torch.set_rng_state crashes on a view
    # with a storage offset (torch 2.13), and RNG states are what this gathers.
    return [row.clone() for row in all_sum(rows, world).cpu()]
