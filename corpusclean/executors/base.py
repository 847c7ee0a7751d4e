"""The executor contract: run a stage of tasks, yield results in task order.

A :data:`Task` is ``(function, args)``: a module-level function (so it pickles by name) and
picklable arguments. A :data:`Setup` is the same shape, run in a worker before a task when
the worker has not run that very setup yet (:func:`call_task`): a pass's steps are built and
their models loaded once per worker process, not once per batch, and a Ray worker that runs
tasks of several passes rebuilds only when the pass changes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any, Protocol, TypeAlias

Task: TypeAlias = tuple[Callable[..., Any], tuple[Any, ...]]
Setup: TypeAlias = tuple[Callable[..., Any], tuple[Any, ...]]

#: The last setup this process ran, so a worker sets up once per pass, whatever runs it.
_done_setup: Setup | None = None


def call_task(setup: Setup | None, function: Callable[..., Any], args: tuple[Any, ...]) -> Any:
    """Run ``setup`` unless this process already ran an equal one, then the task."""
    global _done_setup
    if setup is not None and setup != _done_setup:
        setup[0](*setup[1])
        _done_setup = setup
    return function(*args)


class Executor(Protocol):
    """Runs stages of tasks; a context manager that owns its workers for one run."""

    #: Tasks that may run at once (worker processes, or Ray CPU slots asked for).
    workers: int
    #: ``ray`` or ``local``: recorded in stats.json.
    name: str
    #: True when input files are read in tasks (one task per input file); False when the
    #: driver reads them and ships batches (the local pool: any file, even one, spreads over
    #: every worker).
    reads_in_tasks: bool

    def run(self, tasks: Iterable[Task], setup: Setup | None = None) -> Iterator[Any]:
        """Results of ``tasks`` in task order, with a bounded number in flight."""
        ...

    def __enter__(self) -> Executor: ...

    def __exit__(self, *exc: object) -> None: ...
