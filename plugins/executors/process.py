"""The ``process`` executor: N worker processes on this machine, one torch thread each.

Built on ``concurrent.futures.ProcessPoolExecutor`` with the ``spawn`` (default) or
``forkserver`` start method; ``fork`` is refused because forking a process that already runs
torch threads can deadlock.

Scheduling and failures:

- at most ``workers`` attempts are in flight at once, so every submitted attempt is running on
  a worker (none waits in the pool's queue) and a dead worker can only have hit those;
- a task that raises is resubmitted until it has used ``retries + 1`` attempts;
- a worker that dies (SIGKILL, ``os._exit``, the OOM killer) breaks the whole pool: every
  future still pending fails with ``BrokenProcessPool`` and the pool cannot tell which task
  killed it. The policy: a fresh pool is started; if one task was in flight it is charged one
  attempt (error ``WorkerDied``); if several were, none is charged and they become *suspects*,
  rerun one at a time (nothing else in flight) until each has finished or died alone, so only
  the task that kills its worker is ever charged. Then the pool runs ``workers`` at once again;
- with ``task_timeout`` (seconds per attempt, from its submission: the first attempts on a
  fresh pool include the workers' start-up), an attempt that runs longer is charged one
  attempt (error ``TaskTimeout``) and the pool is stopped and restarted, since a pool cannot
  stop one call; the other attempts it stopped are resubmitted first and not charged.

When the driver dies, its workers follow: each worker runs a watchdog thread that exits the
worker (``os._exit``) within ``PARENT_POLL_S`` seconds of its parent process going away
(SIGKILL, the OOM killer), so no worker keeps computing for nobody or holds the driver's
stdout/stderr open; the multiprocessing resource tracker then exits too (it stops when the
last process holding its pipe is gone). A SIGTERM to the driver, while the executor is open
in its main thread and nobody else handles SIGTERM, raises ``SystemExit(143)`` there: the pool
is stopped (its workers terminated) on the way out, as for Ctrl-C.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from phasebench.errors import UsageError
from phasebench.execution import (
    Captured,
    Outcome,
    RetryLedger,
    TaskError,
    call_in_worker,
    check_picklable,
    check_retries,
    check_task_timeout,
    check_workers,
    init_worker,
    killed_worker_error,
    timed_out_error,
)

START_METHODS = ("spawn", "forkserver")

#: How often (seconds) a worker checks that the process that started it still runs.
PARENT_POLL_S = 0.2
#: The exit status of a driver stopped by SIGTERM (128 + the signal, as a shell reports it).
SIGTERM_EXIT = 128 + signal.SIGTERM


def _driver_is_gone(driver: int, parent: int) -> bool:
    """Whether this worker lost its driver: its parent changed (it was re-parented when the
    parent died; with ``forkserver`` the parent is the fork server, which exits with the
    driver) or the driver's process id no longer exists."""
    if os.getppid() != parent:
        return True
    try:
        os.kill(driver, 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # the id was reused by another user's process: not our driver
        return True
    return False


def _watch_driver(driver: int, parent: int, interval: float) -> None:
    while not _driver_is_gone(driver, parent):
        time.sleep(interval)
    os._exit(1)  # nobody is left to receive this worker's results


def init_process_worker(
    driver: int, spawned_by_driver: bool, interval: float = PARENT_POLL_S
) -> None:
    """Initializer of a ``process`` worker: one thread (``init_worker``) and a daemon thread
    that exits the worker when the driver ``driver`` (a process id) is gone.
    ``spawned_by_driver``: the driver is this worker's parent (``spawn``; with ``forkserver``
    the parent is the fork server)."""
    init_worker()
    parent = os.getppid()
    if spawned_by_driver and parent != driver:
        os._exit(1)  # re-parented before it even started: the driver died
    if _driver_is_gone(driver, parent):
        os._exit(1)
    threading.Thread(
        target=_watch_driver,
        args=(driver, parent, interval),
        name="phasebench-driver-watch",
        daemon=True,
    ).start()


def _terminated(signum: int, frame: object) -> None:
    raise SystemExit(SIGTERM_EXIT)


class ProcessExecutor:
    """A pool of ``workers`` processes, recreated whenever a worker dies."""

    def __init__(
        self,
        *,
        workers: int | None,
        retries: int,
        start_method: str,
        task_timeout: float | None,
    ) -> None:
        self.workers = check_workers(workers, "process")
        self.retries = check_retries(retries)
        self.task_timeout = check_task_timeout(task_timeout, "process")
        if start_method not in START_METHODS:
            raise UsageError(
                f"executor 'process': start_method must be one of {', '.join(START_METHODS)}, "
                f"got {start_method!r}"
            )
        self.start_method = start_method
        self.pools_started = 0
        self._pool: ProcessPoolExecutor | None = None
        self._running: dict[Future[Captured], int] = {}
        self._submitted: dict[Future[Captured], float] = {}  # time.monotonic() at submission
        self._suspects: deque[int] = deque()  # tasks in flight when a worker died
        self._previous_sigterm: Any = None

    @property
    def in_flight(self) -> int:
        return len(self._running)

    def __enter__(self) -> ProcessExecutor:
        self._handle_sigterm()
        self._start_pool()
        return self

    def __exit__(self, *exc_info: object) -> None:
        try:
            self._stop_pool()
        finally:
            self._restore_sigterm()

    def _handle_sigterm(self) -> None:
        """SIGTERM raises SystemExit(143) in the main thread, so ``with`` stops the pool; only
        where SIGTERM still has its default action (an application's own handler is kept)."""
        if threading.current_thread() is not threading.main_thread():
            return
        if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
            self._previous_sigterm = signal.signal(signal.SIGTERM, _terminated)

    def _restore_sigterm(self) -> None:
        if self._previous_sigterm is not None:
            signal.signal(signal.SIGTERM, self._previous_sigterm)
            self._previous_sigterm = None

    def _start_pool(self) -> None:
        self._pool = ProcessPoolExecutor(
            max_workers=self.workers,
            mp_context=multiprocessing.get_context(self.start_method),
            initializer=init_process_worker,
            initargs=(os.getpid(), self.start_method == "spawn"),
        )
        self.pools_started += 1

    def _stop_pool(self, terminate: bool = False) -> None:
        """Shut the pool down; with ``terminate``, kill its workers first (they may be busy)."""
        if self._pool is None:
            return
        if terminate:
            # ProcessPoolExecutor has no public way to stop running calls before Python 3.14.
            for worker in list(getattr(self._pool, "_processes", {}).values()):
                worker.terminate()
        self._pool.shutdown(wait=True, cancel_futures=True)
        self._pool = None

    def submit_all(self, fn: Callable[[Any], Any], tasks: Iterable[Any]) -> Iterator[Outcome]:
        """Run ``fn(task)`` on the workers; yield each task's Outcome as it finishes.

        Call inside ``with``. Closing the iterator early (``close()``, an exception, Ctrl-C)
        terminates the workers that still run attempts; the executor can be used again.
        """
        if self._pool is None:
            raise RuntimeError("use the process executor inside 'with': with make() as ex: ...")
        check_picklable(fn, "process")
        ledger = RetryLedger(list(tasks), self.retries)
        waiting = deque(range(len(ledger.tasks)))
        running = self._running
        self._suspects.clear()
        try:
            self._refill(fn, ledger, waiting)
            while running:
                done, _ = wait(list(running), self._time_left(), return_when=FIRST_COMPLETED)
                if any(isinstance(f.exception(), BrokenProcessPool) for f in done):
                    # The pool is dead: every pending future fails at once; collect them all.
                    done, _ = wait(list(running))
                finished: list[Outcome] = []
                casualties: list[int] = []
                for future in done:
                    index = running.pop(future)
                    self._submitted.pop(future, None)
                    exc = future.exception()
                    if isinstance(exc, BrokenProcessPool):
                        casualties.append(index)
                        continue
                    if exc is None:
                        captured = future.result()
                    else:  # the attempt never ran fn: pickling, an unimportable module...
                        captured = Captured(ok=False, error=TaskError.from_exception(exc))
                    self._settle(ledger, index, captured, waiting, finished)
                if len(casualties) == 1:  # it ran alone or beside finished work: it is the one
                    error = killed_worker_error(
                        "the worker process running this task died (killed by a signal, "
                        "os._exit or out of memory)"
                    )
                    self._settle(
                        ledger, casualties[0], Captured(False, error=error), waiting, finished
                    )
                elif casualties:  # which one killed the pool? rerun each alone, uncharged
                    self._suspects.extend(casualties)
                overdue = self._overdue()
                if casualties:
                    self._restart_pool()
                elif overdue:
                    self._stop_overdue(overdue, ledger, waiting, finished)
                self._refill(fn, ledger, waiting)  # before yielding: workers stay busy
                yield from finished
        finally:
            if running:  # closed early (an error, Ctrl-C, the caller stopped): stop the work
                running.clear()
                self._submitted.clear()
                self._restart_pool(terminate=True)

    def _refill(self, fn: Callable[[Any], Any], ledger: RetryLedger, waiting: deque[int]) -> None:
        """Submit waiting tasks until ``workers`` attempts are in flight; while there are
        suspects, run them one at a time and nothing beside them."""
        while True:
            queue = self._suspects if self._suspects else waiting
            limit = 1 if self._suspects else self.workers
            if not queue or len(self._running) >= limit:
                return
            assert self._pool is not None
            index = queue[0]
            try:
                future = self._pool.submit(call_in_worker, fn, ledger.tasks[index])
            except BrokenProcessPool:
                if self._running:  # their futures fail too; the wait loop restarts the pool
                    return
                self._restart_pool()
                continue
            queue.popleft()
            ledger.start(index)
            self._running[future] = index
            self._submitted[future] = time.monotonic()

    def _time_left(self) -> float | None:
        """Seconds until the earliest attempt in flight runs over ``task_timeout`` (None: no
        limit)."""
        if self.task_timeout is None or not self._submitted:
            return None
        first = min(self._submitted.values())
        return max(first + self.task_timeout - time.monotonic(), 0.0)

    def _overdue(self) -> list[Future[Captured]]:
        if self.task_timeout is None:
            return []
        now = time.monotonic()
        return [f for f, t in self._submitted.items() if now - t >= self.task_timeout]

    def _stop_overdue(
        self,
        overdue: list[Future[Captured]],
        ledger: RetryLedger,
        waiting: deque[int],
        finished: list[Outcome],
    ) -> None:
        """Charge every overdue attempt a TaskTimeout, stop the pool (the only way to stop a
        running call) and put the attempts it stopped beside them first in line, uncharged."""
        assert self.task_timeout is not None
        stopped = [index for future, index in self._running.items() if future not in overdue]
        for future in overdue:
            index = self._running[future]
            self._settle(
                ledger,
                index,
                Captured(False, error=timed_out_error(self.task_timeout)),
                waiting,
                finished,
            )
        self._running.clear()
        self._submitted.clear()
        self._restart_pool(terminate=True)
        waiting.extendleft(reversed(stopped))

    def _restart_pool(self, terminate: bool = False) -> None:
        self._stop_pool(terminate)
        self._start_pool()

    @staticmethod
    def _settle(
        ledger: RetryLedger,
        index: int,
        captured: Captured,
        waiting: deque[int],
        finished: list[Outcome],
    ) -> None:
        outcome = ledger.resolve(index, captured)
        if outcome is None:
            waiting.append(index)
        else:
            finished.append(outcome)
