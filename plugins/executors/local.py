"""The ``local`` executor: every task in this process, one after another, retries included.

Nothing is pickled, so ``fn`` may be any callable. A task that kills the process kills the
driver too; use ``process`` or ``dask`` when that can happen.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

from phasebench.execution import Outcome, RetryLedger, call_captured


class LocalExecutor:
    """Runs ``fn(task)`` in the calling process.

    With ``single_thread`` (the default) torch uses one thread while tasks run, as in every
    worker of the other executors, so a task gives bit-for-bit the same numbers whichever
    executor ran it; the previous thread count is restored on exit.
    """

    def __init__(self, *, retries: int, single_thread: bool) -> None:
        self.retries = retries
        self.single_thread = single_thread
        self._saved_threads: int | None = None
        self._running = 0
        RetryLedger([], retries)  # validates retries now, not at the first task

    @property
    def in_flight(self) -> int:
        return self._running

    def __enter__(self) -> LocalExecutor:
        if self.single_thread:
            import torch

            self._saved_threads = torch.get_num_threads()
            torch.set_num_threads(1)
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._saved_threads is not None:
            import torch

            torch.set_num_threads(self._saved_threads)
            self._saved_threads = None

    def submit_all(self, fn: Callable[[Any], Any], tasks: Iterable[Any]) -> Iterator[Outcome]:
        ledger = RetryLedger(list(tasks), self.retries)
        for index in range(len(ledger.tasks)):
            while True:
                ledger.start(index)
                self._running = 1
                try:
                    captured = call_captured(fn, ledger.tasks[index])
                finally:
                    self._running = 0
                outcome = ledger.resolve(index, captured)
                if outcome is not None:
                    yield outcome
                    break
