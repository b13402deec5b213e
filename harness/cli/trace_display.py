"""How ``show`` presents the traces of a results file: one summary per trace (its final loss,
its final sharpness against the stability threshold, its regimes as stored, the EoS level).
Torch-free."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from phasebench.analysis.labels import point_label
from phasebench.analysis.regime_text import format_regimes
from phasebench.cli.markup import literal
from phasebench.results.records import TraceRecord


def trace_summary(trace: TraceRecord) -> dict[str, Any]:
    """The numbers ``show`` prints for a trace, JSON-ready (nan where not measured)."""
    finite = (
        [i for i, v in enumerate(trace.sharpness[:, 0]) if math.isfinite(v)]
        if len(trace.measured_step)
        else []
    )
    last = finite[-1] if finite else None
    sharp = float(trace.sharpness[last, 0]) if last is not None else math.nan
    threshold = float(trace.threshold[last]) if last is not None else math.nan
    eos = trace.eos or {}
    return {
        "trace_id": trace.trace_id,
        "label": point_label(trace.config),
        "c": trace.c,
        "eta": trace.eta,
        "seed": trace.config["seed"],
        "sgd_seed": trace.config["sgd_seed"],
        "steps": trace.steps,
        "steps_done": trace.steps_done,
        "finished": trace.finished,
        "diverged": trace.diverged,
        "diverged_step": trace.diverged_step,
        "final_loss": float(trace.loss[-1]) if len(trace.loss) else math.nan,
        "final_sharpness": sharp,
        "final_threshold": threshold,
        "sharpness_over_threshold": sharp / threshold if threshold > 0 else math.nan,
        "threshold_kind": trace.threshold_kind,
        "regimes": list(trace.regimes),
        "eos_mean": eos.get("mean", math.nan),
        "eos_spread": eos.get("spread", math.nan),
        **_curvature_summary(trace),
        **_density_summary(trace),
    }


def _last_finite(values) -> float:
    found = [float(v) for v in values if math.isfinite(float(v))]
    return found[-1] if found else math.nan


def _curvature_summary(trace: TraceRecord) -> dict[str, Any]:
    """The last measured value of each opt-in curvature array the trace has."""
    out: dict[str, Any] = {}
    if len(trace.layers) and trace.layer_sharpness.size:
        out["final_layer_sharpness"] = {
            name: _last_finite(trace.layer_sharpness[:, j]) for j, name in enumerate(trace.layers)
        }
    if trace.smallest.size:
        out["final_smallest"] = _last_finite(trace.smallest)
    if trace.critical_sharpness.size:
        out["final_critical_sharpness"] = _last_finite(trace.critical_sharpness)
    return out


def _density_summary(trace: TraceRecord) -> dict[str, Any]:
    """The densities the trace took (``--density-steps``): per step its trace estimate, that
    estimate's standard error and the largest Ritz value (nan where not defined)."""
    steps = np.asarray(trace.density_step).tolist()
    if not steps:
        return {}
    nodes = np.asarray(trace.density_nodes, dtype=float)
    tops = [float(np.nanmax(row)) if np.isfinite(row).any() else math.nan for row in nodes]
    return {
        "densities": [
            {"step": int(step), "trace": float(value), "trace_error": float(error), "top": top}
            for step, value, error, top in zip(
                steps, trace.density_trace, trace.density_trace_error, tops, strict=True
            )
        ]
    }


def density_line(summary: dict[str, Any]) -> str | None:
    """One line of the densities taken: each step's trace estimate +- its standard error and
    its top Ritz value (None when the trace took none)."""
    found = summary.get("densities")
    if not found:
        return None
    parts = [
        f"step {d['step']}: trace {_number(d['trace'])} +- {_number(d['trace_error'], 2)}, "
        f"top {_number(d['top'])}"
        for d in found
    ]
    return "  density (SLQ) at " + "; ".join(parts)


def curvature_line(summary: dict[str, Any]) -> str | None:
    """One line of the per-layer, smallest and critical values (None when none measured)."""
    parts = []
    if "final_layer_sharpness" in summary:
        layers = ", ".join(
            f"{name}={_number(value)}" for name, value in summary["final_layer_sharpness"].items()
        )
        parts.append(f"per layer {layers}")
    if "final_smallest" in summary:
        parts.append(f"smallest {_number(summary['final_smallest'])}")
    if "final_critical_sharpness" in summary:
        parts.append(f"critical {_number(summary['final_critical_sharpness'])}")
    return "  last measured: " + "; ".join(parts) if parts else None


def _number(value: float, digits: int = 4) -> str:
    return "-" if value is None or not math.isfinite(value) else f"{value:.{digits}g}"


def trace_lines(traces: list[TraceRecord]) -> list[str]:
    """Three lines per trace (rich markup, values escaped): what it is, then how it ended; a
    fourth with the last per-layer, smallest and critical values where measured, and one with
    the densities it took."""
    out = []
    for trace in sorted(traces, key=lambda t: (point_label(t.config), t.c, t.config["seed"])):
        s = trace_summary(trace)
        if s["diverged"]:
            steps = f"[red]diverged at step {s['diverged_step']}[/red]"
        elif s["finished"]:
            steps = f"{s['steps']} steps"
        else:
            steps = f"[yellow]unfinished[/yellow] at {s['steps_done']}/{s['steps']} steps"
        ratio = s["sharpness_over_threshold"]
        out.append(
            f"[b]trace[/b] {literal(s['label'])} c={s['c']:g} seed {s['seed']} sgd "
            f"{s['sgd_seed']} [dim]{s['trace_id']}[/dim]"
        )
        out.append(
            f"  {steps}; final loss {_number(s['final_loss'])}; sharpness "
            f"{_number(s['final_sharpness'])} vs threshold {_number(s['final_threshold'])} "
            f"{literal('(' + s['threshold_kind'] + ')')} = {_number(ratio, 3)}"
        )
        out.append(f"  regimes: {literal(format_regimes(trace.regimes, trace.eos))}")
        for line in (curvature_line(s), density_line(s)):
            if line is not None:
                out.append(literal(line))
    return out
