"""How components and points are named in tables, figures and the results file: one function
per meaning, all reading the plain ``{"name", "options"}`` dicts a results file stores (a
``ComponentSpec`` gives that with ``to_dict()``)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from phasebench import kinds

#: The component fields of a probe configuration, in the kind table's order.
COMPONENTS = tuple(kind.field for kind in kinds.probe_kinds())
#: The word before each component in a title ("init he", "on fashion-mnist").
WORDS = {kind.field: f"{kind.label} " if kind.label else "" for kind in kinds.probe_kinds()}


#: The symbol of each learning-rate unit's curvature (``lr_unit``): c = eta * that.
UNIT_SYMBOLS = {
    "hessian": "lambda0",
    "ggn": "lambda_ggn",
    "ntk": "lambda_ntk",
    "critical": "lambda_c",
    "preconditioned": "lambda_P",
}
_UNIT_TEX = {
    "hessian": r"\lambda_0",
    "ggn": r"\lambda_{\mathrm{ggn}}",
    "ntk": r"\lambda_{\mathrm{ntk}}",
    "critical": r"\lambda_{\mathrm{c}}",
    "preconditioned": r"\lambda_{P}",
}


def unit_of(config: Mapping[str, Any]) -> str:
    """The learning-rate unit of a stored configuration ("hessian" before units existed)."""
    return str(config.get("lr_unit", "hessian"))


def c_label(unit: str = "hessian", tex: bool = False) -> str:
    """What c means: 'c = eta * lambda_ggn' (tables, titles), or the mathtext of axis labels."""
    if tex:
        return rf"$c = \eta\,{_UNIT_TEX.get(unit, unit)}$"
    return f"c = eta * {UNIT_SYMBOLS.get(unit, unit)}"


def component_label(spec: Mapping[str, Any], leave_out: Sequence[str] = (), sep: str = ", ") -> str:
    """'fcn(depth=2, width=64)' from a component's {"name", "options"} (``sep=","`` gives the
    compact form of ``ComponentSpec.label`` and of the stored point labels)."""
    options = {k: v for k, v in spec.get("options", {}).items() if k not in leave_out}
    inner = sep.join(f"{k}={v}" for k, v in options.items())
    return f"{spec['name']}({inner})" if inner else str(spec["name"])


def point_label(config: Mapping[str, Any]) -> str:
    """The label a point is stored under: 'fcn(depth=2,width=64) he mse sgd on <dataset>', and
    its schedule when it has one ('... schedule linear(init_c=0.01,warmup_steps=5)')."""
    label = (
        f"{component_label(config['model'], sep=',')} {config['init']['name']} "
        f"{config['loss']['name']} {config['optimizer']['name']} on {config['dataset']['name']}"
    )
    schedule = config.get("schedule")
    return f"{label} schedule {component_label(schedule, sep=',')}" if schedule else label


def config_items(config: Mapping[str, Any]) -> dict[str, str]:
    """A configuration flattened for comparison: each component's name under its field and
    each of its options under the option's name; other settings as text (``device`` left out:
    where a run executed does not change what it is)."""
    out = {}
    for key, value in config.items():
        if isinstance(value, Mapping) and "name" in value:
            out[key] = value["name"]
            for option, v in value.get("options", {}).items():
                out[f"{option}"] = str(v)
        elif key not in ("device",):
            out[key] = str(value)
    return out


def config_columns(config: Mapping[str, Any], leave_out: Sequence[str] = ("c",)) -> dict[str, Any]:
    """A configuration as table columns: each component's name under its field (``model``) and
    each of its options under ``field.option`` (``model.depth``), every other setting under its
    own name; values kept as they are (a list or dict as its JSON text)."""
    out: dict[str, Any] = {}
    for key in sorted(config):
        if key in leave_out:
            continue
        value = config[key]
        if isinstance(value, Mapping) and "name" in value:
            out[key] = value["name"]
            for option, v in sorted(value.get("options", {}).items()):
                out[f"{key}.{option}"] = _column_value(v)
        else:
            out[key] = _column_value(value)
    return out


def _column_value(value: Any) -> Any:
    if isinstance(value, (Mapping, list, tuple)):
        return json.dumps(value, sort_keys=True)
    return value


def difference_labels(configs: Sequence[Mapping[str, Any]]) -> list[str]:
    """For each configuration, what sets it apart from the others ('' for a single one)."""
    flats = [config_items(c) for c in configs]
    if len(flats) < 2:
        return [""] * len(flats)
    keys = [k for k in flats[0] if len({f.get(k) for f in flats}) > 1]
    return [" ".join(f"{k}={f.get(k)}" for k in keys) for f in flats]


def describe(
    config: Mapping[str, Any],
    leave_out_model: Sequence[str] = (),
    width: int = 100,
    leave_out_fields: Sequence[str] = (),
) -> str:
    """A title naming model, dataset, initialization, loss, optimizer and the estimator (all
    but ``leave_out_fields``), wrapped at " · " separators into lines of about ``width``."""
    parts = [
        WORDS[f] + component_label(config[f], leave_out_model if f == "model" else ())
        for f in COMPONENTS
        if config.get(f) is not None and f not in leave_out_fields
    ]
    if len(parts) >= 2 and parts[1].startswith("on ") and "model" not in leave_out_fields:
        parts[:2] = [f"{parts[0]} {parts[1]}"]
    if unit_of(config) != "hessian":
        parts.append(c_label(unit_of(config)))
    return wrap(parts, width)


def wrap(parts: Sequence[str], width: int = 100, sep: str = " · ") -> str:
    """Join ``parts`` with ``sep``, starting a new line before a part that would pass ``width``."""
    lines: list[str] = []
    for part in parts:
        if lines and len(lines[-1]) + len(sep) + len(part) <= width:
            lines[-1] += sep + part
        else:
            lines.append(part)
    return "\n".join(lines)
