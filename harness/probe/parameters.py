"""A study's parameters, named once: what ``phasebench.probe`` and ``phasebench.sweep`` take,
what a configuration file holds (``--config probe.toml``) and, spelled with dashes, the command
line's flags. ``configs`` turns them into the configurations of a study (every combination of a
sweep's axes, every seed), ``search_of`` into its search: the one way from parameters to
``study.plan``, whoever gives them.

- components: ``model="fcn"`` and ``model_options={"width": 64}`` (one pair per kind in a
  probe: ``dataset``, ``init``, ``loss``, ``optimizer``, ``estimator``, ...);
- the protocol: ``steps``, ``batch_size``, ``sharpness_examples``, ``loss_examples``, ``dtype``,
  ``divergence_threshold``, ``barrier_points``, ``device``;
- the search: ``c`` (explicit values) or ``x_min``/``x_max``/``x_step``, ``search`` (grid or
  bisect), ``bisect_tol``, ``sharp_eps``;
- ``seeds``/``sgd_seeds``: a count (3 = 0, 1, 2) or a list;
- ``axes``: {key: values} of a sweep, a key being a protocol field (``batch_size``), a
  component (``optimizer``) or a component's option (``model.width``);
- ``data_dir``, ``out``, ``resume``.
"""

from __future__ import annotations

import difflib
import itertools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import MISSING, fields
from typing import Any

from phasebench import kinds
from phasebench.config import ProbeConfig
from phasebench.errors import ParameterError
from phasebench.plugins import Components
from phasebench.probe.grid import Grid, Search

#: The component fields (``model``, ``init``, ...), each with its ``<field>_options``.
COMPONENTS: tuple[str, ...] = tuple(kind.field for kind in kinds.probe_kinds())
OPTIONS: dict[str, str] = {f"{name}_options": name for name in COMPONENTS}
#: The ProbeConfig fields a study sets as they are (c comes from the search, seeds from lists).
PROTOCOL: tuple[str, ...] = tuple(
    f.name for f in fields(ProbeConfig) if f.name not in (*COMPONENTS, "c", "seed", "sgd_seed")
)
SEARCH = ("c", "x_min", "x_max", "x_step", "search", "bisect_tol", "sharp_eps")
SEEDS = ("seeds", "sgd_seeds")
FILES = ("data_dir", "out", "resume")
AXES = "axes"
#: What an axis may vary besides components and their options (device is where, not what).
SWEEPABLE = tuple(name for name in PROTOCOL if name != "device")


def defaults() -> dict[str, Any]:
    """Every parameter with its default."""
    config = {f.name: f.default for f in fields(ProbeConfig) if f.default is not MISSING}
    grid, search = Grid(), Search()
    out: dict[str, Any] = {}
    for kind in kinds.probe_kinds():
        out[kind.field] = None if kind.optional else kind.default
        out[f"{kind.field}_options"] = {}
    out.update({name: config[name] for name in PROTOCOL})
    out.update(
        c=None,
        x_min=grid.x_min,
        x_max=grid.x_max,
        x_step=grid.x_step,
        search=search.mode,
        bisect_tol=search.tol,
        sharp_eps=search.sharp_eps,
        seeds=1,
        sgd_seeds=1,
        data_dir=None,
        out=None,
        resume=False,
        axes={},
    )
    return out


NAMES: tuple[str, ...] = tuple(defaults())


def check_known(given: Iterable[str], allowed: Sequence[str], what: str = "parameter") -> None:
    """Every name in ``given`` is one of ``allowed``: else one line naming it, the closest
    names and where the list is."""
    for name in given:
        if name not in allowed:
            close = difflib.get_close_matches(name, allowed, n=2, cutoff=0.6)
            hint = f"did you mean {' or '.join(map(repr, close))}? " if close else ""
            raise ParameterError(
                f"unknown {what} {name!r}; {hint}the {what}s are: {', '.join(allowed)}", name
            )


#: ``seeds 20000`` is a typo, not a study.
MAX_SEED_COUNT = 10_000


def seed_list(value: Any, what: str = "seeds") -> tuple[int, ...]:
    """A count (``3``: seeds 0, 1, 2) or the seeds themselves (``[0, 5, 7]``)."""
    if isinstance(value, int) and not isinstance(value, bool):
        if value < 1:
            raise ParameterError(
                f"{what} {value}: need at least one seed; pass {what} 1 or more", what
            )
        if value > MAX_SEED_COUNT:
            raise ParameterError(
                f"{what} {value} asks for more than {MAX_SEED_COUNT} seeds; pass a smaller "
                f"count, or name the seeds: {what} 0,5,7",
                what,
            )
        return tuple(range(value))
    if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
        raise ParameterError(f"{what} must be a count or a list of seeds, got {value!r}", what)
    seeds = tuple(value)
    if not seeds:
        raise ParameterError(f"{what} names no seed; e.g. {what} 3 or {what} 0,5,7", what)
    if not all(isinstance(s, int) and not isinstance(s, bool) for s in seeds):
        raise ParameterError(f"{what} {list(seeds)!r}: seeds must be integers", what)
    if any(s < 0 for s in seeds) or len(set(seeds)) != len(seeds):
        raise ParameterError(
            f"{what} {','.join(map(str, seeds))!r}: seeds must be distinct non-negative integers",
            what,
        )
    return seeds


def search_of(params: Mapping[str, Any]) -> Search:
    """The search the parameters ask for (an explicit ``c`` list, or the 2^x grid)."""
    c = params.get("c")
    if c is None:
        values: tuple[float, ...] = ()
    else:
        items = [c] if isinstance(c, (int, float)) else list(c)
        if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in items):
            raise ParameterError(f"c must be a number or a list of numbers, got {c!r}", "c")
        values = tuple(float(v) for v in items)
    grid = Grid(values, params["x_min"], params["x_max"], params["x_step"])
    return Search(params["search"], grid, tol=params["bisect_tol"], sharp_eps=params["sharp_eps"])


# -- a model's CPU defaults ----------------------------------------------------------------------
#: What a model's ``cpu_defaults`` may set: the protocol's numbers and the search of c.
CPU_DEFAULTABLE: tuple[str, ...] = (
    *SWEEPABLE,
    *(name for name in SEARCH if name != "c"),
)


def cpu_defaults(
    components: Components, params: Mapping[str, Any], given: Iterable[str]
) -> dict[str, Any]:
    """The chosen model's ``cpu_defaults`` (declared in its registration) for the parameters
    that ``given`` (what the user set), its ``model_options`` and a sweep's axes leave unset:
    on ``device`` cpu, for one model (not a sweep over models). A key is a study parameter of
    ``CPU_DEFAULTABLE`` or ``model.NAME``, an option the model declares. ``with_cpu_defaults``
    puts them into the parameters; the configurations then store them as if the user had
    given them. Any other key is a PluginError naming the plugin."""
    from phasebench.errors import PluginError

    model = params.get("model")
    axes = params.get(AXES) or {}
    if params.get("device") != "cpu" or not isinstance(model, str) or "model" in axes:
        return {}
    registry = components.registry("model")
    if model not in registry:
        return {}
    registration = registry.get(model)
    declared = dict(registration.cpu_defaults)
    options = {f"model.{name}" for name in registration.defaults}
    unknown = [name for name in declared if name not in (*CPU_DEFAULTABLE, *options)]
    if unknown:
        raise PluginError(
            f"model {model!r} of plugin {registration.plugin!r} declares cpu_defaults "
            f"{', '.join(map(repr, unknown))}; they may set model.OPTION (one of its options) "
            f"and: {', '.join(CPU_DEFAULTABLE)}"
        )
    unset = set(given) | set(axes)
    unset |= {f"model.{name}" for name in params.get("model_options") or {}}
    if "batch_size" in unset or "full_batch" in unset:  # one choice, two parameters
        unset |= {"batch_size", "full_batch"}
    if "c" in unset:  # explicit values of c: no grid or search to default
        unset |= set(SEARCH)
    if "x_step" in unset:  # a grid step asks for the grid
        unset |= {"search", "bisect_tol"}
    return {name: value for name, value in declared.items() if name not in unset}


def with_cpu_defaults(params: Mapping[str, Any], applied: Mapping[str, Any]) -> dict[str, Any]:
    """``params`` with the ``applied`` CPU defaults in: ``model.NAME`` into its options."""
    out = dict(params)
    options = dict(out.get("model_options") or {})
    for key, value in applied.items():
        if key.startswith("model."):
            options[key.removeprefix("model.")] = value
        else:
            out[key] = value
    out["model_options"] = options
    return out


def cpu_defaults_line(model: str, applied: Mapping[str, Any]) -> str:
    """``resnet: using its CPU defaults sharpness_examples=256, ... (pass any to override)``,
    what ``phasebench.probe`` and ``sweep`` print on stderr (the CLI says it in flags)."""
    shown = ", ".join(f"{name}={value!r}" for name, value in applied.items())
    return f"{model}: using its CPU defaults {shown} (pass any of them to override)"


# -- axes ----------------------------------------------------------------------------------------
def axis_target(key: str) -> tuple[str, str | None]:
    """What an axis varies: ``("batch_size", None)`` a protocol field, ``("optimizer", None)``
    a component, ``("model", "width")`` a component's option. Anything else: one line."""
    field_name, dot, option = key.partition(".")
    if (field_name in COMPONENTS and (not dot or option)) or (not dot and key in SWEEPABLE):
        return field_name, option or None
    close = difflib.get_close_matches(key, [*SWEEPABLE, *COMPONENTS], n=2, cutoff=0.6)
    hint = f"did you mean {' or '.join(map(repr, close))}? " if close else ""
    raise ParameterError(
        f"unknown axis {key!r}; {hint}an axis is a protocol field ({', '.join(SWEEPABLE)}), a "
        f"component ({', '.join(COMPONENTS)}) or a component's option (model.width)",
        AXES,
    )


def check_axes(axes: Mapping[str, Any] | None) -> dict[str, tuple[Any, ...]]:
    """The axes as {key: values}, each key known and each list non-empty (the values are
    checked with the rest of each configuration)."""
    out = {}
    for key, values in (axes or {}).items():
        axis_target(key)
        if isinstance(values, (str, bytes)) or not isinstance(values, Iterable):
            raise ParameterError(f"axis {key}: give a list of values, got {values!r}", AXES)
        values = tuple(values)
        if not values:
            raise ParameterError(f"axis {key} has no values; give at least one", AXES)
        out[key] = values
    return out


def _protocol_value(key: str, value: Any, where: str) -> Any:
    default = defaults()[key]
    kind = type(default)
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if kind is tuple and isinstance(value, list):  # a list from a TOML or JSON file
        return tuple(value)
    if not isinstance(value, kind) or isinstance(value, bool) is not isinstance(default, bool):
        noun = {int: "an integer", float: "a number", str: "a string"}.get(kind, kind.__name__)
        raise ParameterError(f"{where}: {key} must be {noun}, got {value!r}", key)
    return value


def axis_values(configs: Sequence[ProbeConfig], keys: Sequence[str]) -> list[dict[str, Any]]:
    """Each configuration's value on every axis (what a table or a figure labels it by)."""
    from phasebench.config import value_at

    return [{key: value_at(c.to_dict(), key) for key in keys} for c in configs]


# -- the configurations ----------------------------------------------------------------------------
def configs(components: Components, params: Mapping[str, Any]) -> list[ProbeConfig]:
    """Every configuration the parameters describe: one per combination of the axes (in the
    order given, the last varying fastest), each with every seed and SGD seed. Unknown names,
    options a component does not declare and values it does not accept: one line each."""
    from phasebench.probe.plan import Choices, expand, template

    axes = check_axes(params.get(AXES))
    seeds, sgd_seeds = seed_list(params["seeds"]), seed_list(params["sgd_seeds"], "sgd_seeds")
    out: list[ProbeConfig] = []
    for combination in itertools.product(*axes.values()):
        names = {name: params[name] for name in COMPONENTS}
        options = {name: dict(params.get(f"{name}_options") or {}) for name in COMPONENTS}
        protocol = {name: params[name] for name in PROTOCOL}
        for key, value in zip(axes, combination, strict=True):
            field_name, option = axis_target(key)
            if option is not None:
                options[field_name][option] = value
            elif field_name in COMPONENTS:
                names[field_name] = value
            else:
                protocol[field_name] = _protocol_value(field_name, value, f"axis {key}")
        for name in PROTOCOL:
            protocol[name] = _protocol_value(name, protocol[name], "parameters")
        for name, value in names.items():
            if not isinstance(value, str) and value is not None:
                raise ParameterError(
                    f"{name} must be a component's name, got {value!r}; a live object goes "
                    "through phasebench.probe or phasebench.sweep",
                    name,
                )
        base = template(components, Choices(names, options), **protocol)
        out.extend(expand(base, seeds, sgd_seeds))
    return out


# -- a stored scan ---------------------------------------------------------------------------------
def of_scan(scan: Mapping[str, Any]) -> dict[str, Any]:
    """The parameters that rerun a stored scan (as ``results.load`` gives it) exactly: its
    components with every option, its protocol, its seeds and the values of c it ran (an
    explicit list, so a grid or a bisection gives the same runs again), its c_sharp threshold.
    Where it ran (device, data folder) is not part of it."""
    config = scan["config"]
    params: dict[str, Any] = {}
    for name in COMPONENTS:
        spec = config.get(name)
        if spec is not None:
            params[name] = spec["name"]
            params[f"{name}_options"] = dict(spec.get("options") or {})
    params.update({name: config[name] for name in SWEEPABLE if name in config})
    params["c"] = sorted({float(run["c"]) for run in scan.get("runs", {}).values()})
    params["seeds"] = [int(config["seed"])]
    params["sgd_seeds"] = [int(config["sgd_seed"])]
    if scan.get("sharp_eps") is not None:
        params["sharp_eps"] = float(scan["sharp_eps"])
    return params
