"""What the trace figures read from a trace: its fields by the names of
``phasebench.results.records.TraceRecord``, from the record itself or from a plain mapping of
those names (a loaded file, ``show --json``), and the regimes' numbers derived from them."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from phasebench.analysis.regimes import Regimes


def get(trace: Any, name: str, default: Any = None) -> Any:
    """Field ``name`` of a trace, a record or a mapping."""
    if isinstance(trace, Mapping):
        return trace.get(name, default)
    return getattr(trace, name, default)


def traces_of(loaded: Any) -> list[Any]:
    """The traces of a loaded results file (``load(path).traces`` or its ``"traces"``: a list,
    or a mapping by trace id); [] when it has none."""
    found = getattr(loaded, "traces", None)
    if found is None and isinstance(loaded, Mapping):
        found = loaded.get("traces")
    if found is None:
        return []
    return list(found.values()) if isinstance(found, Mapping) else list(found)


def top_sharpness(trace: Any) -> np.ndarray:
    """(M,) the top eigenvalue at each measurement (column 0 of a top-k array)."""
    sharp = np.asarray(get(trace, "sharpness"), dtype=float)
    return sharp[:, 0] if sharp.ndim == 2 else sharp.reshape(-1)


def measured(trace: Any) -> np.ndarray:
    """(M,) whether each sharpness is a measurement: finite, positive and converged."""
    sharp = top_sharpness(trace)
    converged = get(trace, "converged")
    ok = np.ones(sharp.size, bool) if converged is None else np.asarray(converged, bool)
    return ok & np.isfinite(sharp) & (sharp > 0)


def regimes(trace: Any) -> Regimes:
    """The stored regimes and EoS statistics of a trace."""
    return Regimes.from_dicts(get(trace, "regimes") or [], get(trace, "eos") or {})


def saturation_sharpness(trace: Any) -> float:
    """The median measured top eigenvalue over the trace's first saturation, relative to the
    sharpness at its first measurement (lambda0 when it starts at initialization); nan when
    it has no saturation or either is unmeasured."""
    window = regimes(trace).first("saturation")
    step = np.asarray(get(trace, "measured_step"), dtype=float)
    sharp, ok = top_sharpness(trace), measured(trace)
    if window is None or not ok.size or not ok[0]:
        return float("nan")
    inside = ok & (step >= window.start) & (step <= window.end)
    return float(np.median(sharp[inside]) / sharp[0]) if inside.any() else float("nan")


def series(traces: Sequence[Any]) -> list[tuple[str, list[Any]]]:
    """The traces grouped by configuration (all but c and the seeds), each group labelled by
    what sets it apart from the others ('depth=4 width=64'; '' for a single group)."""
    from phasebench.analysis.labels import difference_labels

    groups: dict[str, list[Any]] = {}
    configs: dict[str, Mapping[str, Any]] = {}
    for trace in traces:
        config = dict(get(trace, "config") or {})
        key = repr(sorted(_point_items(config)))
        groups.setdefault(key, []).append(trace)
        configs.setdefault(key, {k: v for k, v in config.items() if k not in _PER_TRACE})
    labels = difference_labels(list(configs.values()))
    return [(label, groups[key]) for label, key in zip(labels, groups, strict=True)]


_PER_TRACE = ("c", "seed", "sgd_seed", "device")


def _point_items(config: Mapping[str, Any]) -> Iterable[tuple[str, str]]:
    return ((k, repr(v)) for k, v in config.items() if k not in _PER_TRACE)
