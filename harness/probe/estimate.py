"""How long a probe job will take on this machine, from its first products, before it starts.

``calibrate(problem, begin, c)`` times the first products of a scan on this machine: the
lambda0 measurement (``begin``, made by ``trajectory.start``; the study reuses it, so it is not
repeated), then one SGD step at eta = c / lambda0 from the initialization, one loss evaluation
on the fixed loss batch, and one warm-started sharpness measurement (the work of the first
step of the first run, done once more). It returns ``Costs``: seconds per product.

``job_seconds`` turns those into the seconds of a whole job; the trace helper calls it too::

    job_seconds(
        config,             # the ProbeConfig (its barrier_points, steps)
        costs,              # Costs from calibrate()
        runs,               # training trajectories still to run
        steps=None,         # SGD steps per run (default config.steps)
        measurements=None,  # sharpness measurements per run (default: one per step)
        evaluations=None,   # loss evaluations per run (default: steps + barrier_points)
        lambda0s=0,         # lambda0 measurements still to make (one per initialization)
        scale=1.0,          # relative cost of the configuration against the calibrated one
        parallel=1,         # runs at once (an executor's workers)
    ) -> float              # wall-clock seconds

``study_seconds(study, costs, ...)`` applies it to a planned study (a grid scan stops at its
first divergence, so a grid's figure is an upper bound; a bisect's is its typical count), and
``cuts(study, costs)`` says what the options that shorten it would give. The figures are
this machine's at the moment of calibration: another load changes them.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import torch

from phasebench.probe import trajectory
from phasebench.probe.problem import Problem

if TYPE_CHECKING:  # pragma: no cover
    from phasebench.config import ProbeConfig
    from phasebench.probe.scan import Search
    from phasebench.probe.study import Study


@dataclass(frozen=True)
class Costs:
    """Seconds per product of one configuration on this machine, and what they were timed on."""

    lambda0: float  # one cold measurement of the sharpness at initialization
    step: float  # one SGD step (forward and backward on a minibatch, the update)
    evaluation: float  # the loss on the fixed loss batch (one barrier point, or L_t)
    measurement: float  # one warm-started sharpness measurement after a step
    hvps: int = 0  # products of that measurement
    lambda0_hvps: int = 0
    parameters: int = 0
    examples: int = 0  # of the sharpness batch
    per_run_seconds: float = 0.0  # one run of the calibrated configuration

    def per_run(self, config: ProbeConfig, steps: int | None = None) -> float:
        """One probe run: each step's update, L_t and sharpness, then the barrier."""
        return job_seconds(config, self, 1, steps)


def job_seconds(
    config: ProbeConfig,
    costs: Costs,
    runs: int,
    steps: int | None = None,
    measurements: int | None = None,
    evaluations: int | None = None,
    lambda0s: int = 0,
    scale: float = 1.0,
    parallel: int = 1,
) -> float:
    """Wall-clock seconds of ``runs`` runs (and ``lambda0s`` initial measurements) of
    ``config`` at ``costs``; see the module docstring."""
    steps = config.steps if steps is None else steps
    measurements = steps if measurements is None else measurements
    evaluations = steps + config.barrier_points if evaluations is None else evaluations
    run = steps * costs.step + measurements * costs.measurement + evaluations * costs.evaluation
    total = runs * run + lambda0s * (costs.lambda0 + costs.evaluation)
    return total * scale / max(1, parallel)


def _clock(device: torch.device) -> float:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return time.perf_counter()


def calibrate(problem: Problem, begin: trajectory.Start, c: float) -> Costs:
    """Time the first products of a scan (see the module docstring); the model is left at
    theta_0. ``begin`` must hold a measured lambda0 (``begin.record.lambda0_seconds``)."""
    device, model = problem.device, begin.model
    lambda0 = begin.record.lambda0
    trajectory.load_vector(model, begin.theta0)
    optimizer = problem.optimizer(model, c / lambda0)
    index = problem.sgd_batches()[0]
    model.train()
    tick = _clock(device)
    optimizer.zero_grad(set_to_none=True)
    value = problem.loss(model(problem.inputs[index]), problem.targets[index])
    value.backward()
    optimizer.step()
    step = _clock(device) - tick
    optimizer.zero_grad(set_to_none=True)
    tick = _clock(device)
    problem.eval_loss(model)
    evaluation = _clock(device) - tick
    generator = torch.Generator(device=device).manual_seed(problem.config.seed + 1)
    tick = _clock(device)
    after = problem.step_sharpness_batches()  # the next training batch, if measured on it
    batch = None if after is None else after[0]
    result = trajectory.measure_sharpness(problem, model, begin.vector, generator, batch=batch)
    measurement = _clock(device) - tick
    trajectory.load_vector(model, begin.theta0)
    costs = Costs(
        lambda0=begin.record.lambda0_seconds,
        step=step,
        evaluation=evaluation,
        measurement=measurement,
        hvps=int(result.hvps),
        lambda0_hvps=begin.record.lambda0_hvps,
        parameters=int(begin.theta0.numel()),
        examples=int(problem.sharpness_inputs.shape[0]),
    )
    return replace(costs, per_run_seconds=costs.per_run(problem.config))


def scan_runs(search: Search) -> int:
    """Runs of one scan: a grid's length (its upper bound: it stops at the first divergence);
    a bisect's coarse pass and about 4 log2(coarse_step / tol) runs per constant (four)."""
    grid = search.grid
    if search.mode == "grid":
        return grid.count()
    coarse = int(math.floor((grid.x_max - grid.x_min) / search.coarse_step + 1e-9)) + 1
    per_constant = max(1, math.ceil(math.log2(max(search.coarse_step / search.tol, 1.0))))
    return min(coarse + 4 * per_constant, coarse + 4 * grid.count())


@dataclass(frozen=True)
class JobEstimate:
    """A study's estimate: its seconds, and the counts they are made of."""

    seconds: float
    runs: int  # at most (grid) or typically (bisect)
    scans: int
    lambda0s: int
    upper_bound: bool  # a grid: it stops at its first divergence, often well before
    costs: Costs


def study_seconds(
    study: Study, costs: Costs, parallel: int = 1, scales: dict[str, float] | None = None
) -> JobEstimate:
    """The study's remaining work at ``costs``. ``scales``: point id -> relative cost of
    that point against the calibrated one (a sweep over widths); 1 where absent."""
    scales = scales or {}
    per_scan = scan_runs(study.search)
    seconds, runs, inits = 0.0, 0, set()
    for task in study.tasks:
        left = max(per_scan - len(task.done), 0)
        key = (task.config.point_id, task.config.seed)
        fresh = task.known_start is None and key not in inits
        inits.add(key)
        seconds += job_seconds(
            task.config,
            costs,
            left,
            lambda0s=int(fresh),
            scale=scales.get(task.config.point_id, 1.0),
        )
        runs += left
    groups = len(inits)
    seconds /= max(1, min(parallel, groups))
    return JobEstimate(
        seconds,
        runs,
        len(study.tasks),
        sum(1 for t in study.tasks if t.known_start is None),
        study.search.mode == "grid",
        costs,
    )


@dataclass(frozen=True)
class Cut:
    """An option that shortens the job, and the seconds the job would take with it."""

    flag: str
    seconds: float


def cuts(study: Study, costs: Costs, parallel: int = 1) -> list[Cut]:
    """What ``--x-step``, ``--search bisect`` and a smaller ``--sharpness-examples`` would
    give (``--device cuda`` is named by the caller when a GPU is there: it is not measured)."""
    from phasebench.probe.grid import Grid, Search

    out: list[Cut] = []
    search = study.search
    if search.mode == "grid" and not search.grid.values:
        coarser = replace(search, grid=replace(search.grid, x_step=search.grid.x_step * 2))
        out.append(
            Cut(
                f"--x-step {coarser.grid.x_step:g}",
                study_seconds(replace(study, search=coarser), costs, parallel).seconds,
            )
        )
        bisect = Search(
            "bisect",
            Grid((), search.grid.x_min, search.grid.x_max, search.grid.x_step),
            sharp_eps=search.sharp_eps,
        )
        out.append(
            Cut(
                "--search bisect",
                study_seconds(replace(study, search=bisect), costs, parallel).seconds,
            )
        )
    examples = study.configs[0].sharpness_examples
    if examples >= 512:
        smaller = examples // 4
        # a measurement's products scale with the batch; everything else stays
        fewer = replace(costs, measurement=costs.measurement * smaller / examples)
        fewer = replace(fewer, lambda0=costs.lambda0 * smaller / examples)
        out.append(
            Cut(
                f"--sharpness-examples {smaller}",
                study_seconds(study, fewer, parallel).seconds,
            )
        )
    return out


def calibrate_study(
    study: Study, components, parallel: int = 1
) -> tuple[Study, JobEstimate] | tuple[Study, None]:
    """Measure the first scan's lambda0 and products here, give that lambda0 to the scans of
    the same initialization (so it is measured once, as the study would), and estimate the
    rest. Nothing to run: ``(study, None)``."""
    from phasebench.probe.task import init_key, shared_start

    if not study.tasks:
        return study, None
    first = study.tasks[0]
    problem = Problem.build(first.config, components, study.data_dir)
    begin = trajectory.start(problem)  # resumed too: its lambda0 is known, its time is not
    c = study.search.grid.cs()[0]
    costs = calibrate(problem, begin, c)
    key = init_key(first.config)
    tasks = tuple(
        replace(task, known_start=shared_start(begin.record, task.config))
        if init_key(task.config) == key and task.known_start is None
        else task
        for task in study.tasks
    )
    planned = replace(study, tasks=tasks)
    scales = _scales(planned, components, first.config, costs)
    estimate = study_seconds(planned, costs, parallel, scales)
    return planned, estimate


def _scales(study: Study, components, calibrated: ProbeConfig, costs: Costs) -> dict[str, float]:
    """Relative cost of each other point of a sweep: its parameter count over the calibrated
    one's (the products of an fcn or a CNN grow about linearly in it at a fixed batch)."""
    out: dict[str, float] = {}
    for task in study.tasks:
        point = task.config.point_id
        if point in out or point == calibrated.point_id:
            continue
        problem = Problem.build(task.config, components, study.data_dir)
        size = sum(p.numel() for p in problem.initial_model().parameters())
        out[point] = size / max(costs.parameters, 1)
    return out
