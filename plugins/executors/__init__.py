"""Built-in executors: what runs the independent probe tasks of a sweep.

``local`` runs them in this process, ``process`` on worker processes of this machine, ``dask``
on a Dask cluster (a LocalCluster, or a running scheduler such as a dask-jobqueue SLURM one).
All share ``phasebench.execution``: the same Outcome records and the same retry policy.
"""

from phasebench import hookimpl


@hookimpl
def register_executors(register):
    register(
        "local",
        "phasebench_builtins.executors.local:make",
        description="in this process, one task after another (one torch thread)",
        defaults={"retries": 2, "single_thread": True},
    )
    register(
        "process",
        "phasebench_builtins.executors.process:make",
        description="worker processes on this machine, one torch thread each; task_timeout "
        "(seconds) stops an attempt that runs longer",
        defaults={"workers": None, "retries": 2, "start_method": "spawn", "task_timeout": None},
    )
    register(
        "dask",
        "phasebench_builtins.executors.dask:make",
        description="a Dask cluster: a LocalCluster or a running scheduler (the dask extra)",
        defaults={
            "scheduler": None,
            "workers": None,
            "threads_per_worker": 1,
            "retries": 2,
            "connect_timeout": 10.0,
            "dashboard_address": None,
        },
    )
