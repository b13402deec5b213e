"""What every executor shares: the outcome of a task, the retry ledger, the worker-side wrapper.

An executor (``register_executors`` in ``phasebench.hookspecs``) runs ``fn(task)`` for many
tasks and yields one :class:`Outcome` per task as it finishes. The executors differ only in
where the calls run; they share everything here, so a task that raises, or whose worker dies,
is handled the same way whichever executor ran it:

- a worker calls :func:`call_in_worker`, which sets torch to one thread, runs ``fn(task)`` and
  returns a :class:`Captured` result instead of raising, so user exceptions never need to be
  picklable;
- the driver keeps a :class:`RetryLedger`: each failed attempt (an exception, a dead worker) is
  charged to its task; a task is resubmitted until it has used ``retries + 1`` attempts, then
  reported as failed. The other tasks continue.

Nothing here imports torch, dask or a built-in plugin.
"""

from __future__ import annotations

import math
import os
import pickle
import sys
import traceback
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from phasebench.errors import UsageError

#: Environment variables that make BLAS/OpenMP (and so torch, when imported afterwards) use one
#: thread. Process-based executors set them in every worker before any task module is imported.
SINGLE_THREAD_ENV: dict[str, str] = {
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
}


@dataclass(frozen=True)
class TaskError:
    """Why an attempt failed: the exception's type name, its message and the traceback text."""

    type: str
    message: str
    traceback: str = ""

    @classmethod
    def from_exception(cls, exc: BaseException) -> TaskError:
        text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        return cls(type=type(exc).__name__, message=str(exc), traceback=text)

    def line(self) -> str:
        """``ValueError: bad width`` — one line for logs and progress displays."""
        first = self.message.strip().splitlines()[0] if self.message.strip() else ""
        return f"{self.type}: {first}" if first else self.type


@dataclass(frozen=True)
class Outcome:
    """The final result of one task.

    ``index`` is the task's position in the ``tasks`` given to ``submit_all`` and ``task`` the
    task itself. ``ok`` says whether an attempt succeeded; then ``value`` is what ``fn(task)``
    returned and ``error`` is None. Otherwise ``value`` is None and ``error`` describes the last
    failed attempt. ``attempts`` counts the attempts made (1 when the first one succeeded).
    """

    index: int
    task: Any
    ok: bool
    value: Any = None
    error: TaskError | None = None
    attempts: int = 1


@dataclass(frozen=True)
class Captured:
    """What a worker sends back for one attempt: the value, or the error it raised."""

    ok: bool
    value: Any = None
    error: TaskError | None = None


@runtime_checkable
class Executor(Protocol):
    """The interface of every executor component (see ``register_executors``)."""

    def __enter__(self) -> Executor: ...

    def __exit__(self, *exc_info: object) -> None: ...

    @property
    def in_flight(self) -> int:
        """Attempts handed to workers and not finished yet (for a progress display)."""
        ...

    def submit_all(self, fn: Callable[[Any], Any], tasks: Iterable[Any]) -> Iterator[Outcome]:
        """Run ``fn(task)`` for every task; yield each task's :class:`Outcome` as it finishes."""
        ...


def check_retries(retries: object) -> int:
    """``retries`` as an int >= 0, or a one-line UsageError."""
    if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
        raise UsageError(f"retries must be an integer >= 0, got {retries!r}")
    return retries


def check_positive_int(value: object, name: str, executor: str, hint: str = "") -> int:
    """``value`` as an int >= 1, or a one-line UsageError naming the option."""
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise UsageError(
            f"executor {executor!r}: {name} must be an integer >= 1, got {value!r}{hint}"
        )
    return value


def check_workers(workers: object, executor: str) -> int:
    """``workers`` (None: the core count) as an int >= 1, or a one-line UsageError."""
    if workers is None:
        return os.cpu_count() or 1
    return check_positive_int(workers, "workers", executor, "; leave it unset to use every core")


class RetryLedger:
    """The driver's bookkeeping of attempts: which tasks to retry and which are done.

    Every attempt that fails, for whatever reason, is charged to its task through
    :meth:`failed`; a task gets at most ``retries + 1`` attempts. The ledger never runs
    anything: executors ask it what to do with each finished attempt.
    """

    def __init__(self, tasks: list[Any], retries: int) -> None:
        self.tasks = tasks
        self.max_attempts = check_retries(retries) + 1
        self.attempts = [0] * len(tasks)  # attempts started (what an Outcome reports)
        self.charged = [0] * len(tasks)  # failed attempts charged to the task itself

    def start(self, index: int) -> int:
        """Record that an attempt of task ``index`` starts; returns its attempt number (1, 2...)."""
        self.attempts[index] += 1
        return self.attempts[index]

    def succeeded(self, index: int, value: Any) -> Outcome:
        return Outcome(index, self.tasks[index], True, value, None, self.attempts[index])

    def failed(self, index: int, error: TaskError) -> Outcome | None:
        """Charge a failed attempt; the task's final Outcome when it has used its
        ``retries + 1`` charges, or None: resubmit it."""
        self.charged[index] += 1
        if self.charged[index] < self.max_attempts:
            return None
        return Outcome(index, self.tasks[index], False, None, error, self.attempts[index])

    def resolve(self, index: int, captured: Captured) -> Outcome | None:
        """The Outcome for a finished attempt, or None when the task must be resubmitted."""
        if captured.ok:
            return self.succeeded(index, captured.value)
        assert captured.error is not None
        return self.failed(index, captured.error)


def limit_torch_threads() -> None:
    """Make torch (when it is imported in this process) use one intra-op thread.

    Cheap to call before every task: it does nothing until torch is imported, and then only
    when the count is not already one. It never imports torch itself.
    """
    torch = sys.modules.get("torch")
    if torch is not None and torch.get_num_threads() != 1:
        torch.set_num_threads(1)


def init_worker() -> None:
    """Initializer of a worker process: one thread for BLAS/OpenMP and torch."""
    os.environ.update(SINGLE_THREAD_ENV)
    limit_torch_threads()


def call_captured(fn: Callable[[Any], Any], task: Any) -> Captured:
    """Run one attempt of ``fn(task)``, returning its value or the error it raised.

    An ``Exception`` becomes a :class:`Captured` error (type, message, traceback text), so it
    travels back even when the exception itself cannot be pickled. Anything that kills the
    process is the executor's to detect.
    """
    try:
        value = fn(task)
    except Exception as exc:  # noqa: BLE001 - every task error is reported, not raised
        return Captured(ok=False, error=TaskError.from_exception(exc))
    return Captured(ok=True, value=value)


def call_in_worker(fn: Callable[[Any], Any], task: Any) -> Captured:
    """:func:`call_captured` in a worker process: torch limited to one thread first."""
    limit_torch_threads()
    return call_captured(fn, task)


def killed_worker_error(detail: str) -> TaskError:
    """The error charged to a task whose worker process died while it was in flight."""
    return TaskError(type="WorkerDied", message=detail)


def check_task_timeout(value: object, executor: str) -> float | None:
    """``value`` (seconds per attempt; None: no limit) as a float > 0, or a one-line error."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value < math.inf:
        raise UsageError(
            f"executor {executor!r}: task_timeout must be a number of seconds > 0, or null for "
            f"no limit, got {value!r}"
        )
    return float(value)


def timed_out_error(timeout: float) -> TaskError:
    """The error charged to an attempt that ran longer than ``task_timeout``."""
    return TaskError(
        type="TaskTimeout",
        message=f"the attempt ran longer than task_timeout={timeout:g} s; its worker was stopped",
    )


def describe_callable(fn: Callable[..., Any]) -> str:
    """``package.module:function`` for messages."""
    module = getattr(fn, "__module__", None) or "?"
    name = getattr(fn, "__qualname__", None) or repr(fn)
    return f"{module}:{name}"


def check_picklable(fn: Callable[..., Any], executor: str) -> None:
    """A one-line UsageError unless ``fn`` pickles (by reference) for other processes."""
    try:
        pickle.dumps(fn)
    except Exception as exc:  # noqa: BLE001 - any pickling failure means the same thing
        raise UsageError(
            f"executor {executor!r} cannot send {describe_callable(fn)} to worker processes "
            f"({type(exc).__name__}: {exc}); pass a top-level function of an importable module"
        ) from None
