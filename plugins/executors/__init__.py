"""Built-in executors: what runs the independent probe tasks of a sweep.

``local`` runs them in this process, ``process`` on worker processes of this machine, ``dask``
on a Dask cluster (a LocalCluster, or a running scheduler such as a dask-jobqueue SLURM one).
All share ``phasebench.execution``: the same Outcome records and the same retry policy.
"""

from phasebench import Option, hookimpl

_RETRIES = Option("retries", 2, "attempts beyond the first before a task is failed", ge=0)
_WORKERS = Option("workers", None, "worker processes (none: one per core)", type=int, ge=1)


@hookimpl
def register_executors(register):
    register(
        "local",
        "phasebench_builtins.executors.local:LocalExecutor",
        description="in this process, one task after another (one torch thread)",
        options=[_RETRIES, Option("single_thread", True, "run torch on one thread meanwhile")],
    )
    register(
        "process",
        "phasebench_builtins.executors.process:ProcessExecutor",
        description="worker processes on this machine, one torch thread each; task_timeout "
        "(seconds) stops an attempt that runs longer",
        options=[
            _WORKERS,
            _RETRIES,
            Option("start_method", "spawn", "how workers start", choices=("spawn", "forkserver")),
            Option(
                "task_timeout",
                None,
                "seconds an attempt may run (none: no limit)",
                type=float,
                gt=0,
            ),
        ],
    )
    register(
        "dask",
        "phasebench_builtins.executors.dask:DaskExecutor",
        description="a Dask cluster: a LocalCluster or a running scheduler (the dask extra)",
        options=[
            Option(
                "scheduler", None, "a running scheduler's address (none: a LocalCluster)", type=str
            ),
            _WORKERS,
            Option("threads_per_worker", 1, "threads of each LocalCluster worker", ge=1),
            _RETRIES,
            Option("connect_timeout", 10.0, "seconds to reach the scheduler", gt=0),
            Option("dashboard_address", None, "LocalCluster dashboard (none: off)", type=str),
        ],
    )
