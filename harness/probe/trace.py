"""A trace: one configuration trained for ``steps`` steps at eta = c / lambda0 (eta_t from its
schedule), measured every ``every`` steps and at the last: the loss on the fixed loss batch, the
training batch's loss and gradient norm, the top-k sharpness (each measurement warm-started
from the previous one's eigenvectors) and the stability threshold of the optimizer in force;
asked for, the opt-in curvature at each measured step (``trace_extras``) and the SLQ density
after chosen steps (``trace_density``: any step from 0 to ``steps``, measured or not; it adds
no row).

Row m describes the state after ``measured_step[m]`` updates: the sharpness there, and the
batch the next update uses (its loss and gradient norm; at the last step the batch that would
come next). The trace is handed to ``sink(record, checkpoint)`` as it goes, at most every
``flush_seconds`` (and at the first and last measurement), with what resuming needs; a trace
resumed from a checkpoint gives the same arrays, bit for bit, as one never interrupted (the
same operations on the same state, in the same order, on one device and thread count).

A divergence (a training or fixed-batch loss that is not finite or exceeds the divergence
threshold) ends the trace with a last row at the step it happened: recorded, not raised.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from typing import Any

import numpy as np
import torch

from phasebench.analysis import regimes
from phasebench.config import ProbeConfig
from phasebench.errors import ParameterError, UsageError
from phasebench.probe import checkpoint, schedule
from phasebench.probe.checkpoint import TrainingState
from phasebench.probe.problem import Problem
from phasebench.probe.provenance import provenance
from phasebench.probe.trace_density import STATE_KEY, TraceDensity
from phasebench.probe.trace_extras import TraceExtras
from phasebench.probe.trajectory import Start, measure_sharpness
from phasebench.results.records import TraceRecord
from phasebench.stability import Threshold, preconditioned, threshold_of

#: By default a trace hands itself to its sink at most this often (seconds of its run).
FLUSH_SECONDS = 10.0

#: ``sink(record, checkpoint)``: store the trace as it stands; ``checkpoint`` is None when it
#: is finished (nothing left to resume).
Sink = Callable[[TraceRecord, "bytes | None"], None]


#: The stopping rule a trace asks of an estimator that leaves it to its caller (a ``stop``
#: option whose default is ``"auto"``, as Lanczos'), for measurements warm-started from the
#: previous one: the estimated eigenvalue error rather than the residual (docs/sharpness.md).
TRACKING_STOP = "eigenvalue"


def tracking_options(problem: Problem) -> dict[str, Any]:
    """The estimator options of a trace's warm-started measurement: the configuration's, with
    ``stop=TRACKING_STOP`` where the estimator declares ``stop`` with the default ``"auto"``
    and the configuration leaves it there."""
    options = problem.config.estimator.opts()
    declared = problem.registrations["estimator"].declared
    stop = next((option for option in declared if option.name == "stop"), None)
    if (
        stop is not None
        and stop.default == "auto"
        and TRACKING_STOP in (stop.choices or ())
        and options.get("stop", "auto") == "auto"
    ):
        options["stop"] = TRACKING_STOP
    return options


def check_trace(config: ProbeConfig) -> None:
    """What a trace needs beyond a probe's checks: ``every`` at most ``steps``, ``top_k`` >= 1."""
    if not 1 <= config.every <= config.steps:
        raise ParameterError(
            f"every must be between 1 and steps ({config.steps}), got {config.every}", "every"
        )
    if config.top_k < 1:
        raise ParameterError(f"top_k must be at least 1, got {config.top_k}", "top_k")
    if config.sharpness_batch != "fixed":
        raise ParameterError(
            f"a trace measures on the fixed sharpness batch, not sharpness_batch "
            f"{config.sharpness_batch}; leave sharpness_batch out (it is the probe's)",
            "sharpness_batch",
        )


def measured_steps(steps: int, every: int) -> list[int]:
    """0, every, 2 every, ... and the last step."""
    out = list(range(0, steps + 1, every))
    if out[-1] != steps:
        out.append(steps)
    return out


@dataclass
class _Rows:
    """The measurements so far, one list per TraceRecord array."""

    measured_step: list[int] = field(default_factory=list)
    loss: list[float] = field(default_factory=list)
    train_loss: list[float] = field(default_factory=list)
    grad_norm: list[float] = field(default_factory=list)
    sharpness: list[list[float]] = field(default_factory=list)
    converged: list[bool] = field(default_factory=list)
    hvps: list[int] = field(default_factory=list)
    eta_t: list[float] = field(default_factory=list)
    threshold: list[float] = field(default_factory=list)
    # the opt-in measurements (``trace_extras``), filled only when asked for
    layer_sharpness: list[list[float]] = field(default_factory=list)
    layer_hvps: list[int] = field(default_factory=list)
    smallest: list[float] = field(default_factory=list)
    smallest_hvps: list[int] = field(default_factory=list)
    critical_sharpness: list[float] = field(default_factory=list)
    critical_passes: list[int] = field(default_factory=list)
    critical_converged: list[bool] = field(default_factory=list)
    # the densities at the chosen steps (``trace_density``): a row per density taken
    density_step: list[int] = field(default_factory=list)
    density_nodes: list[list[list[float]]] = field(default_factory=list)
    density_weights: list[list[list[float]]] = field(default_factory=list)
    density_hvps: list[int] = field(default_factory=list)
    density_trace: list[float] = field(default_factory=list)
    density_trace_error: list[float] = field(default_factory=list)

    @classmethod
    def of(cls, record: TraceRecord) -> _Rows:
        rows = cls()
        for name in vars(rows):
            getattr(rows, name).extend(np.asarray(getattr(record, name)).tolist())
        return rows

    def arrays(
        self, k: int, layers: int, density: tuple[int, int] = (0, 0)
    ) -> dict[str, np.ndarray]:
        """The TraceRecord arrays; ``density``: a density row's (probes, Lanczos steps), (0, 0)
        when the trace takes none."""
        sharp = np.asarray(self.sharpness, dtype=np.float64).reshape(-1, k)
        per_layer = np.asarray(self.layer_sharpness, dtype=np.float64)
        per_layer = per_layer.reshape(-1, layers) if layers else np.zeros((0, 0))
        nodes, weights = np.zeros((0, 0, 0)), np.zeros((0, 0, 0))
        if all(density):
            nodes = np.asarray(self.density_nodes, dtype=np.float64).reshape(-1, *density)
            weights = np.asarray(self.density_weights, dtype=np.float64).reshape(-1, *density)
        return {
            "measured_step": np.asarray(self.measured_step, dtype=np.int64),
            "loss": np.asarray(self.loss, dtype=np.float64),
            "train_loss": np.asarray(self.train_loss, dtype=np.float64),
            "grad_norm": np.asarray(self.grad_norm, dtype=np.float64),
            "sharpness": sharp,
            "converged": np.asarray(self.converged, dtype=bool),
            "hvps": np.asarray(self.hvps, dtype=np.int64),
            "eta_t": np.asarray(self.eta_t, dtype=np.float64),
            "threshold": np.asarray(self.threshold, dtype=np.float64),
            "layer_sharpness": per_layer,
            "layer_hvps": np.asarray(self.layer_hvps, dtype=np.int64),
            "smallest": np.asarray(self.smallest, dtype=np.float64),
            "smallest_hvps": np.asarray(self.smallest_hvps, dtype=np.int64),
            "critical_sharpness": np.asarray(self.critical_sharpness, dtype=np.float64),
            "critical_passes": np.asarray(self.critical_passes, dtype=np.int64),
            "critical_converged": np.asarray(self.critical_converged, dtype=bool),
            "density_step": np.asarray(self.density_step, dtype=np.int64),
            "density_nodes": nodes,
            "density_weights": weights,
            "density_hvps": np.asarray(self.density_hvps, dtype=np.int64),
            "density_trace": np.asarray(self.density_trace, dtype=np.float64),
            "density_trace_error": np.asarray(self.density_trace_error, dtype=np.float64),
        }


def label_regimes(arrays: dict[str, np.ndarray]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """THE call site of the regimes labelling (``phasebench.analysis.regimes.label``): a
    finished trace's regimes as dicts and its EoS statistics. The labelling leaves out every
    measurement that is not finite or did not converge (a divergence's last row)."""
    labelled = regimes.label(
        arrays["measured_step"],
        arrays["sharpness"],
        arrays["threshold"],
        loss=arrays["loss"],
        converged=arrays["converged"],
    )
    return labelled.to_dicts(), dict(labelled.eos)


def _diverged(value: float, threshold: float) -> bool:
    return not math.isfinite(value) or value > threshold


def _grad_norm(model: torch.nn.Module) -> float:
    total = torch.zeros((), dtype=torch.float64)
    for p in model.parameters():
        if p.grad is not None:
            total += p.grad.detach().double().pow(2).sum().cpu()
    return float(total.sqrt())


class Tracer:
    """One trace of a problem at one c: ``run()`` trains and measures, handing the record to
    ``sink`` as it goes; ``resume`` (a stored, unfinished record and its checkpoint) continues
    it from its last stored measurement."""

    def __init__(
        self,
        problem: Problem,
        begin: Start,
        c: float,
        *,
        sink: Sink | None = None,
        resume: tuple[TraceRecord, bytes] | None = None,
        flush_seconds: float = FLUSH_SECONDS,
        on_measure: Callable[[TraceRecord], None] | None = None,
    ) -> None:
        self.problem = problem
        self.config = problem.config.with_c(c)
        check_trace(self.config)
        self.c = float(c)
        self.lambda0 = begin.record.lambda0
        self.unit = begin.record.unit_lambda  # the curvature eta is measured in (--lr-unit)
        self.sink = sink
        self.flush_seconds = float(flush_seconds)
        self.on_measure = on_measure
        self.eta = self.c / self.unit if resume is None else float(resume[0].eta)
        self.eta_at = schedule.learning_rates(problem, self.eta, self.unit, self.config.steps)
        registration = problem.registrations["optimizer"]
        self._optimizer_factory = registration.load()
        self._optimizer_name = registration.name
        #: an adaptive optimizer's threshold is of its preconditioned sharpness: measure that
        self.operator = "preconditioned" if preconditioned(self._optimizer_factory) else "hessian"
        self.k = self.config.top_k
        self.tracking = tracking_options(problem)
        self.began = datetime.now(timezone.utc).isoformat(timespec="seconds")
        self.seconds_before = 0.0
        self._where = provenance(problem.device)  # once: a record is made per measurement
        self.rows = _Rows()
        self.state = self._fresh_state(begin)
        self.extras = TraceExtras(problem, self.state.model, self.operator, self.lambda0)
        self.density = TraceDensity(problem, self.operator)
        self.cold_at: int | None = None  # a resume whose checkpoint held no extras' state
        if resume is not None:
            record, blob = resume
            self.rows = _Rows.of(record)
            self.seconds_before = float(record.seconds)
            self.began = record.provenance.get("started", self.began)
            checkpoint.restore(blob, self.state)
            restored = self.extras.restore(self.state.extras, vars(self.rows))
            if not (self.density.restore(self.state.extras) and restored):
                self.cold_at = int(self.state.step)
            self.cold_at = record.provenance.get("extras_cold_at", self.cold_at)
            if self.state.step != self.rows.measured_step[-1]:
                raise ParameterError(
                    f"trace {record.trace_id}: its checkpoint is of step {self.state.step} but "
                    f"its last measurement of step {self.rows.measured_step[-1]}; it cannot be "
                    "resumed: run it again into another file",
                    "resume",
                )
        self.kind = self._threshold(self.eta).kind
        self.diverged_step = -1

    def _fresh_state(self, begin: Start) -> TrainingState:
        problem = self.problem
        model = problem.initial_model()
        optimizer = problem.optimizer(model, self.eta_at(1))
        generator = torch.Generator(device=problem.device).manual_seed(self.config.seed + 1)
        warm = None
        if begin.vector is not None and self.k == 1:
            warm = begin.vector.reshape(1, -1)
        return TrainingState(
            0, model, optimizer, problem.batch_order(), generator, warm, torch.get_rng_state()
        )

    def _threshold(self, eta_t: float, optimizer=None) -> Threshold:
        return threshold_of(
            self._optimizer_factory,
            eta_t,
            self.config.optimizer.opts(),
            self._optimizer_name,
            optimizer,
        )

    # -- the record --------------------------------------------------------------------------
    def record(self, seconds: float) -> TraceRecord:
        arrays = self.rows.arrays(self.k, len(self.extras.layers), self.density.shape)
        finished = self.diverged_step >= 0 or self.state.step >= self.config.steps
        regimes, eos = label_regimes(arrays) if finished else ([], {})
        return TraceRecord(
            trace_id=self.config.trace_id,
            scan_id=self.config.scan_id,
            config=self.config.to_dict(),
            c=self.c,
            eta=float(self.eta),
            **arrays,
            threshold_kind=self.kind,
            regimes=regimes,
            eos=eos,
            diverged=self.diverged_step >= 0,
            diverged_step=self.diverged_step,
            layers=list(self.extras.layers),
            steps_done=int(self.state.step),
            seconds=self.seconds_before + seconds,
            provenance={
                **self._where,
                "dtype": self.config.dtype,
                "lambda0": self.lambda0,
                "operator": self.operator,  # the sharpness measured: hessian or preconditioned
                "started": self.began,
                **({} if self.cold_at is None else {"extras_cold_at": self.cold_at}),
                "updated": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            },
        )

    # -- one measurement ---------------------------------------------------------------------
    def _measure(self, t: int, train_loss: float, grad_norm: float, diverged: bool) -> None:
        problem, state = self.problem, self.state
        loss = problem.eval_loss(state.model)
        eta_t = self.eta_at(min(t + 1, self.config.steps))
        sharp, hvps, converged = [math.nan] * self.k, 0, False
        threshold = math.nan
        diverged = diverged or _diverged(loss, self.config.divergence_threshold)
        result = None
        if not diverged:
            schedule.set_learning_rate(state.optimizer, eta_t)  # the next update's, as it runs
            try:
                threshold = self._threshold(eta_t, state.optimizer).value
                result = measure_sharpness(
                    problem,
                    state.model,
                    state.warm,
                    state.estimator_generator,
                    k=self.k,
                    which=self.operator,
                    optimizer=state.optimizer,
                    # a cold start (no warm vectors yet) keeps the configured rule
                    options=self.tracking if state.warm is not None else None,
                )
            except UsageError:
                if self.operator != "preconditioned" or t > 0:
                    raise
                threshold = math.nan  # P is defined after the first step: not measured at 0
        if result is not None:
            found = list(result.eigenvalues)
            sharp = found + [math.nan] * (self.k - len(found))
            hvps, converged = int(result.hvps), bool(result.converged)
            if result.eigenvectors is not None:
                state.warm = result.eigenvectors
        if self.extras.any:
            found = self.extras.blank()
            if not diverged:
                top = None if result is None else float(result.eigenvalues[0])
                found = self.extras.row(state.model, state.optimizer, top)
            for name, value in found.items():
                getattr(self.rows, name).append(value)
        rows = self.rows
        rows.measured_step.append(t)
        rows.loss.append(loss)
        rows.train_loss.append(train_loss)
        rows.grad_norm.append(grad_norm)
        rows.sharpness.append(sharp)
        rows.converged.append(converged)
        rows.hvps.append(hvps)
        rows.eta_t.append(eta_t)
        rows.threshold.append(threshold)
        if diverged:
            self.diverged_step = t

    def _density(self, t: int) -> None:
        """The density after step ``t``, when it is a density step not taken yet (on resume,
        the densities the stored record holds are not taken again)."""
        if self.density.due(t, self.rows.density_step):
            found = self.density.take(t, self.state.model, self.state.optimizer)
            for name, value in found.items():
                getattr(self.rows, name).append(value)

    def _batch_gradient(self) -> tuple[float, float]:
        """Draw the next batch, compute its loss and gradient (into ``.grad``)."""
        problem, state = self.problem, self.state
        index = state.order.next()
        state.optimizer.zero_grad(set_to_none=True)
        inputs = problem.inputs if problem.config.full_batch else problem.inputs[index]
        targets = problem.targets if problem.config.full_batch else problem.targets[index]
        value = problem.loss(state.model(inputs), targets)
        value.backward()
        return float(value.item()), _grad_norm(state.model)

    # -- the run -----------------------------------------------------------------------------
    def run(self) -> TraceRecord:
        config, state = self.config, self.state
        clock = time.perf_counter()
        last_flush = -math.inf
        measure_at = set(measured_steps(config.steps, config.every))
        # resumed: the measurement of the step the checkpoint is of is stored already
        stored = self.rows.measured_step[-1] if self.rows.measured_step else None
        torch.set_rng_state(state.torch_rng)
        state.model.train()
        while True:
            t = state.step
            order_before, rng_before = state.order.state(), torch.get_rng_state()
            train_loss, grad_norm = self._batch_gradient()
            diverged = _diverged(train_loss, config.divergence_threshold)
            measuring = (t in measure_at or diverged) and t != stored
            if measuring:
                self._measure(t, train_loss, grad_norm, diverged)
            if not diverged and self.diverged_step < 0:
                self._density(t)  # before the flush below: a stored density is never retaken
            if measuring:
                if self.on_measure is not None:
                    self.on_measure(self.record(time.perf_counter() - clock))
                done = self.diverged_step >= 0 or t >= config.steps
                now = time.perf_counter()
                if done or now - last_flush >= self.flush_seconds:
                    self._flush(now - clock, order_before, rng_before, done)
                    last_flush = time.perf_counter()
                if done:
                    break
            stored = None
            schedule.set_learning_rate(state.optimizer, self.eta_at(t + 1))
            state.optimizer.step()
            state.step = t + 1
        state.optimizer.zero_grad(set_to_none=True)
        return self.record(time.perf_counter() - clock)

    def _flush(self, seconds: float, order_before, rng_before, done: bool) -> None:
        if self.sink is None:
            return
        blob = None
        if not done:
            saved = replace(
                self.state,
                order=_Frozen(order_before),
                torch_rng=rng_before,
                extras={
                    **(self.extras.state() if self.extras.any else {}),
                    **({STATE_KEY: self.density.state()} if self.density.any else {}),
                },
            )
            blob = checkpoint.dumps(saved)
        self.sink(self.record(seconds), blob)


class _Frozen:
    """A data order's stored state, standing in for the order in a checkpoint."""

    def __init__(self, state: dict[str, Any]) -> None:
        self._state = state

    def state(self) -> dict[str, Any]:
        return self._state


def run_trace(
    problem: Problem,
    begin: Start,
    c: float,
    *,
    sink: Sink | None = None,
    resume: tuple[TraceRecord, bytes] | None = None,
    flush_seconds: float = FLUSH_SECONDS,
    on_measure: Callable[[TraceRecord], None] | None = None,
) -> TraceRecord:
    """Trace ``problem`` at ``c`` (see ``Tracer``) and return the finished record."""
    tracer = Tracer(
        problem,
        begin,
        c,
        sink=sink,
        resume=resume,
        flush_seconds=flush_seconds,
        on_measure=on_measure,
    )
    return tracer.run()
