"""What a probe produces: one ``ScanRecord`` per (initialization, SGD seed) and one ``RunRecord``
per c. Plain numpy and JSON-able values, so executors can ship them between processes."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from phasebench.probe.constants import RunSummary


@dataclass
class ScanRecord:
    """The shared start of every run of a scan: the initialization's lambda0 and L0."""

    scan_id: str
    point_id: str
    config: dict[str, Any]  # the ProbeConfig as a dict; its c is the scan's first c
    lambda0: float
    loss0: float
    lambda0_hvps: int
    lambda0_converged: bool
    lambda0_seconds: float


@dataclass
class RunRecord:
    """One run: ``steps`` SGD steps at eta = c / lambda0. Index t of the per-step arrays is the
    state after t steps (t = 0 is the initialization); values after a divergence are nan."""

    run_id: str
    scan_id: str
    config: dict[str, Any]
    c: float
    eta: float
    loss: np.ndarray  # (T+1,) L_t on the fixed loss batch
    batch_loss: np.ndarray  # (T,) the minibatch loss of step t+1, before its update
    sharpness: np.ndarray  # (T+1,) lambda_t on the fixed sharpness batch
    hvps: np.ndarray  # (T+1,) HVPs spent measuring lambda_t (index 0: lambda0's, shared)
    converged: np.ndarray  # (T+1,) whether the estimator converged
    barrier_tau: np.ndarray  # (P,) positions on the segment theta_0 -> theta_T
    barrier_loss: np.ndarray  # (P,) the loss there (empty when the run diverged)
    diverged: bool
    diverged_step: int  # first step whose loss diverged, -1 if none
    seconds: float
    sharpness_seconds: float
    provenance: dict[str, Any] = field(default_factory=dict)

    def summary(self) -> RunSummary:
        return summarize(self.c, self.diverged, self.loss, self.sharpness, self.barrier_loss)


def summarize(
    c: float, diverged: bool, loss: np.ndarray, sharpness: np.ndarray, barrier_loss: np.ndarray
) -> RunSummary:
    """What the critical constants need from a run's arrays (index 0 is the initialization)."""
    loss0, lambda0 = float(loss[0]), float(sharpness[0])

    def ratio_max(values: np.ndarray, reference: float) -> float:
        finite = values[np.isfinite(values)]
        return float(finite.max() / reference) if finite.size else 0.0

    barrier = bool(barrier_loss.size > 1 and np.nanmax(barrier_loss[1:]) > loss0)
    return RunSummary(
        c=float(c),
        diverged=bool(diverged),
        loss_ratio_max=ratio_max(np.asarray(loss[1:], dtype=float), loss0),
        sharp_ratio_max=ratio_max(np.asarray(sharpness[1:], dtype=float), lambda0),
        barrier=barrier,
    )
