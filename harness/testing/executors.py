"""The executor check: one ``Outcome`` per task, failures retried and reported, nothing left
in flight. Its task function lives here, importable, so worker processes find it."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from phasebench.errors import UsageError
from phasebench.testing.common import PASSED, ConformanceError, _require


def _square(task: int) -> int:
    """The executor check's task function: ``task ** 2``; a negative task raises ValueError."""
    if task < 0:
        raise ValueError(f"negative task {task}")
    return task * task


EXECUTOR_TASKS = (3, 0, -1, 2, 5)


def check_executor(
    make: Callable[..., Any],
    options: Mapping[str, Any] | None = None,
    label: str = "executor",
    defaults: Mapping[str, Any] | None = None,
) -> str:
    """``make(**options)`` gives a context manager with ``submit_all(fn, tasks)`` that yields
    exactly one ``phasebench.execution.Outcome`` per task (``index``, ``task``, the value of
    ``fn(task)``); a task that raises is reported failed after ``retries + 1`` attempts while
    the others succeed; ``in_flight`` is 0 when done; ``workers=0`` is a UsageError.
    ``defaults`` (the registration's) decide which options are passed: ``workers=1`` and
    ``retries=1`` when declared."""
    from phasebench.execution import Outcome, TaskError

    declared = dict(defaults or {})
    options = dict(options or {})
    if "workers" in declared:
        options.setdefault("workers", 1)
        try:
            make(**{**options, "workers": 0})
        except UsageError:
            pass
        else:
            raise ConformanceError(f"{label}: make(workers=0) must raise a one-line UsageError")
    if "retries" in declared:
        options.setdefault("retries", 1)
    retries = options.get("retries")
    tasks = list(EXECUTOR_TASKS)
    with make(**options) as executor:
        outcomes = list(executor.submit_all(_square, tasks))
        in_flight = executor.in_flight
    _require(
        all(isinstance(o, Outcome) for o in outcomes),
        label,
        "submit_all must yield phasebench.execution.Outcome objects",
    )
    indices = sorted(o.index for o in outcomes)
    _require(
        indices == list(range(len(tasks))),
        label,
        f"submit_all over {len(tasks)} tasks yielded outcomes for indices {indices}",
    )
    for outcome in outcomes:
        task = tasks[outcome.index]
        where = f"{label} (task {outcome.index}: {task})"
        _require(outcome.task == task, where, f"outcome.task is {outcome.task!r}")
        if task >= 0:
            _require(
                outcome.ok and outcome.value == task * task and outcome.error is None,
                where,
                f"expected ok with value {task * task}, got ok={outcome.ok} "
                f"value={outcome.value!r} error={outcome.error!r}",
            )
            _require(outcome.attempts == 1, where, f"{outcome.attempts} attempts for a success")
        else:
            _require(
                not outcome.ok
                and isinstance(outcome.error, TaskError)
                and outcome.error.type == "ValueError",
                where,
                f"a task that raises ValueError must be reported failed with a TaskError, got "
                f"ok={outcome.ok} error={outcome.error!r}",
            )
            if isinstance(retries, int):
                _require(
                    outcome.attempts == retries + 1,
                    where,
                    f"{outcome.attempts} attempts with retries={retries}; expected {retries + 1}",
                )
    _require(in_flight == 0, label, f"in_flight is {in_flight} after every task finished")
    return PASSED
