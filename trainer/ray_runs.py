"""Independent jobs as Ray tasks: how an ablation's (variant, seed) runs spread over a cluster.

Why this exists
---------------
A leave-one-out ablation of S steps with K seeds is (S + 2) x K trainings that share nothing
but their inputs on disk (shards, the per-seed initial weights) and write nothing but their own
run folder. That is the shape Ray's tasks were made for (Moritz et al. 2018, "Ray: A
Distributed Framework for Emerging AI Applications", OSDI): stateless functions scheduled on
whichever node has the resources free. DCLM (Li et al. 2024) and FineWeb (Penedo et al. 2024)
ran their data ablations the same way, one small model per node or GPU.

What is promised
----------------
* A job is ``(function, args)``: a module-level function (Ray pickles it by reference, so every
  worker imports the same code) and picklable arguments. Paths in them must be on a filesystem
  every node sees; a local instance shares the driver's.
* One GPU per task when the cluster has any (``num_gpus=1``; Ray sets ``CUDA_VISIBLE_DEVICES``
  so the task's ``cuda`` is its own card), else ``cpus_per_job`` CPUs each. Each task sets
  PyTorch's threads to the CPUs Ray assigned it, so tasks sharing a node do not oversubscribe
  its cores (PyTorch's CPU tuning guide: one intra-op thread per core, no more).
* On CPUs the thread count is part of the arithmetic: PyTorch's CPU LayerNorm backward sums
  the weight and bias gradients in one partial buffer per thread (checked: those gradients of
  a [128, 32] layer norm differ between 1 and 2 threads, where matmuls, embedding and
  cross-entropy agree), so a student trained on 1 thread and on 2 drifts apart in the last
  digits (measured: eval perplexity 446.36300 vs 446.36306 at one curve point of
  tests/test_ablation_ray.py's tiny ablation).
  A caller that wants a local run's numbers asks for as many CPUs per job as the local run
  has threads (trainer/ablation.py does); a cluster with no node that large is refused with
  that reason rather than silently giving other numbers. GPU kernels do not depend on it.
* Results come back in submission order, whatever order the tasks finish in.
* A job that raises re-raises here as its own exception (a ``TrainerError`` stays one, so the
  CLI's "error:" line is the same as a local run's), not as Ray's ``RayTaskError`` wrapper;
  the tasks not yet finished are cancelled.
* A Ray instance this module started is shut down when the jobs end; one the caller started
  (``ray.init`` before, as a test or a notebook does) is left running.

Ray is an optional extra: it is imported inside the functions only, so the trainer installs and
runs without it.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Callable, Sequence
from types import ModuleType
from typing import Any

from trainer.errors import TrainerError

#: The one message for a missing Ray (``--executor ray`` without the extra installed).
RAY_MISSING = "--executor ray needs Ray: pip install 'corpusclean[ray]'"

#: One job: a module-level function and its positional arguments.
Job = tuple[Callable[..., Any], tuple[Any, ...]]


def require_ray() -> ModuleType:
    """``import ray``, or a TrainerError saying how to install it."""
    try:
        import ray
    except ImportError as exc:
        raise TrainerError(RAY_MISSING) from exc
    return ray


def _run_job(function: Callable[..., Any], args: tuple[Any, ...]) -> Any:
    """The task body: PyTorch threads = this task's CPU share, then the job itself."""
    import ray
    import torch

    share = ray.get_runtime_context().get_assigned_resources().get("CPU", 0.0)
    if share >= 1:
        torch.set_num_threads(int(share))
    return function(*args)


def _unwrap(ray: ModuleType, exc: BaseException) -> BaseException:
    """The job's own exception inside Ray's wrapper, with the remote traceback as a note."""
    cause = getattr(exc, "cause", None)
    if not isinstance(cause, BaseException) or isinstance(cause, ray.exceptions.RayError):
        return exc  # Ray's own failure (a worker died, the cause did not unpickle): keep it
    # str() of Ray's wrapper is the task's traceback (the dual class Ray raises keeps no
    # traceback_str), coloured for a terminal: the colours go.
    remote = re.sub(r"\x1b\[[0-9;]*m", "", str(exc)).strip()
    if remote:
        cause.add_note(f"raised in a Ray task:\n{remote}")
    return cause


def run_jobs(
    jobs: Sequence[Job],
    address: str | None = None,
    num_cpus: int | None = None,
    gpus: bool = True,
    cpus_per_job: int = 1,
    on_done: Callable[[int, Any], None] | None = None,
) -> list[Any]:
    """Run ``jobs`` as Ray tasks; return their results in submission order.

    ``address``: an existing cluster (``auto``, ``ray://HOST:10001``, ``HOST:6379``); None
    starts a local instance with ``num_cpus`` CPUs (default: every core). ``gpus=False`` asks
    for CPUs even where the cluster has GPUs (``--device cpu``); ``cpus_per_job`` is each
    CPU task's share (and PyTorch threads). ``on_done(index, result)`` is called in the driver
    as each job finishes, in finishing order (progress lines).
    """
    ray = require_ray()
    started = not ray.is_initialized()
    if started:
        # The tasks' own output stays in the workers' log files: the driver prints one line
        # per finished job instead. A cluster's warnings are worth seeing; a private local
        # instance's (token authentication, unused dashboard) are not.
        if address:
            ray.init(address=address, log_to_driver=False, logging_level=logging.WARNING)
        else:
            ray.init(
                num_cpus=num_cpus or os.cpu_count() or 1,
                include_dashboard=False,
                log_to_driver=False,
                logging_level=logging.ERROR,
            )
    try:
        if not jobs:
            return []
        has_gpu = gpus and ray.cluster_resources().get("GPU", 0) >= 1
        cpus = 1 if has_gpu else cpus_per_job
        largest = max(
            (n["Resources"].get("CPU", 0.0) for n in ray.nodes() if n.get("Alive")), default=0.0
        )
        if cpus > largest:  # Ray would wait for such a node forever
            raise TrainerError(
                f"each Ray task needs {cpus} CPUs (the threads a local run uses, so that the "
                f"numbers are the same) but the largest node of the cluster has {largest:g}; "
                f"run with OMP_NUM_THREADS={int(largest) or 1} (here and locally alike)"
            )
        task = ray.remote(_run_job).options(num_cpus=cpus, num_gpus=1 if has_gpu else 0)
        refs = [task.remote(function, tuple(args)) for function, args in jobs]
        index = {ref: i for i, ref in enumerate(refs)}
        results: list[Any] = [None] * len(refs)
        pending = list(refs)
        while pending:
            done, pending = ray.wait(pending, num_returns=1)
            for ref in done:
                try:
                    results[index[ref]] = ray.get(ref)
                except ray.exceptions.RayTaskError as exc:
                    for other in pending:
                        ray.cancel(other)
                    raise _unwrap(ray, exc) from None
                if on_done is not None:
                    on_done(index[ref], results[index[ref]])
        return results
    finally:
        if started:
            ray.shutdown()
