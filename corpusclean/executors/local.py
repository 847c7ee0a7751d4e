"""The local executor: ``spawn``-ed worker processes on this machine (or none, with one worker).

One pool lives for the whole run (starting a spawned worker costs about a second of imports,
paid once, not per pass). At most ``2 x workers`` tasks are in flight, so a driver that reads
the input ahead of the workers holds a bounded number of batches. With ``workers == 1`` tasks
run in the calling process: no pickling, no second interpreter.
"""

from __future__ import annotations

import multiprocessing
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from typing import Any

from corpusclean.executors.base import Setup, Task, call_task


def _watch_parent() -> None:
    """Pool initializer: end the worker when the run's process dies (see worker.py)."""
    from corpusclean.worker import start_parent_watch

    start_parent_watch()


class LocalExecutor:
    name = "local"
    reads_in_tasks = False

    def __init__(self, workers: int) -> None:
        self.workers = max(1, workers)
        self._pool: ProcessPoolExecutor | None = None

    def __enter__(self) -> LocalExecutor:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def _get_pool(self) -> ProcessPoolExecutor:
        if self._pool is None:
            self._pool = ProcessPoolExecutor(
                max_workers=self.workers,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_watch_parent,
            )
        return self._pool

    def run(self, tasks: Iterable[Task], setup: Setup | None = None) -> Iterator[Any]:
        if self.workers == 1:
            for function, args in tasks:
                yield call_task(setup, function, args)
            return
        pool = self._get_pool()
        in_flight: deque[Future[Any]] = deque()
        for function, args in tasks:
            in_flight.append(pool.submit(call_task, setup, function, args))
            while len(in_flight) >= 2 * self.workers:
                yield in_flight.popleft().result()
        while in_flight:
            yield in_flight.popleft().result()
