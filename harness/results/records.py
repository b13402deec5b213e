"""What a probe produces and a results file holds: one ``ScanRecord`` per (initialization, SGD
seed) and one ``RunRecord`` per c. Plain numpy and JSON-able values, so executors can ship them
between processes. Torch-free: the writer, the reader, the probe and ``show`` share them.

Each field says how it is stored (``schema.py`` reads this to write and to read the file, so a
field declared here is a field of the file): ``key`` is the record's group name, ``attr`` a
scalar attribute, ``json`` a JSON attribute, ``array`` a dataset. ``since`` is the schema
version that added a field; files older than that read its ``default``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from phasebench.analysis.phases import RunSummary, summarize


def _stored(store: str, since: int = 1, **kwargs: Any) -> Any:
    return field(metadata={"store": store, "since": since}, **kwargs)


def key() -> Any:
    """The name of the record's group (its hash)."""
    return _stored("key")


def parent() -> Any:
    """The name of the group above (a run's scan id): where the record lives, not an attribute."""
    return _stored("parent")


def attr(**kwargs: Any) -> Any:
    return _stored("attr", **kwargs)


def json_attr(**kwargs: Any) -> Any:
    return _stored("json", **kwargs)


def array(**kwargs: Any) -> Any:
    return _stored("array", **kwargs)


@dataclass
class ScanRecord:
    """The shared start of every run of a scan: the initialization's lambda0 and L0."""

    scan_id: str = key()
    point_id: str = attr()
    config: dict[str, Any] = json_attr()  # the ProbeConfig as a dict; its c is the scan's first
    lambda0: float = attr()
    loss0: float = attr()
    lambda0_hvps: int = attr()
    lambda0_converged: bool = attr()
    lambda0_seconds: float = attr()
    #: The curvature eta = c / lambda_unit is measured in, and lambda_unit(theta_0) (for
    #: "hessian" it is lambda0; files before schema 3 are all "hessian" and read nan here).
    lr_unit: str = attr(since=3, default="hessian")
    lambda_unit: float = attr(since=3, default=float("nan"))
    #: Per-layer sharpness at theta_0: the layers' names and the top eigenvalue of each one's
    #: diagonal Hessian block (empty unless the config's per_layer).
    layers: list[str] = json_attr(since=3, default_factory=list)
    layer_lambda0: np.ndarray = array(since=3, default_factory=lambda: np.zeros(0))
    #: The smallest Hessian eigenvalue at theta_0 (nan unless the config's smallest).
    smallest0: float = attr(since=3, default=float("nan"))

    @property
    def unit_lambda(self) -> float:
        """The curvature eta is measured in: lambda_unit, or lambda0 in an older file."""
        if self.lr_unit == "hessian" and not np.isfinite(self.lambda_unit):
            return self.lambda0
        return self.lambda_unit

    #: (k,) the top-k eigenvalues at theta_0 when the config's top_k > 1 (else empty).
    lambda0_top_k: np.ndarray = array(since=3, default_factory=lambda: np.zeros(0))

    @property
    def seed(self) -> int:
        return int(self.config["seed"])

    @property
    def sgd_seed(self) -> int:
        return int(self.config["sgd_seed"])


@dataclass
class RunRecord:
    """One run: ``steps`` SGD steps at eta = c / lambda0. Index t of the per-step arrays is the
    state after t steps (t = 0 is the initialization); values after a divergence are nan."""

    run_id: str = key()
    scan_id: str = parent()
    config: dict[str, Any] = json_attr()
    c: float = attr()
    eta: float = attr()
    loss: np.ndarray = array()  # (T+1,) L_t on the fixed loss batch
    batch_loss: np.ndarray = array()  # (T,) the minibatch loss of step t+1, before its update
    sharpness: np.ndarray = array()  # (T+1,) lambda_t on the fixed sharpness batch
    hvps: np.ndarray = array()  # (T+1,) HVPs spent measuring lambda_t (index 0: lambda0's, shared)
    converged: np.ndarray = array()  # (T+1,) whether the estimator converged
    barrier_tau: np.ndarray = array()  # (P,) positions on the segment theta_0 -> theta_T
    barrier_loss: np.ndarray = array()  # (P,) the loss there (empty when the run diverged)
    diverged: bool = attr()
    diverged_step: int = attr()  # first step whose loss diverged, -1 if none
    seconds: float = attr()
    sharpness_seconds: float = attr()
    # (T,) the learning rate of step t+1 (the schedule's; files before schema 3: eta throughout)
    eta_t: np.ndarray = array(since=3, default_factory=lambda: np.empty(0))
    provenance: dict[str, Any] = json_attr(default_factory=dict)
    #: (T+1, B) the top eigenvalue of each layer's diagonal Hessian block (the scan's
    #: ``layers``; row 0 is the scan's layer_lambda0); (0, 0) unless the config's per_layer.
    layer_sharpness: np.ndarray = array(since=3, default_factory=lambda: np.zeros((0, 0)))
    #: (T+1,) the smallest Hessian eigenvalue (negative curvature); empty unless smallest.
    smallest: np.ndarray = array(since=3, default_factory=lambda: np.zeros(0))
    #: (T+1, k) the top-k eigenvalues of each step's estimate, column 0 = ``sharpness``
    #: (config top_k > 1; else (0, 0)). A TraceRecord's ``sharpness (M, k)`` is the same.
    sharpness_top_k: np.ndarray = array(since=3, default_factory=lambda: np.zeros((0, 0)))
    #: (T+1,) critical sharpness 2 / eta_c, the forward passes its line search spent and
    #: whether it converged (config critical; else empty).
    critical_sharpness: np.ndarray = array(since=3, default_factory=lambda: np.zeros(0))
    critical_passes: np.ndarray = array(since=3, default_factory=lambda: np.zeros(0, np.int64))
    critical_converged: np.ndarray = array(since=3, default_factory=lambda: np.zeros(0, bool))
    #: The SLQ density after the config's density_steps (D of them; empty unless set):
    #: (D,) steps, (D, P, m) nodes (Ritz values; nan past a breakdown) and weights (squared
    #: first components; each (P,) row sums to 1), (D,) HVPs, and the trace n * mean(first
    #: moment) with its standard error over the P probes.
    density_step: np.ndarray = array(since=3, default_factory=lambda: np.zeros(0, np.int64))
    density_nodes: np.ndarray = array(since=3, default_factory=lambda: np.zeros((0, 0, 0)))
    density_weights: np.ndarray = array(since=3, default_factory=lambda: np.zeros((0, 0, 0)))
    density_hvps: np.ndarray = array(since=3, default_factory=lambda: np.zeros(0, np.int64))
    density_trace: np.ndarray = array(since=3, default_factory=lambda: np.zeros(0))
    density_trace_error: np.ndarray = array(since=3, default_factory=lambda: np.zeros(0))

    def __post_init__(self) -> None:
        if np.size(self.eta_t) == 0:  # a file before schedules: every step at eta
            self.eta_t = np.full(np.size(self.batch_loss), float(self.eta))

    def summary(self) -> RunSummary:
        return summarize(
            self.c, self.diverged, self.loss, self.sharpness, self.barrier_loss, self.converged
        )


@dataclass
class SpectrumRecord:
    """The SLQ spectral density of one freshly initialized model (``phasebench spectrum``):
    the quadrature (nodes and weights per probe), the trace estimates and what it cost."""

    spectrum_id: str = key()  # a hash of ``config``
    config: dict[str, Any] = json_attr(since=3)  # components, options, examples, seed, SLQ
    parameters: int = attr(since=3)  # n, the operator's size
    probes: int = attr(since=3)
    lanczos_steps: int = attr(since=3)
    distribution: str = attr(since=3)  # of the probes: rademacher or gaussian
    nodes: np.ndarray = array(since=3)  # (P, m) Ritz values, nan past a breakdown
    weights: np.ndarray = array(since=3)  # (P, m) squared first components, rows sum to 1
    hvps: int = attr(since=3)  # SLQ's products
    top_eigenvalue: float = attr(since=3)  # the largest Ritz value
    trace: float = attr(since=3)  # n * the first moment (Hutchinson on SLQ's probes)
    trace_error: float = attr(since=3)  # its standard error over the probes
    hutchpp_trace: float = attr(since=3)  # Hutch++ (nan when not asked for)
    hutchpp_error: float = attr(since=3)
    hutchpp_products: int = attr(since=3)
    seconds: float = attr(since=3)
    provenance: dict[str, Any] = json_attr(since=3, default_factory=dict)


@dataclass
class TraceRecord:
    """One long run (``phasebench trace``): ``steps`` steps at eta = c / lambda0 (a schedule
    may vary eta_t), measured every ``every`` steps. Row m of the per-measurement arrays is the
    state after ``measured_step[m]`` steps (0: the initialization); ``train_loss`` and
    ``grad_norm`` are of the training batch at that state (the one the next update uses),
    ``eta_t`` the learning rate of that next update and ``threshold`` the optimizer's stability
    threshold there (nan where it is not defined). Written as it goes: a trace not finished yet
    has ``steps_done`` < its config's steps and is not ``diverged``."""

    trace_id: str = key()
    scan_id: str = parent()
    config: dict[str, Any] = json_attr(since=3)
    c: float = attr(since=3)
    eta: float = attr(since=3)  # the target c / lambda0
    measured_step: np.ndarray = array(since=3)  # (M,) int
    loss: np.ndarray = array(since=3)  # (M,) on the fixed loss batch
    train_loss: np.ndarray = array(since=3)  # (M,) the training batch's loss at that state
    grad_norm: np.ndarray = array(since=3)  # (M,) its gradient's norm
    sharpness: np.ndarray = array(since=3)  # (M, k) top-k eigenvalues, column 0 the top
    converged: np.ndarray = array(since=3)  # (M,) bool
    hvps: np.ndarray = array(since=3)  # (M,) int
    eta_t: np.ndarray = array(since=3)  # (M,)
    threshold: np.ndarray = array(since=3)  # (M,) nan where not defined
    threshold_kind: str = attr(since=3)  # "2/eta", "(2+2beta)/eta", "undefined (...)"
    regimes: list[dict[str, Any]] = json_attr(since=3, default_factory=list)
    eos: dict[str, Any] = json_attr(since=3, default_factory=dict)
    diverged: bool = attr(since=3, default=False)
    diverged_step: int = attr(since=3, default=-1)
    steps_done: int = attr(since=3, default=0)
    seconds: float = attr(since=3, default=0.0)
    provenance: dict[str, Any] = json_attr(since=3, default_factory=dict)
    #: The opt-in per-measurement curvature (schema 4; empty unless the config asks), of the
    #: operator the trace measures (provenance ``operator``): the layers' names and (M, B) the
    #: top eigenvalue of each one's diagonal block with (M,) the block products spent; (M,) the
    #: smallest eigenvalue and its products; (M,) the critical sharpness 2 / eta_c, its forward
    #: passes and whether it converged. nan where not measured or not converged.
    layers: list[str] = json_attr(since=4, default_factory=list)
    layer_sharpness: np.ndarray = array(since=4, default_factory=lambda: np.zeros((0, 0)))
    layer_hvps: np.ndarray = array(since=4, default_factory=lambda: np.zeros(0, np.int64))
    smallest: np.ndarray = array(since=4, default_factory=lambda: np.zeros(0))
    smallest_hvps: np.ndarray = array(since=4, default_factory=lambda: np.zeros(0, np.int64))
    critical_sharpness: np.ndarray = array(since=4, default_factory=lambda: np.zeros(0))
    critical_passes: np.ndarray = array(since=4, default_factory=lambda: np.zeros(0, np.int64))
    critical_converged: np.ndarray = array(since=4, default_factory=lambda: np.zeros(0, bool))
    #: The SLQ densities at the config's density_steps (schema 5; empty unless asked), of that
    #: operator on the fixed sharpness batch, one row per density taken so far (D of them, a
    #: step the trace did not reach has none): the step, (D, Q, m) nodes and weights of each of
    #: the Q probes' m Lanczos steps (nan / 0 past a breakdown), the products, and the trace
    #: estimate n * the first moment with its standard error over the probes.
    density_step: np.ndarray = array(since=5, default_factory=lambda: np.zeros(0, np.int64))
    density_nodes: np.ndarray = array(since=5, default_factory=lambda: np.zeros((0, 0, 0)))
    density_weights: np.ndarray = array(since=5, default_factory=lambda: np.zeros((0, 0, 0)))
    density_hvps: np.ndarray = array(since=5, default_factory=lambda: np.zeros(0, np.int64))
    density_trace: np.ndarray = array(since=5, default_factory=lambda: np.zeros(0))
    density_trace_error: np.ndarray = array(since=5, default_factory=lambda: np.zeros(0))

    @property
    def steps(self) -> int:
        """The steps the trace was asked for."""
        return int(self.config["steps"])

    @property
    def finished(self) -> bool:
        """Ran all its steps, or diverged (a killed trace is neither: ``--resume`` goes on)."""
        return self.diverged or self.steps_done >= self.steps
