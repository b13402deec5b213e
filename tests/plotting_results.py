"""Synthetic phasebench results files with known critical constants, written through the real
``ResultsWriter`` from ``ScanRecord``/``RunRecord`` objects (no probe, no torch), for the
plotting and ``show`` tests."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from phasebench.analysis.phases import critical_constants
from phasebench.config import ComponentSpec, ProbeConfig
from phasebench.results.points import finalize
from phasebench.results.records import RunRecord, ScanRecord
from phasebench.results.writer import ResultsWriter

STEPS = 4
TAU = np.linspace(0.0, 1.0, 11)


@dataclass(frozen=True)
class ScanSpec:
    """Where the synthetic trajectories change: the loss catapults from ``c_loss`` on, the
    sharpness rises above lambda0 from ``c_sharp`` on (by 3% only from ``c_sharp_soft``, so
    --sharp-eps 0.05 moves c_sharp), the barrier appears from ``c_barrier`` on, and runs diverge
    from ``c_div`` on. inf: never."""

    c_loss: float = math.inf
    c_sharp: float = math.inf
    c_barrier: float = math.inf
    c_div: float = math.inf
    c_sharp_soft: float = math.inf
    seed: int = 0
    lambda0: float = 20.0
    loss0: float = 0.5


def grid(x_max: float = 4.0, step: float = 0.5) -> list[float]:
    return [2.0**x for x in np.arange(0.0, x_max + 1e-9, step)]


def config_for(
    depth: int | None, width: int | None, seed: int, init: str = "he", model: str = "fcn"
) -> ProbeConfig:
    options = {k: v for k, v in (("depth", depth), ("width", width)) if v is not None}
    return ProbeConfig(
        model=ComponentSpec.of(model, options),
        dataset=ComponentSpec.of("fashion-mnist-subset"),
        init=ComponentSpec.of(init),
        loss=ComponentSpec.of("mse"),
        optimizer=ComponentSpec.of("sgd"),
        estimator=ComponentSpec.of("lanczos"),
        seed=seed,
        steps=STEPS,
        batch_size=64,
        sharpness_examples=128,
        loss_examples=256,
    )


def make_run(config: ProbeConfig, spec: ScanSpec, c: float) -> RunRecord:
    """One run with the arrays ``spec`` prescribes at ``c``."""
    l0, s0 = spec.loss0, spec.lambda0
    peak = 1.5 * c / spec.c_loss if c >= spec.c_loss else 0.8
    loss = l0 * np.array([1.0, peak, 0.5, 0.3, 0.2])
    rise = 1.5 if c >= spec.c_sharp else (1.03 if c >= spec.c_sharp_soft else 0.95)
    sharpness = s0 * np.array([1.0, rise, 0.9, 0.8, 0.7])
    diverged = c >= spec.c_div
    if diverged:
        loss[2], loss[3:] = math.inf, math.nan
        sharpness[2:] = math.nan
        barrier = np.full(0, math.nan)
    elif c >= spec.c_barrier:
        barrier = l0 * (1.0 + 0.5 * np.sin(math.pi * TAU)) * (1 - 0.8 * TAU)
    else:
        barrier = l0 * (1.0 - 0.8 * TAU)
    run_config = config.with_c(c)
    return RunRecord(
        run_id=run_config.run_id,
        scan_id=config.scan_id,
        config=run_config.to_dict(),
        c=c,
        eta=c / s0,
        loss=loss,
        batch_loss=loss[:-1].copy(),
        sharpness=sharpness,
        hvps=np.full(STEPS + 1, 7),
        converged=np.ones(STEPS + 1, dtype=bool),
        barrier_tau=TAU if not diverged else np.full(0, math.nan),
        barrier_loss=barrier,
        diverged=diverged,
        diverged_step=2 if diverged else -1,
        seconds=0.1,
        sharpness_seconds=0.05,
    )


def write_results(
    path: Path,
    scans: list[tuple[ProbeConfig, ScanSpec]],
    cs: list[float] | None = None,
    sharp_eps: float = 0.0,
) -> Path:
    """Write scans (one per (config, spec), the config's seed replaced by the spec's) the way
    ``phasebench run --sharp-eps <sharp_eps>`` does: each scan stops at its first divergence,
    its constants are stored, then the point aggregates. Returns ``path``."""
    cs = cs if cs is not None else grid()
    writer = ResultsWriter(path)
    for config, spec in scans:
        config = ProbeConfig.from_dict({**config.to_dict(), "seed": spec.seed})
        writer.write_scan(
            ScanRecord(
                scan_id=config.scan_id,
                point_id=config.point_id,
                config=config.to_dict(),
                lambda0=spec.lambda0,
                loss0=spec.loss0,
                lambda0_hvps=7,
                lambda0_converged=True,
                lambda0_seconds=0.01,
            )
        )
        runs = []
        for c in cs:
            run = make_run(config, spec, c)
            writer.write_run(run)
            runs.append(run.summary())
            if run.diverged:
                break
        constants = critical_constants(runs, sharp_eps)
        writer.complete_scan(config.scan_id, constants, sharp_eps=sharp_eps)
    finalize(writer)
    return path
