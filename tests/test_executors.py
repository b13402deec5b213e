"""The built-in executors: same results everywhere, retries, dead workers, bad input."""

from __future__ import annotations

import inspect
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import executor_tasks
import process_groups
import pytest
from support import build_executor

from phasebench.errors import UsageError
from phasebench.execution import Outcome
from phasebench.plugins import load_components
from phasebench_builtins.executors import dask as dask_executor
from phasebench_builtins.executors import process, slurm

TESTS_DIR = str(Path(__file__).parent)


@pytest.fixture(scope="module", autouse=True)
def tests_importable_by_workers() -> Iterator[None]:
    """Spawned workers import executor_tasks: put tests/ on their PYTHONPATH."""
    with pytest.MonkeyPatch.context() as mp:
        old = os.environ.get("PYTHONPATH")
        mp.setenv("PYTHONPATH", TESTS_DIR + (os.pathsep + old if old else ""))
        mp.syspath_prepend(TESTS_DIR)
        yield


@pytest.fixture(scope="module")
def dask_cluster(tests_importable_by_workers: None) -> Iterator[dask_executor.DaskExecutor]:
    """One 2-worker LocalCluster on loopback for the module, started by the dask executor."""
    with build_executor("dask", workers=2) as executor:
        yield executor


@pytest.fixture
def dask_address(dask_cluster: dask_executor.DaskExecutor) -> str:
    # A test that kills a worker leaves the nanny restarting it: wait until both are back.
    dask_cluster.client.wait_for_workers(2, timeout=60)
    return dask_cluster.cluster.scheduler_address


def run_all(executor, fn, tasks) -> list[Outcome]:
    with executor:
        outcomes = list(executor.submit_all(fn, tasks))
    assert sorted(o.index for o in outcomes) == list(range(len(tasks)))
    return sorted(outcomes, key=lambda o: o.index)


def executors(kind: str, address: str | None, **options):
    if kind == "local":
        return build_executor("local", **options)
    if kind == "process":
        return build_executor("process", workers=2, **options)
    return build_executor("dask", scheduler=address, **options)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_registered_with_lazy_references_and_matching_defaults():
    registry = load_components(env={}).registry("executor")
    assert {"local", "process", "dask"} <= set(registry.names())
    for name in ("local", "process", "dask"):
        registration = registry.get(name)
        assert isinstance(registration.target, str)
        make = registration.load()
        parameters = inspect.signature(make).parameters
        # every option declared once, in the registration: the class takes them all, keyword
        # only, without defaults of its own
        assert list(parameters) == list(registration.defaults)
        assert all(p.default is inspect.Parameter.empty for p in parameters.values())
        assert all(p.kind is inspect.Parameter.KEYWORD_ONLY for p in parameters.values())


def test_same_tasks_same_results_on_every_executor(dask_address):
    tasks = [{"seed": seed, "n": 24} for seed in range(6)]
    results = {}
    for kind in ("local", "process", "dask"):
        outcomes = run_all(executors(kind, dask_address), executor_tasks.matmul_sum, tasks)
        assert all(o.ok and o.attempts == 1 and o.error is None for o in outcomes)
        assert [o.task for o in outcomes] == tasks
        assert all(o.value["threads"] == 1 for o in outcomes), kind
        results[kind] = [o.value for o in outcomes]
    assert results["process"] == results["local"]
    assert results["dask"] == results["local"]


def test_local_restores_the_thread_count():
    import torch

    before = torch.get_num_threads()
    run_all(build_executor("local"), executor_tasks.matmul_sum, [{"seed": 0, "n": 4}])
    assert torch.get_num_threads() == before


@pytest.mark.parametrize("kind", ["process", "dask"])
def test_outcomes_arrive_as_tasks_finish(kind, dask_address):
    # One slow task and five quick ones on two workers: the quick ones finish first.
    tasks = [{"x": 0, "sleep": 3.0}] + [{"x": x} for x in range(1, 6)]
    executor = executors(kind, dask_address)
    with executor:
        order = [o.index for o in executor.submit_all(executor_tasks.square, tasks)]
    assert sorted(order) == list(range(6))
    assert order[-1] == 0


@pytest.mark.parametrize("kind", ["local", "process", "dask"])
def test_task_that_always_raises_is_failed_and_the_rest_complete(kind, dask_address):
    tasks = [{"x": x} for x in range(6)]
    outcomes = run_all(
        executors(kind, dask_address, retries=1), executor_tasks.raise_on_three, tasks
    )
    failed = outcomes[3]
    assert not failed.ok and failed.value is None and failed.attempts == 2
    assert failed.error.type == "ValueError"
    assert failed.error.message == "x=3 is not allowed"
    assert "raise_on_three" in failed.error.traceback
    assert failed.error.line() == "ValueError: x=3 is not allowed"
    rest = [o for o in outcomes if o.index != 3]
    assert all(o.ok and o.attempts == 1 for o in rest)
    assert [o.value for o in rest] == [x * x for x in range(6) if x != 3]


@pytest.mark.parametrize("kind, how", [("process", "kill"), ("process", "exit"), ("dask", "kill")])
def test_killed_worker_is_retried_and_the_run_completes(kind, how, tmp_path, dask_address):
    tasks = [{"x": x} for x in range(5)]
    tasks[2] = {"x": 2, "marker": str(tmp_path / "attempted"), "how": how}
    executor = executors(kind, dask_address)
    outcomes = run_all(executor, executor_tasks.die_once, tasks)
    assert (tmp_path / "attempted").exists()
    assert all(o.ok for o in outcomes), [o.error for o in outcomes]
    assert [o.value for o in outcomes] == [x * x for x in range(5)]
    assert outcomes[2].attempts == 2
    if kind == "process":
        assert executor.pools_started == 2


def test_closing_early_stops_the_running_attempts():
    executor = build_executor("process", workers=2)
    start = time.monotonic()
    with executor:
        outcomes = executor.submit_all(executor_tasks.square, [{"x": 2}, {"x": 3, "sleep": 60}])
        assert next(outcomes).value == 4
        outcomes.close()
        assert executor.in_flight == 0
        again = list(executor.submit_all(executor_tasks.square, [{"x": 5}]))
        assert again[0].value == 25
    assert time.monotonic() - start < 20


@pytest.mark.parametrize("kind", ["process", "dask"])
def test_task_whose_worker_always_dies_fails_after_the_retries(kind, dask_address):
    tasks = [{"x": 1}, {"x": -1}, {"x": 2}]
    executor = executors(kind, dask_address, retries=1)
    outcomes = run_all(executor, executor_tasks.die_if_negative, tasks)
    assert [o.value for o in outcomes if o.ok] == [1, 4]
    dead = outcomes[1]  # charged twice; it may also have died once beside a neighbour
    assert not dead.ok and dead.attempts >= 2
    assert dead.error.type == "WorkerDied"


def test_only_the_task_that_kills_its_worker_is_charged():
    """A neighbour in flight when the pool breaks is rerun alone, never failed for it: even with
    retries=0 only the killer fails."""
    tasks = [{"x": 3, "sleep": 2.0}, {"x": -1}]
    outcomes = run_all(
        build_executor("process", workers=2, retries=0), executor_tasks.die_if_negative, tasks
    )
    innocent, killer = outcomes
    assert innocent.ok and innocent.value == 9
    assert not killer.ok and killer.error.type == "WorkerDied"


def test_an_attempt_over_task_timeout_is_stopped_and_charged_and_its_neighbour_rerun():
    """retries=0: the hanging task fails with TaskTimeout; the task stopped beside it (it started
    after it, so it was not over time itself) is rerun uncharged and succeeds."""
    tasks = [{"x": 7, "sleep": 600}, {"x": 2, "sleep": 3.0}, {"x": 3, "sleep": 4.0}]
    start = time.monotonic()
    outcomes = run_all(
        build_executor("process", workers=2, retries=0, task_timeout=6.0),
        executor_tasks.square,
        tasks,
    )
    hung, quick, stopped = outcomes
    assert not hung.ok and hung.error.type == "TaskTimeout" and hung.attempts == 1
    assert "task_timeout=6 s" in hung.error.message
    assert quick.ok and quick.value == 4 and quick.attempts == 1
    assert stopped.ok and stopped.value == 9 and stopped.attempts == 2
    assert time.monotonic() - start < 60


@pytest.mark.parametrize("bad", [0, -1.0, "60", True, float("inf")])
def test_a_bad_task_timeout_is_one_line(bad):
    with pytest.raises(UsageError, match="task_timeout must be a positive number") as info:
        build_executor("process", task_timeout=bad)
    assert "\n" not in str(info.value)


def test_only_the_process_executor_takes_a_task_timeout():
    components = load_components()
    assert components.get("executor", "process").options({"task_timeout": 60})["task_timeout"]
    for name in ("local", "dask"):
        with pytest.raises(UsageError, match="task_timeout"):
            components.get("executor", name).options({"task_timeout": 60})


@pytest.mark.parametrize("name", ["process", "dask"])
def test_zero_workers_is_a_usage_error(name):
    with pytest.raises(UsageError, match="workers must be a positive integer") as info:
        build_executor(name, workers=0)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("name", ["local", "process", "dask"])
def test_negative_retries_is_a_usage_error(name):
    with pytest.raises(UsageError, match="retries"):
        build_executor(name, retries=-1)


def test_fork_start_method_is_refused():
    with pytest.raises(UsageError, match="start_method"):
        build_executor("process", start_method="fork")


def test_unpicklable_function_is_a_usage_error():
    with (
        build_executor("process", workers=1) as executor,
        pytest.raises(UsageError, match="top-level"),
    ):
        list(executor.submit_all(lambda task: task, [1]))


def test_unreachable_scheduler_fails_fast_with_one_line():
    address = f"tcp://127.0.0.1:{free_port()}"
    start = time.monotonic()
    with pytest.raises(UsageError, match="cannot reach the dask scheduler") as info:
        with build_executor("dask", scheduler=address, connect_timeout=2):
            pass
    assert time.monotonic() - start < 10
    assert address in str(info.value) and "\n" not in str(info.value)


def test_a_scheduler_that_accepts_and_never_answers_fails_in_bounded_time():
    """A loopback listener that accepts every connection and says nothing: connect_timeout
    bounds the handshake too (distributed's own connect would wait for ever)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    listener.settimeout(0.2)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                accepted.append(listener.accept()[0])
            except TimeoutError:
                continue
            except OSError:
                return

    address = f"tcp://127.0.0.1:{listener.getsockname()[1]}"
    outcome: list[BaseException] = []

    def connect() -> None:
        try:
            with build_executor("dask", scheduler=address, connect_timeout=1.5):
                pass
        except BaseException as exc:  # noqa: BLE001 - handed to the test's thread
            outcome.append(exc)

    threading.Thread(target=accept, daemon=True).start()
    attempt = threading.Thread(target=connect, daemon=True)
    try:
        attempt.start()
        attempt.join(60)  # the test never hangs: on failure the attempt is left behind
        assert not attempt.is_alive(), "still connecting 60 s after a 1.5 s connect_timeout"
    finally:
        stop.set()
        listener.close()
        for conn in accepted:
            conn.close()
    assert accepted, "the attempt never reached the listener"
    (error,) = outcome
    assert isinstance(error, UsageError), repr(error)
    message = str(error)
    assert address in message and "did not answer within 1.5 s" in message
    assert "\n" not in message


def test_missing_dask_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)
    with pytest.raises(UsageError, match=r"pip install 'phasebench\[dask\]'"):
        with build_executor("dask", workers=1):
            pass


def test_slurm_job_script_runs_one_thread_workers_on_the_scheduler():
    cluster = slurm.slurm_cluster(
        cores=8,
        memory="32GB",
        walltime="02:30:00",
        queue="cpu",
        account="phase-lab",
        python="/opt/phasebench/bin/python",
        prologue=["source /opt/phasebench/bin/activate"],
        job_extra_directives=["--exclusive"],
        host="127.0.0.1",
        dashboard_address=":0",
    )
    try:
        script = cluster.job_script()
        address = cluster.scheduler_address
        assert cluster.scheduler.allowed_failures == 0
    finally:
        cluster.close()
    lines = script.splitlines()
    for directive in (
        "#SBATCH -p cpu",
        "#SBATCH -A phase-lab",
        "#SBATCH --cpus-per-task=8",
        "#SBATCH -t 02:30:00",
        "#SBATCH --exclusive",
    ):
        assert directive in lines
    assert any(line.startswith("#SBATCH --mem=") for line in lines)
    assert "export OMP_NUM_THREADS=1" in lines
    assert "source /opt/phasebench/bin/activate" in lines
    worker = next(line for line in lines if "dask_worker" in line)
    assert worker.startswith("/opt/phasebench/bin/python -m distributed.cli.dask_worker")
    assert address in worker and address.startswith("tcp://127.0.0.1:")
    assert "--nthreads 1" in worker and "--nworkers 8" in worker
    # The prologue runs before the workers start.
    assert lines.index("export OMP_NUM_THREADS=1") < lines.index(worker)


DRIVER = """
import sys
import executor_tasks
from phasebench.plugins import components
tasks = [{"x": i, "sleep": 300, "marker": m} for i, m in enumerate(sys.argv[1:])]
process = components().get("executor", "process")
with process.load()(**process.options({"workers": len(tasks)})) as executor:
    for outcome in executor.submit_all(executor_tasks.mark_then_sleep, tasks):
        print(outcome, flush=True)
"""


@pytest.mark.skipif(not process_groups.proc_available(), reason="reads /proc (Linux)")
@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM], ids=["SIGKILL", "SIGTERM"])
def test_workers_and_the_resource_tracker_exit_with_their_driver(tmp_path, sig):
    """Kill the driver of busy workers: every process it started exits and its output pipes
    close (a reader of its stdout sees the end), instead of orphans computing for nobody."""
    markers = [tmp_path / f"worker-{i}" for i in range(2)]
    driver = subprocess.Popen(
        [sys.executable, "-c", DRIVER, *map(str, markers)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,  # its own process group: the driver, workers, tracker
    )
    try:
        deadline = time.monotonic() + 180
        while not all(m.exists() and m.read_text() for m in markers):
            assert driver.poll() is None, driver.communicate()[1].decode()
            assert time.monotonic() < deadline, "the workers never started their tasks"
            time.sleep(0.1)
        workers = {int(m.read_text()) for m in markers}
        started = process_groups.group_members(driver.pid)
        assert workers | {driver.pid} <= set(started)
        driver.send_signal(sig)
        driver.communicate(timeout=30)  # both pipes reach their end: nobody holds them
        left = process_groups.wait_until_gone(driver.pid, timeout=30)
        assert not left, f"still alive after the driver died: {left}"
        if sig == signal.SIGTERM:  # it stopped its pool on the way out, as for Ctrl-C
            assert driver.returncode == process.SIGTERM_EXIT
    finally:
        process_groups.kill_group(driver.pid)
        driver.kill()
        driver.wait()


def test_a_worker_whose_driver_is_gone_exits(monkeypatch):
    """The watchdog's test of the driver: a re-parented worker, or a driver pid that no longer
    exists, is an orphan."""
    parent = os.getppid()
    assert not process._driver_is_gone(os.getpid(), parent)
    assert process._driver_is_gone(os.getpid(), parent + 1)  # re-parented
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    assert process._driver_is_gone(gone.pid, parent)
