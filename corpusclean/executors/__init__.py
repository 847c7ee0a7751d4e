"""Where the engine's tasks run: this machine's worker processes, or a Ray cluster.

The engine cuts a run into stages of independent tasks (a module-level function and its
picklable arguments: a batch to clean, an input file to read and clean, a partition of a
corpus-wide group-by, a part to tokenize) and hands each stage to an :class:`Executor`, which
runs them and yields their results in task order. Every task writes its output under names
that depend only on the input, so what lands in the output folder does not depend on the
executor, the worker count, or the order in which tasks finish (docs/scaling.md).

* :mod:`~corpusclean.executors.local`: a pool of ``spawn``-ed worker processes (Polars'
  thread pool must never be forked), or the calling process with one worker.
* :mod:`~corpusclean.executors.ray_cluster`: Ray Core tasks on a local Ray instance or a
  cluster (``--executor ray [--address auto|HOST:PORT]``); Ray is an optional extra.
"""

from __future__ import annotations

from corpusclean.executors.base import Executor, Setup, Task, call_task

EXECUTORS = ("local", "ray")

__all__ = ["EXECUTORS", "Executor", "Setup", "Task", "call_task", "make_executor"]


def make_executor(name: str, workers: int, address: str | None = None) -> Executor:
    """The executor called ``name`` (``local`` or ``ray``) with ``workers`` tasks at once."""
    if name == "local":
        if address is not None:
            raise ValueError("--address is for --executor ray")
        from corpusclean.executors.local import LocalExecutor

        return LocalExecutor(workers)
    if name == "ray":
        from corpusclean.executors.ray_cluster import RayExecutor

        return RayExecutor(workers, address)
    raise ValueError(f"unknown executor {name!r}: choose one of {', '.join(EXECUTORS)}")
