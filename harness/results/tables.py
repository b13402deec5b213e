"""A results file as tidy tables (pandas) and as one labelled array set (xarray).

``rows(loaded, table)`` builds a table's rows as plain dicts (no third-party import);
``to_pandas(path, table)`` and ``to_xarray(path)`` turn them into a ``DataFrame`` or a
``Dataset``, importing pandas / xarray only then (the ``pandas`` and ``xarray`` extras). The
tables, their columns and their meanings are listed in docs/results.md:

- ``runs``: one row per run: its configuration (``model``, ``model.depth``, ...), c, eta,
  lambda0, L0, diverged, diverged_step, its phase and the constants of its scan;
- ``steps``: one row per run and step t = 0..T: loss, batch_loss, sharpness, hvps, converged;
- ``constants``: one row per scan and constant: value, status, lower_bound;
- ``points``: one row per point and constant: the aggregate over its seeds;
- ``traces``: one row per trace (``phasebench trace``): its configuration, c, eta, whether it
  diverged, the EoS statistics and the start and end of each regime;
- ``trace_steps``: one row per trace and measurement: step, loss, train_loss, grad_norm, the
  top-k eigenvalues, eta_t, the threshold, lambda / threshold and the regime it is in;
- ``run_densities``, ``trace_densities``: one row per SLQ density a run or a trace stored
  (``--density-steps``), probe and quadrature node: its Ritz value and weight, with the
  density's products and trace estimate.

Each table is one function of the loaded file in ``TABLES``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from phasebench.analysis.labels import config_columns, point_label
from phasebench.analysis.phases import NAMES, STATUSES, phase_of
from phasebench.analysis.regimes import NAMES as REGIMES
from phasebench.errors import UsageError
from phasebench.results.reader import load
from phasebench.results.summary import (
    ScanSummary,
    point_summaries,
    run_summaries,
    scan_summaries,
)

Loaded = Mapping[str, Any]
Row = dict[str, Any]

#: The per-step arrays of a run, as the steps table's columns.
STEP_COLUMNS = ("loss", "batch_loss", "sharpness", "hvps", "converged")
#: The configuration fields that vary within a point (the dimensions of ``to_xarray``).
SEEDS = ("seed", "sgd_seed")


def _source(source: str | Path | Loaded) -> Loaded:
    """A results file's path, or what ``load`` returned for it."""
    return source if isinstance(source, Mapping) else load(source)


def _keys(scan: ScanSummary) -> Row:
    return {
        "scan_id": scan.scan_id,
        "point_id": scan.point_id,
        "seed": int(scan.config["seed"]),
        "sgd_seed": int(scan.config["sgd_seed"]),
    }


def _finite_or_nan(value: Any) -> float:
    return math.nan if value is None else float(value)


def _constant_columns(scan: ScanSummary) -> Row:
    out: Row = {}
    for name in NAMES:
        constant = scan.constants[name]
        out[name] = constant.value
        out[f"{name}_status"] = constant.status
        out[f"{name}_lower_bound"] = constant.lower_bound
    out["constants_source"] = scan.source
    return out


def runs_rows(loaded: Loaded, sharp_eps: float | None = None) -> list[Row]:
    """One row per run, ordered by point, seeds and c."""
    out = []
    for scan in scan_summaries(loaded, sharp_eps):
        stored = loaded["scans"][scan.scan_id]
        summaries = run_summaries(stored)
        constants = _constant_columns(scan)
        for run_id, run in sorted(stored["runs"].items(), key=lambda item: item[1]["c"]):
            summary = summaries[run_id]
            out.append(
                {
                    "run_id": run_id,
                    **_keys(scan),
                    **config_columns(run["config"], leave_out=("c", *SEEDS)),
                    "c": float(run["c"]),
                    "eta": float(run["eta"]),
                    "lambda0": scan.lambda0,
                    "L0": scan.loss0,
                    "diverged": bool(run["diverged"]),
                    "diverged_step": int(run["diverged_step"]),
                    "phase": phase_of(summary, scan.sharp_eps),
                    "loss_ratio_max": summary.loss_ratio_max,
                    "sharp_ratio_max": summary.sharp_ratio_max,
                    "seconds": float(run["seconds"]),
                    "sharpness_seconds": float(run["sharpness_seconds"]),
                    **constants,
                }
            )
    return out


def step_values(run: Any, layers: Sequence[str] | None = None) -> dict[str, np.ndarray]:
    """A run's per-step arrays aligned on t = 0..T (a ``RunRecord`` or a run as ``load``
    returns it): ``batch_loss`` at t is the minibatch loss at theta_t of the step t -> t+1,
    nan at t = T, which takes no step; then, where the run measured them (``curvature_series``),
    ``sharpness_2`` ... ``sharpness_k``, ``layer_sharpness/<layer>`` (``layers``: the scan's
    layer names, else their positions), ``smallest`` and ``critical_sharpness``. What the
    loggers record of a run."""
    get = _getter(run)
    loss = np.asarray(get("loss"), dtype=float)
    batch = np.full(loss.shape, np.nan)
    given = np.asarray(get("batch_loss"), dtype=float)[: loss.size]
    batch[: given.size] = given
    return {
        "loss": loss,
        "batch_loss": batch,
        "sharpness": np.asarray(get("sharpness"), dtype=float),
        "hvps": np.asarray(get("hvps"), dtype=np.int64),
        "converged": np.asarray(get("converged"), dtype=bool),
        **curvature_series(
            loss.size,
            get("sharpness_top_k"),
            get("layer_sharpness"),
            layers,
            get("smallest"),
            get("critical_sharpness"),
        ),
    }


def _getter(record: Any) -> Callable[[str], Any]:
    """A field of a record or of a record as ``load`` returns it (None where it has none)."""
    if isinstance(record, Mapping):
        return record.get
    return lambda name: getattr(record, name, None)


#: The prefix of each layer's sharpness series (``layer_sharpness/0``, ``layer_sharpness/fc``).
LAYER_SERIES = "layer_sharpness/"


def curvature_series(
    rows: int,
    top_k: Any,
    layer_sharpness: Any,
    layers: Sequence[str] | None,
    smallest: Any,
    critical: Any,
) -> dict[str, np.ndarray]:
    """The opt-in curvature series of a run or a trace with ``rows`` entries, each present only
    where it was measured: ``sharpness_2`` ... ``sharpness_k`` (columns 1.. of the (rows, k)
    ``top_k``), ``layer_sharpness/<layer>`` (a column of the (rows, B) ``layer_sharpness``,
    named by ``layers`` or, without them, by its position), ``smallest`` and
    ``critical_sharpness``."""
    out: dict[str, np.ndarray] = {}
    top = np.asarray(top_k if top_k is not None else (), dtype=float)
    if top.size:
        top = top.reshape(rows, -1)
        out.update({f"sharpness_{j + 1}": top[:, j] for j in range(1, top.shape[1])})
    per_layer = np.asarray(layer_sharpness if layer_sharpness is not None else (), dtype=float)
    if per_layer.size:
        per_layer = per_layer.reshape(rows, -1)
        names = list(layers) if layers else [str(j) for j in range(per_layer.shape[1])]
        out.update({LAYER_SERIES + name: per_layer[:, j] for j, name in enumerate(names)})
    for name, values in (("smallest", smallest), ("critical_sharpness", critical)):
        if values is not None and np.size(values):
            out[name] = np.asarray(values, dtype=float)
    return out


def steps_rows(loaded: Loaded, sharp_eps: float | None = None) -> list[Row]:
    """One row per run and step t = 0..T (t = 0 the initialization); ``step_values``."""
    out = []
    for scan in scan_summaries(loaded, sharp_eps):
        keys = _keys(scan)
        stored = loaded["scans"][scan.scan_id]["runs"]
        for run_id, run in sorted(stored.items(), key=lambda item: item[1]["c"]):
            values = step_values(run)
            for t in range(values["loss"].size):
                out.append(
                    {
                        "run_id": run_id,
                        **keys,
                        "c": float(run["c"]),
                        "step": t,
                        **{name: values[name][t].item() for name in STEP_COLUMNS},
                    }
                )
    return out


def constants_rows(loaded: Loaded, sharp_eps: float | None = None) -> list[Row]:
    """One row per scan and constant: the value (nan unless found), its status and, for an
    above-grid constant, the lower bound the grid gives."""
    out = []
    for scan in scan_summaries(loaded, sharp_eps):
        config = config_columns(scan.config, leave_out=("c", *SEEDS))
        for name in NAMES:
            constant = scan.constants[name]
            out.append(
                {
                    **_keys(scan),
                    **config,
                    "constant": name,
                    "value": constant.value,
                    "status": constant.status,
                    "lower_bound": constant.lower_bound,
                    "source": scan.source,
                    "complete": scan.complete,
                    "sharp_eps": scan.sharp_eps,
                    "lambda0": scan.lambda0,
                    "L0": scan.loss0,
                }
            )
    return out


def points_rows(loaded: Loaded, sharp_eps: float | None = None) -> list[Row]:
    """One row per point and constant: its aggregate over the point's scans (seeds)."""
    out = []
    for point in point_summaries(scan_summaries(loaded, sharp_eps)):
        config = config_columns(point.config, leave_out=("c", *SEEDS))
        for name in NAMES:
            agg = point.aggregates[name]
            out.append(
                {
                    "point_id": point.point_id,
                    "label": point_label(point.config),
                    **config,
                    "constant": name,
                    "mean": agg.mean,
                    "std": agg.std,
                    "min": agg.min,
                    "max": agg.max,
                    "n": agg.n,
                    "of": agg.of,
                    "lower_bound": agg.lower_bound,
                    "bounds": agg.bounds,
                    **{f"n_{s.replace('-', '_')}": agg.count(s) for s in STATUSES},
                    "lambda0_mean": point.lambda0.mean,
                    "L0_mean": point.loss0.mean,
                }
            )
    return out


def trace_values(trace: Any) -> dict[str, np.ndarray]:
    """A trace's per-measurement series by name (loss, train_loss, grad_norm, sharpness (the
    top eigenvalue), eta_t, threshold, ratio = sharpness / threshold, then where the trace
    measured them ``sharpness_2`` ... ``sharpness_k``, ``layer_sharpness/<layer>``,
    ``smallest`` and ``critical_sharpness``: ``curvature_series``), each aligned on
    ``trace.measured_step``: what the loggers record of a trace."""
    rows = len(trace.measured_step)
    top_k = np.asarray(trace.sharpness, dtype=float).reshape(rows, -1)
    sharp = top_k[:, 0]
    threshold = np.asarray(trace.threshold, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(threshold > 0, sharp / threshold, np.nan)
    get = _getter(trace)
    return {
        "loss": np.asarray(trace.loss, dtype=float),
        "train_loss": np.asarray(trace.train_loss, dtype=float),
        "grad_norm": np.asarray(trace.grad_norm, dtype=float),
        "sharpness": sharp,
        "eta_t": np.asarray(trace.eta_t, dtype=float),
        "threshold": threshold,
        "ratio": ratio,
        **curvature_series(
            rows,
            top_k,
            get("layer_sharpness"),
            get("layers"),
            get("smallest"),
            get("critical_sharpness"),
        ),
    }


def _trace_keys(trace: Any) -> Row:
    return {"trace_id": trace.trace_id, "scan_id": trace.scan_id, "c": float(trace.c)}


def traces_rows(loaded: Loaded, sharp_eps: float | None = None) -> list[Row]:
    """One row per trace: its configuration, target eta, outcome, EoS statistics (``eos_*``)
    and each regime's first and last step (``<regime>_start``, ``<regime>_end``; nan when the
    trace does not show it)."""
    out = []
    for trace in sorted(loaded.get("traces") or (), key=lambda t: (t.scan_id, t.c, t.trace_id)):
        row = {
            **_trace_keys(trace),
            **config_columns(trace.config, leave_out=("c",)),
            "eta": float(trace.eta),
            "steps_done": int(trace.steps_done),
            "diverged": bool(trace.diverged),
            "diverged_step": int(trace.diverged_step),
            "threshold_kind": trace.threshold_kind,
            "seconds": float(trace.seconds),
        }
        for key in ("mean", "spread", "start", "end", "measurements"):
            row[f"eos_{key}"] = _finite_or_nan(trace.eos.get(key, math.nan))
        for name in REGIMES:
            found = [r for r in trace.regimes if r["name"] == name]
            row[f"{name}_start"] = float(found[0]["start"]) if found else math.nan
            row[f"{name}_end"] = float(found[-1]["end"]) if found else math.nan
        out.append(row)
    return out


def trace_steps_rows(loaded: Loaded, sharp_eps: float | None = None) -> list[Row]:
    """One row per trace and measurement: the measured arrays (``sharpness`` the top
    eigenvalue, ``sharpness_2`` ... the next ones), ``ratio`` = sharpness / threshold (1 at the
    threshold) and ``regime`` (None outside every regime)."""
    out = []
    for trace in sorted(loaded.get("traces") or (), key=lambda t: (t.scan_id, t.c, t.trace_id)):
        sharp = np.asarray(trace.sharpness, dtype=float).reshape(len(trace.measured_step), -1)
        for m, step in enumerate(np.asarray(trace.measured_step).tolist()):
            regime = next(
                (r["name"] for r in trace.regimes if r["start"] <= step <= r["end"]), None
            )
            threshold = float(trace.threshold[m])
            row = {
                **_trace_keys(trace),
                "step": int(step),
                "loss": float(trace.loss[m]),
                "train_loss": float(trace.train_loss[m]),
                "grad_norm": float(trace.grad_norm[m]),
                "sharpness": float(sharp[m, 0]),
                **{f"sharpness_{j + 1}": float(sharp[m, j]) for j in range(1, sharp.shape[1])},
                "hvps": int(trace.hvps[m]),
                "converged": bool(trace.converged[m]),
                "eta_t": float(trace.eta_t[m]),
                "threshold": threshold,
                "ratio": float(sharp[m, 0]) / threshold if threshold > 0 else math.nan,
                "regime": regime,
                **_trace_curvature(trace, m),
            }
            out.append(row)
    return out


def _trace_curvature(trace, m: int) -> Row:
    """Row m's opt-in curvature columns, where the trace measured them: ``layer:<name>`` per
    layer, ``layer_hvps``, ``smallest`` (+ ``smallest_hvps``), ``critical_sharpness`` (+ its
    passes and converged)."""
    out: Row = {}
    layers = np.asarray(trace.layer_sharpness, dtype=float)
    if layers.size:
        out.update({f"layer:{name}": float(layers[m, j]) for j, name in enumerate(trace.layers)})
        out["layer_hvps"] = int(trace.layer_hvps[m])
    if np.size(trace.smallest):
        out.update(smallest=float(trace.smallest[m]), smallest_hvps=int(trace.smallest_hvps[m]))
    if np.size(trace.critical_sharpness):
        out.update(
            critical_sharpness=float(trace.critical_sharpness[m]),
            critical_passes=int(trace.critical_passes[m]),
            critical_converged=bool(trace.critical_converged[m]),
        )
    return out


def density_rows(keys: Row, record: Any) -> list[Row]:
    """One row per stored density, probe and quadrature node of ``record`` (a run as ``load``
    returns it, or a ``TraceRecord``), each with ``keys``: ``step``, ``probe``, ``node`` (its
    index), ``value`` (the Ritz value), ``weight`` (its squared first component: a probe's
    weights sum to 1), the density's ``hvps``, ``trace`` (n * the first moment) and
    ``trace_error``. A node past a probe's Lanczos breakdown (weight 0) has no row."""
    get = record.get if isinstance(record, Mapping) else partial(getattr, record)
    out = []
    steps = np.asarray(get("density_step", ())).tolist()
    nodes, weights = np.asarray(get("density_nodes")), np.asarray(get("density_weights"))
    for d, step in enumerate(steps):
        density = {
            "step": int(step),
            "hvps": int(get("density_hvps")[d]),
            "trace": float(get("density_trace")[d]),
            "trace_error": float(get("density_trace_error")[d]),
        }
        for p, j in zip(*np.nonzero(weights[d] > 0), strict=True):
            out.append(
                {
                    **keys,
                    "step": density["step"],
                    "probe": int(p),
                    "node": int(j),
                    "value": float(nodes[d, p, j]),
                    "weight": float(weights[d, p, j]),
                    **{k: density[k] for k in ("hvps", "trace", "trace_error")},
                }
            )
    return out


def run_densities_rows(loaded: Loaded, sharp_eps: float | None = None) -> list[Row]:
    """The SLQ densities runs stored (``run --density-steps``): ``density_rows`` of each run,
    keyed by ``run_id``, ``scan_id``, ``point_id``, the seeds and ``c``."""
    out = []
    for scan in scan_summaries(loaded, sharp_eps):
        keys = _keys(scan)
        stored = loaded["scans"][scan.scan_id]["runs"]
        for run_id, run in sorted(stored.items(), key=lambda item: item[1]["c"]):
            out += density_rows({"run_id": run_id, **keys, "c": float(run["c"])}, run)
    return out


def trace_densities_rows(loaded: Loaded, sharp_eps: float | None = None) -> list[Row]:
    """The SLQ densities traces took (``trace --density-steps``): ``density_rows`` of each
    trace, keyed by ``trace_id``, ``scan_id`` and ``c``, with ``operator`` (what the density
    is the spectrum of: ``hessian``, or ``preconditioned`` for an adaptive optimizer)."""
    out = []
    for trace in sorted(loaded.get("traces") or (), key=lambda t: (t.scan_id, t.c, t.trace_id)):
        operator = trace.provenance.get("operator", "hessian")
        out += density_rows({**_trace_keys(trace), "operator": operator}, trace)
    return out


TABLES: dict[str, Callable[..., list[Row]]] = {
    "runs": runs_rows,
    "steps": steps_rows,
    "constants": constants_rows,
    "points": points_rows,
    "traces": traces_rows,
    "trace_steps": trace_steps_rows,
    "run_densities": run_densities_rows,
    "trace_densities": trace_densities_rows,
}


def rows(source: str | Path | Loaded, table: str = "runs", sharp_eps: float | None = None):
    """A table's rows as plain dicts (``table`` one of ``TABLES``)."""
    if table not in TABLES:
        raise UsageError(f"unknown table {table!r}; the tables are: {', '.join(TABLES)}")
    return TABLES[table](_source(source), sharp_eps)


def _pandas(what: str):
    from phasebench.extras import require

    return require("pandas", "pandas", what)


def to_pandas(source: str | Path | Loaded, table: str = "runs", *, sharp_eps: float | None = None):
    """One table of a results file as a ``pandas.DataFrame`` (the ``pandas`` extra).
    ``source``: the file's path, or what ``phasebench.results.load`` returned for it;
    ``sharp_eps``: recompute the constants with this c_sharp threshold (default: as stored)."""
    pd = _pandas("to_pandas")
    found = rows(source, table, sharp_eps)
    columns = list(dict.fromkeys(key for row in found for key in row))
    return pd.DataFrame(found, columns=columns)


#: The dimensions of ``to_xarray``'s variables, by what they describe.
RUN_DIMS = ("point", "seed", "sgd_seed", "c")
STEP_DIMS = (*RUN_DIMS, "step")
SCAN_DIMS = RUN_DIMS[:3]


def to_xarray(source: str | Path | Loaded, *, sharp_eps: float | None = None):
    """A results file as one ``xarray.Dataset`` (the ``xarray`` extra) with labelled
    dimensions ``point`` (its id), ``seed``, ``sgd_seed``, ``c`` and ``step``. Along ``point``
    lie ``label`` and every configuration field as ``config.<column>`` (``config.model.depth``).
    The per-step arrays are on (point, seed, sgd_seed, c, step), the per-run values on (point,
    seed, sgd_seed, c), lambda0, L0 and the constants (value, status, lower bound) on (point,
    seed, sgd_seed). A combination no scan ran is nan ("" for a text); booleans are 1.0 / 0.0
    so that a missing one can be nan."""
    from phasebench.extras import require

    xr = require("xarray", "xarray", "to_xarray")
    pd = _pandas("to_xarray")
    loaded = _source(source)
    runs = to_pandas(loaded, "runs", sharp_eps=sharp_eps).rename(columns={"point_id": "point"})
    steps = to_pandas(loaded, "steps", sharp_eps=sharp_eps).rename(columns={"point_id": "point"})
    if runs.empty:
        return xr.Dataset(attrs=_attrs(loaded))
    per_step = steps.set_index(list(STEP_DIMS))[list(STEP_COLUMNS)]
    per_run = runs.set_index(list(RUN_DIMS))[
        ["run_id", "eta", "diverged", "diverged_step", "phase", "loss_ratio_max", "sharp_ratio_max"]
    ]
    scan_columns = ["scan_id", "lambda0", "L0", *_constant_names(), "constants_source"]
    per_scan = runs.drop_duplicates("scan_id").set_index(list(SCAN_DIMS))[scan_columns]
    ds = xr.merge(
        [_dataset(xr, pd, frame) for frame in (per_step, per_run, per_scan)],
        join="outer",
        compat="no_conflicts",
    )
    point_ids = [str(p) for p in ds["point"].values]
    configs = [_point_config(loaded, p) for p in point_ids]
    columns = [config_columns(c, leave_out=("c", *SEEDS)) for c in configs]
    names = list(dict.fromkeys(name for found in columns for name in found))
    coords = {
        f"config.{name}": ("point", _plain(pd.Series([found.get(name) for found in columns])))
        for name in names
    }
    labels = np.asarray([point_label(c) for c in configs], dtype=str)
    ds = ds.assign_coords(point=np.asarray(point_ids, dtype=str))
    ds = ds.assign_coords(label=("point", labels), **coords)
    ds.attrs.update(_attrs(loaded))
    return ds


def _constant_names() -> list[str]:
    return [f"{n}{suffix}" for n in NAMES for suffix in ("", "_status", "_lower_bound")]


def _plain(series) -> np.ndarray:
    """A column as an array netCDF can hold: numbers as they are, anything else as text."""
    values = series.to_numpy()
    if values.dtype.kind in "biuf":
        return values
    return np.asarray(["" if v is None or v != v else str(v) for v in values], dtype=str)


def _dataset(xr, pd, frame):
    ds = frame.to_xarray()
    for name in list(ds.data_vars):
        values = frame[name]
        if values.dtype == bool:
            ds[name] = ds[name].astype(float)
        elif values.dtype.kind not in "biuf":
            ds[name] = (
                ds[name].dims,
                _plain(pd.Series(ds[name].values.ravel())).reshape(ds[name].shape),
            )
    return ds


def _point_config(loaded: Loaded, point_id: str) -> Mapping[str, Any]:
    scan = next(s for s in loaded["scans"].values() if s["point_id"] == point_id)
    return scan["config"]


def _attrs(loaded: Loaded) -> dict[str, Any]:
    return {k: v for k, v in loaded["attrs"].items() if isinstance(v, (str, int, float))}
