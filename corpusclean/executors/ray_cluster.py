"""The Ray executor: every task a Ray Core task, on a local Ray instance or a cluster.

Why Ray Core tasks and not Ray Data: the engine's unit is already a task with a name that
depends only on the input (an input file to read and clean, a part to clean, a partition of a
group-by, a part to tokenize), and its outputs are files in the output folder. Tasks keep that
exact: Ray schedules them, retries them when a worker process or node dies (``max_retries``;
a retried task rewrites the same files, atomically), and nothing of ours runs a scheduler.
Ray Data would re-batch the documents and move them through the object store, which is what
makes byte-identity with the local executor hard and costs a copy per stage.

Every node must see the output folder at the same path (a shared filesystem: NFS, Lustre,
a FUSE mount of object storage; docs/scaling.md), and have corpusclean installed.

``--address`` ``auto`` (or ``HOST:PORT``) joins a running cluster; without it a local Ray
instance is started with ``workers`` CPUs, no dashboard, and shut down at the end.
"""

from __future__ import annotations

import logging
import os
from collections import deque
from collections.abc import Iterable, Iterator
from typing import Any

from corpusclean.executors.base import Setup, Task, call_task

#: How many times Ray reruns a task whose worker process died (SIGKILL, OOM, node loss).
MAX_RETRIES = 3


class RayMissing(RuntimeError):
    """Ray is not installed: it is an optional extra."""


def _import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise RayMissing("--executor ray needs Ray: pip install 'corpusclean[ray]'") from None
    return ray


class RayExecutor:
    name = "ray"
    reads_in_tasks = True

    def __init__(self, workers: int, address: str | None = None) -> None:
        self.ray = _import_ray()
        self.address = address
        self._started = False
        self.workers = max(0, workers)

    def __enter__(self) -> RayExecutor:
        ray = self.ray
        if not ray.is_initialized():
            os.environ.setdefault("RAY_DEDUP_LOGS", "0")
            kwargs: dict[str, Any] = {
                "include_dashboard": False,
                "logging_level": logging.WARNING,
                "configure_logging": True,
                "log_to_driver": True,
            }
            if self.address is None:
                kwargs["num_cpus"] = self.workers or (os.cpu_count() or 1)
            else:
                kwargs["address"] = self.address
            ray.init(**kwargs)
            self._started = True
        if self.workers == 0:
            self.workers = max(1, int(ray.cluster_resources().get("CPU", 1)))
        self._remote = ray.remote(num_cpus=1, max_retries=MAX_RETRIES)(call_task)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._started:
            self.ray.shutdown()
            self._started = False

    def _get(self, ref: Any) -> Any:
        try:
            return self.ray.get(ref)
        except self.ray.exceptions.RayTaskError as exc:
            cause = exc.cause if isinstance(exc.cause, BaseException) else None
            if cause is not None:  # the task's own exception, as the local executor raises it
                raise cause from None
            raise

    def run(self, tasks: Iterable[Task], setup: Setup | None = None) -> Iterator[Any]:
        in_flight: deque[Any] = deque()
        for function, args in tasks:
            # named after the function: ``ray::process_split`` in ps, Ray's state API, logs
            task = self._remote.options(name=function.__name__)
            in_flight.append(task.remote(setup, function, args))
            while len(in_flight) >= 2 * self.workers:
                yield self._get(in_flight.popleft())
        while in_flight:
            yield self._get(in_flight.popleft())
