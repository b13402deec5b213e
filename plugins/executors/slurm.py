"""A dask-jobqueue ``SLURMCluster`` set up for phasebench sweeps (see ``docs/cluster.md``).

Each SLURM job runs ``cores`` dask worker processes with one thread each (one torch thread per
probe, as in the ``process`` executor). The cluster's scheduler runs in the process that calls
:func:`slurm_cluster`; ``phasebench sweep --executor dask --scheduler <address>`` then sends
tasks to it. ``python -m phasebench_builtins.executors.slurm ...`` starts one, prints its job
script and scheduler address, and keeps it alive until Ctrl-C.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence
from typing import Any

from phasebench.errors import UsageError

#: Lines every job script runs before starting its workers.
SINGLE_THREAD_PROLOGUE = (
    "export OMP_NUM_THREADS=1",
    "export MKL_NUM_THREADS=1",
    "export OPENBLAS_NUM_THREADS=1",
)


def slurm_cluster(
    cores: int,
    memory: str,
    walltime: str = "01:00:00",
    queue: str | None = None,
    account: str | None = None,
    python: str | None = None,
    prologue: Sequence[str] = (),
    job_extra_directives: Sequence[str] = (),
    host: str | None = None,
    allowed_failures: int = 0,
    dashboard_address: str | None = ":8787",
    **job_kwargs: Any,
) -> Any:
    """A ``dask_jobqueue.SLURMCluster`` whose jobs each run ``cores`` one-thread workers.

    ``memory`` is per job (e.g. ``"64GB"``), split evenly between its workers; ``walltime``
    ``HH:MM:SS``; ``queue`` the partition (``-p``), ``account`` the ``-A`` account; ``python``
    the interpreter on the compute nodes (default: this one), which must have the same
    phasebench, torch and plugin packages as the driver; ``prologue`` shell lines run before
    the workers start (``module load ...``, ``source venv/bin/activate``);
    ``job_extra_directives`` extra ``#SBATCH`` options (``"--exclusive"``); ``host`` the
    interface the scheduler listens on (default: dask's choice, reachable from the nodes);
    ``dashboard_address`` the scheduler's dashboard (``":0"``: any free port).
    ``allowed_failures=0``: a task whose worker dies fails at once and phasebench's own retry
    policy decides (as for the LocalCluster). The scheduler uses ``worker-saturation 1.0`` so a
    worker only holds the tasks it runs. Nothing is submitted to SLURM until ``scale``.
    """
    try:
        import dask
        from dask_jobqueue import SLURMCluster
    except ImportError as exc:
        raise UsageError(
            f"SLURM clusters need dask-jobqueue ({exc}); install it with: "
            "pip install 'phasebench[dask]'"
        ) from None
    if isinstance(cores, bool) or not isinstance(cores, int) or cores <= 0:
        raise UsageError(f"cores must be an integer >= 1, got {cores!r}")
    scheduler_options: dict[str, Any] = {
        "allowed_failures": allowed_failures,
        "dashboard_address": dashboard_address,
    }
    if host is not None:
        scheduler_options["host"] = host
    extra: dict[str, Any] = {}
    if python is not None:
        extra["python"] = python
    with dask.config.set({"distributed.scheduler.worker-saturation": 1.0}):
        return SLURMCluster(
            cores=cores,
            processes=cores,
            memory=memory,
            walltime=walltime,
            queue=queue,
            account=account,
            job_script_prologue=[*SINGLE_THREAD_PROLOGUE, *prologue],
            job_extra_directives=list(job_extra_directives),
            scheduler_options=scheduler_options,
            **extra,
            **job_kwargs,
        )


def main(argv: Sequence[str] | None = None) -> None:
    """Start a SLURM-backed dask cluster, print its job script and address, serve until Ctrl-C."""
    parser = argparse.ArgumentParser(
        prog="python -m phasebench_builtins.executors.slurm", description=main.__doc__
    )
    parser.add_argument("--cores", type=int, required=True, help="workers (= cores) per job")
    parser.add_argument("--memory", required=True, help="memory per job, e.g. 64GB")
    parser.add_argument("--jobs", type=int, default=1, help="SLURM jobs to start")
    parser.add_argument("--walltime", default="01:00:00")
    parser.add_argument("--queue", default=None, help="partition (-p)")
    parser.add_argument("--account", default=None, help="account (-A)")
    parser.add_argument("--python", default=None, help="python on the compute nodes")
    parser.add_argument("--prologue", action="append", default=[], help="shell line; repeatable")
    parser.add_argument("--host", default=None, help="scheduler interface address")
    parser.add_argument(
        "--print-only", action="store_true", help="print the job script and exit, submit nothing"
    )
    args = parser.parse_args(argv)
    cluster = slurm_cluster(
        cores=args.cores,
        memory=args.memory,
        walltime=args.walltime,
        queue=args.queue,
        account=args.account,
        python=args.python,
        prologue=args.prologue,
        host=args.host,
    )
    try:
        print(cluster.job_script())
        if args.print_only:
            return
        cluster.scale(jobs=args.jobs)
        print(f"scheduler: {cluster.scheduler_address}", flush=True)
        print(
            f"run: phasebench sweep ... --executor dask --scheduler {cluster.scheduler_address}",
            flush=True,
        )
        while True:
            time.sleep(60)
    except KeyboardInterrupt:
        pass
    finally:
        cluster.close()


if __name__ == "__main__":
    main()
