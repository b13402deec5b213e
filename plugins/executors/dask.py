"""The ``dask`` executor: tasks on a Dask distributed cluster, local or remote.

By default it starts a ``LocalCluster`` of ``workers`` processes (one thread each, on loopback);
with ``scheduler="tcp://host:port"`` it connects to a running scheduler instead (one started by
dask-jobqueue on SLURM, see ``docs/cluster.md`` and ``phasebench_builtins.executors.slurm``).
dask is an optional extra: ``pip install 'phasebench[dask]'``.

Every task is one ``client.submit(call_in_worker, fn, task, pure=False, retries=0)``; retries
are the driver's, with the same :class:`phasebench.execution.RetryLedger` as the other
executors, so a failed or killed attempt is handled alike:

- a task that raises comes back as a captured error and is resubmitted while it has attempts;
- a worker that dies makes the scheduler fail its tasks with ``KilledWorker`` once they have
  been on ``allowed-failures + 1`` dead workers. The LocalCluster's scheduler gets
  ``allowed_failures=0`` and ``worker-saturation 1.0`` (a worker holds only the tasks its
  threads run), so a death charges one attempt to exactly the tasks that were running on it,
  as in the ``process`` executor. A remote scheduler keeps its own settings (dask's default
  retries a task on 3 dead workers first); each KilledWorker costs one attempt here.

Connecting to a running scheduler is bounded by ``connect_timeout`` end to end: a handshake
probe (:func:`probe_scheduler`) runs first, since distributed bounds the TCP connect but not
the handshake read, so a listener that accepts and never answers would hang ``Client``.

Workers use one torch thread: dask's nanny sets ``OMP_NUM_THREADS=1`` (its default
``distributed.nanny.pre-spawn-environ``) and ``call_in_worker`` calls
``torch.set_num_threads(1)`` before every task, on remote workers too.
"""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from phasebench.errors import UsageError
from phasebench.execution import (
    Captured,
    Outcome,
    RetryLedger,
    TaskError,
    call_in_worker,
    check_positive_int,
    check_retries,
    check_workers,
    killed_worker_error,
)

INSTALL_HINT = "pip install 'phasebench[dask]'"
#: Seconds the handshake probe may run past ``connect_timeout`` (distributed's own connect
#: gives up first when nothing listens, with its clearer message).
PROBE_GRACE_S = 1.0


class _NoHandshake(Exception):
    """Something accepted the connection but did not answer dask's handshake in time."""


def probe_scheduler(address: str, timeout: float) -> None:
    """Connect to the scheduler at ``address`` and exchange the handshake within ``timeout``
    seconds, or raise: OSError (nothing reachable there), :class:`_NoHandshake` (something
    listens but does not speak dask: distributed's ``connect`` bounds the TCP connect, not the
    handshake read, so a silent listener would hang ``Client`` for ever).

    The exchange runs under ``asyncio.wait_for`` on an event loop of its own, in a thread of
    its own (the caller may be inside a running loop, a notebook's say)."""
    from distributed.comm import connect

    async def exchange() -> None:
        attempt = connect(address, timeout=timeout)
        try:
            comm = await asyncio.wait_for(attempt, timeout + PROBE_GRACE_S)
        except asyncio.TimeoutError:  # not an OSError before Python 3.11
            raise _NoHandshake() from None
        await comm.close()

    failure: list[BaseException] = []

    def run() -> None:
        try:
            asyncio.run(exchange())
        except BaseException as exc:  # noqa: BLE001 - handed to the caller's thread
            failure.append(exc)

    thread = threading.Thread(target=run, name="phasebench-dask-probe", daemon=True)
    thread.start()
    thread.join(timeout + 3 * PROBE_GRACE_S)  # wait_for ends it first; this is a backstop
    if thread.is_alive():
        raise _NoHandshake()
    if failure:
        raise failure[0]


def import_distributed() -> Any:
    """``dask.distributed``, or a one-line UsageError saying how to install it."""
    try:
        import distributed
    except ImportError as exc:
        raise UsageError(
            f"executor 'dask' needs dask.distributed, which is not installed ({exc}); "
            f"install it with: {INSTALL_HINT}"
        ) from None
    return distributed


class DaskExecutor:
    """A dask ``Client`` opened on enter and closed (with its LocalCluster, if any) on exit."""

    def __init__(
        self,
        *,
        scheduler: str | None,
        workers: int | None,
        threads_per_worker: int,
        retries: int,
        connect_timeout: float,
        dashboard_address: str | None,
    ) -> None:
        self.scheduler = scheduler
        self.workers = check_workers(workers, "dask")
        self.threads_per_worker = check_positive_int(
            threads_per_worker, "threads_per_worker", "dask"
        )
        self.retries = check_retries(retries)
        if not isinstance(connect_timeout, int | float) or connect_timeout <= 0:
            raise UsageError(
                f"executor 'dask': connect_timeout must be a number of seconds > 0, "
                f"got {connect_timeout!r}"
            )
        self.connect_timeout = float(connect_timeout)
        self.dashboard_address = dashboard_address
        self.client: Any = None
        self.cluster: Any = None
        self._running: dict[Any, int] = {}

    @property
    def in_flight(self) -> int:
        """Attempts submitted and not finished, including those queued on the scheduler."""
        return len(self._running)

    def __enter__(self) -> DaskExecutor:
        distributed = import_distributed()
        if self.scheduler:
            self.client = self._connect(distributed, self.scheduler)
        else:
            self.cluster = self._local_cluster(distributed)
            self.client = distributed.Client(self.cluster, timeout=self.connect_timeout)
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self.client is not None:
            self.client.close()
            self.client = None
        if self.cluster is not None:
            self.cluster.close()
            self.cluster = None

    def _connect(self, distributed: Any, address: str) -> Any:
        try:
            probe_scheduler(address, self.connect_timeout)
            return distributed.Client(address, timeout=self.connect_timeout)
        except _NoHandshake:
            raise UsageError(
                f"the dask scheduler at {address!r} accepted the connection but did not answer "
                f"within {self.connect_timeout:g} s; check that the address (tcp://host:port) "
                "is a dask scheduler's, not another service's"
            ) from None
        except (OSError, ValueError) as exc:  # TimeoutError is an OSError
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise UsageError(
                f"cannot reach the dask scheduler at {address!r} within "
                f"{self.connect_timeout:g} s ({reason}); check the address "
                "(tcp://host:port) and that the scheduler is running"
            ) from None

    def _local_cluster(self, distributed: Any) -> Any:
        import dask

        with dask.config.set({"distributed.scheduler.worker-saturation": 1.0}):
            return distributed.LocalCluster(
                n_workers=self.workers,
                threads_per_worker=self.threads_per_worker,
                processes=True,
                host="127.0.0.1",
                dashboard_address=self.dashboard_address,
                scheduler_kwargs={"allowed_failures": 0},
            )

    def submit_all(self, fn: Callable[[Any], Any], tasks: Iterable[Any]) -> Iterator[Outcome]:
        """Submit every task; yield each task's Outcome as it finishes.

        Call inside ``with``. Closing the iterator early cancels the attempts not finished.
        """
        if self.client is None:
            raise RuntimeError("use the dask executor inside 'with': with make() as ex: ...")
        distributed = import_distributed()
        ledger = RetryLedger(list(tasks), self.retries)
        prefix = f"{getattr(fn, '__name__', 'task')}-{uuid.uuid4().hex[:8]}"
        running = self._running
        pending = distributed.as_completed()

        def submit(index: int) -> None:
            attempt = ledger.start(index)
            future = self.client.submit(
                call_in_worker,
                fn,
                ledger.tasks[index],
                key=f"{prefix}-{index}-{attempt}",
                pure=False,
                retries=0,
            )
            running[future] = index
            pending.add(future)

        try:
            for index in range(len(ledger.tasks)):
                submit(index)
            for future in pending:
                index = running.pop(future)
                outcome = ledger.resolve(index, self._captured(distributed, future))
                future.release()
                if outcome is None:
                    submit(index)
                else:
                    yield outcome
        finally:
            if running and self.client is not None:
                self.client.cancel(list(running))
            running.clear()

    @staticmethod
    def _captured(distributed: Any, future: Any) -> Captured:
        """What one finished dask future says about its attempt."""
        if future.status == "finished":
            return future.result()
        if future.status == "cancelled":
            error = TaskError("Cancelled", "the scheduler cancelled this attempt")
            return Captured(ok=False, error=error)
        exc = future.exception()
        if isinstance(exc, distributed.KilledWorker):
            return Captured(ok=False, error=killed_worker_error(f"dask: {exc}"))
        return Captured(ok=False, error=TaskError.from_exception(exc))
