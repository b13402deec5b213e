"""The Python API for notebooks: ``phasebench.probe(...)``, ``phasebench.sweep(...)`` and
``phasebench.trace(...)``.

They take the study parameters of ``phasebench.probe.parameters`` (the names a ``--config``
file uses, and the command line's flags without dashes): ``model="fcn",
model_options={"width": 64}``, ``batch_size=128``, ``seeds=3``, ``c=[1, 2, 4]``,
``axes={"batch_size": [128, 512]}``. Any component may also be a live object of the session:
``model=`` a callable ``(input_shape, num_outputs) -> nn.Module``, ``dataset=`` an
``(inputs, labels)`` pair of tensors; it is registered under a generated name
(``phasebench.probe.live``), runs with the ``local`` executor only, and the file that records it
cannot be rerun from the file alone.

``probe`` and ``sweep`` go through ``phasebench.probe.study.plan`` and ``execute``, the
pipeline of ``phasebench run`` and ``sweep``; ``trace`` through ``phasebench.probe.trace_study``,
that of ``phasebench trace``. Each returns a :class:`Results`: the file, its constants, runs
and traces, tables and figures.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from phasebench.errors import ParameterError

if TYPE_CHECKING:  # pragma: no cover
    from phasebench.plugins import Components
    from phasebench.results.summary import PointSummary

__all__ = ["Figures", "Results", "probe", "sweep", "trace"]


#: ``loggers=``: names (``["mlflow", "tensorboard"]``) or {name: options} of logger components
#: (``--logger`` on the command line), told of every record as it is written.
Loggers = Sequence[str] | Mapping[str, Mapping[str, Any]] | None


def probe(
    *, components: Components | None = None, loggers: Loggers = None, **parameters: Any
) -> Results:
    """The phase probe of one point over its seeds and values of c (``phasebench run``).

    ``parameters``: any of ``phasebench.probe.parameters.NAMES`` but ``axes`` (unknown names:
    one line). ``components``: the registries to use (default: the installed plugins'; a
    ``plugins.load_components(extra_plugins=...)`` for plugins of the session). ``loggers``:
    experiment trackers told of every record (``{"mlflow": {"tracking_uri": ...}}``)."""
    if "axes" in parameters:
        raise ParameterError("probe takes no axes; use phasebench.sweep(axes=...)", "axes")
    return _study(parameters, {}, "local", None, components, loggers)


def sweep(
    *,
    axes: Mapping[str, Sequence[Any]] | None = None,
    executor: str = "local",
    executor_options: Mapping[str, Any] | None = None,
    components: Components | None = None,
    loggers: Loggers = None,
    **parameters: Any,
) -> Results:
    """The probe over every combination of ``axes`` ({key: values}: a protocol field such as
    ``batch_size``, a component such as ``optimizer``, or a component's option such as
    ``model.width``) and seeds, through an executor (``phasebench sweep``; ``local`` here by
    default, ``"process"`` with ``executor_options={"workers": 2}``)."""
    return _study(parameters, dict(axes or {}), executor, executor_options, components, loggers)


def trace(
    *,
    steps: int | None = None,
    every: int | None = None,
    train_examples: int = 0,
    components: Components | None = None,
    loggers: Loggers = None,
    **parameters: Any,
) -> Results:
    """Long runs of one point (``phasebench trace``): for each c of ``c`` (default 1) and seed,
    ``steps`` steps (default 1,000) at eta = c / lambda0, measured every ``every`` steps
    (default 20): loss, training loss, gradient norm, the top ``top_k`` eigenvalues, eta_t and
    the optimizer's stability threshold, with the regimes labelled; ``per_layer=True``,
    ``smallest=True``, ``critical=True`` add each layer's sharpness, the smallest eigenvalue and
    the critical sharpness at every measurement, ``density_steps=(0, 1000)`` the SLQ spectral
    density after those steps (any of 0..steps; ``density_probes`` x ``density_lanczos``
    products each). ``train_examples``: train
    on that many examples (a fixed class-balanced subset); ``full_batch=True`` for
    full-batch gradient descent. The results' ``traces`` are the file's ``TraceRecord``s."""
    from phasebench.probe import trace_study
    from phasebench.probe.paths import default_out
    from phasebench.probe.trace_config import DEFAULT_EVERY, DEFAULT_STEPS, NOT_TRACED, traces_of

    for name in ("axes", *NOT_TRACED):
        if name in parameters:
            raise ParameterError(
                f"trace takes no {name}: it runs the values of c given and measures the loss, "
                "gradient norm, top-k sharpness, threshold and, if asked, per_layer, smallest, "
                "critical and density_steps (phasebench.probe for the rest)",
                name,
            )
    parameters["steps"] = DEFAULT_STEPS if steps is None else steps
    session, params, configs = _prepared(parameters, {}, "local", components)
    every = DEFAULT_EVERY if every is None else every
    traces = traces_of(
        configs, params["c"], every=every, top_k=params["top_k"], train_examples=train_examples
    )
    out = params["out"]
    planned = trace_study.plan(
        traces,
        out if out is not None else default_out(f"trace-{params['model']}"),
        session,
        resume=params["resume"],
        data_dir=params["data_dir"],
        make_dirs=out is None,
    )
    outcome = trace_study.execute(planned, session, loggers=_loggers(session, loggers, planned.out))
    return Results(Path(outcome.path), (), outcome.done, outcome.failed, list(outcome.errors))


def _prepared(
    given: Mapping[str, Any],
    axes: dict[str, Sequence[Any]],
    executor: str,
    components: Components | None,
    cpu_defaults: bool = False,
) -> tuple[Components, dict[str, Any], list]:
    """The session's registries (live objects registered), the study parameters and the
    configurations they describe; unknown names and bad values: one line. ``cpu_defaults``:
    the model's CPU defaults fill what ``given`` and ``axes`` leave unset (one line on stderr
    says which)."""
    import sys

    from phasebench import plugins
    from phasebench.probe import live, parameters

    parameters.check_known(given, [n for n in parameters.NAMES if n != parameters.AXES])
    session = live.session(components if components is not None else plugins.components())
    params = {**parameters.defaults(), **given}
    for name in parameters.COMPONENTS:
        params[name] = _named(session, name, params[name])
    params["axes"] = {
        key: [_named(session, key, v) for v in values] if key in parameters.COMPONENTS else values
        for key, values in parameters.check_axes(axes).items()
    }
    applied = parameters.cpu_defaults(session, params, given) if cpu_defaults else {}
    if applied:
        params = parameters.with_cpu_defaults(params, applied)
        print(parameters.cpu_defaults_line(params["model"], applied), file=sys.stderr)
    configs = parameters.configs(session, params)
    uses_live = any(
        live.is_live(getattr(config, name).name)
        for config in configs
        for name in parameters.COMPONENTS
        if getattr(config, name) is not None
    )
    if uses_live and executor != "local":
        raise ParameterError(
            f"a live object runs in this process only: pass executor 'local', not {executor!r} "
            "(or register the object in a plugin, docs/plugins.md)",
            "executor",
        )
    return session, params, configs


def _study(
    given: Mapping[str, Any],
    axes: dict[str, Sequence[Any]],
    executor: str,
    executor_options: Mapping[str, Any] | None,
    components: Components | None,
    loggers: Loggers = None,
) -> Results:
    from phasebench.probe import parameters, study
    from phasebench.probe.paths import default_out

    session, params, configs = _prepared(given, axes, executor, components, cpu_defaults=True)
    out = params["out"]
    planned = study.plan(
        configs,
        parameters.search_of(params),
        out if out is not None else default_out(str(params["model"])),
        session,
        resume=params["resume"],
        data_dir=params["data_dir"],
        make_dirs=out is None,
    )
    registration = session.get("executor", executor)
    options = registration.options(executor_options or {})
    told = _loggers(session, loggers, planned.out)
    if executor == "local" and not executor_options:
        outcome = study.execute(planned, session, loggers=told)  # here, every torch thread
    else:
        with registration.load()(**options) as pool:
            outcome = study.execute(planned, session, pool, loggers=told)
    return Results(
        Path(outcome.path),
        tuple(params["axes"]),
        outcome.done,
        outcome.failed,
        list(outcome.errors),
    )


def _loggers(components: Components, loggers: Loggers, out: Path):
    """The chosen loggers made for the study writing ``out`` (None when none was asked for);
    an unknown logger or option, or a missing extra, is one line before any work."""
    if not loggers:
        return None
    from phasebench.probe.loggers import build, chosen

    return build(components, chosen(loggers), out)


def _named(components: Components, field_name: str, value: Any) -> Any:
    """A component's name as it is; a live object registered (``phasebench.probe.live``)."""
    from phasebench.probe import live

    if value is None or isinstance(value, str):
        return value
    if field_name == "model" and callable(value):
        return live.register(components, "model", live.model_factory(value), value)
    if field_name == "dataset" and isinstance(value, (tuple, list)) and len(value) == 2:
        return live.register(components, "dataset", live.tensor_dataset(*value), "tensors")
    raise ParameterError(
        f"{field_name} must be a registered name (phasebench list) or, for model, a callable "
        "(input_shape, num_outputs) -> nn.Module and, for dataset, an (inputs, labels) pair; "
        f"got {type(value).__name__}",
        field_name,
    )


class Figures(list):
    """The figures of a results file (``matplotlib.figure.Figure``): a list, shown inline by
    Jupyter as the last value of a cell (``_repr_html_``), each ``fig.savefig(...)``-able."""

    def _repr_html_(self) -> str:
        images = []
        for figure in self:
            buffer = io.BytesIO()
            figure.savefig(buffer, format="png")
            data = base64.b64encode(buffer.getvalue()).decode("ascii")
            images.append(f'<img src="data:image/png;base64,{data}"/>')
        return "<div>" + "".join(images) + "</div>"


@dataclass
class Results:
    """A results file, loaded on first use (``phasebench.results.load``).

    ``path``; ``axes``: the keys the study varied (what ``plot`` draws against); ``done``,
    ``failed`` and ``errors``: what the study ran."""

    path: Path
    axes: tuple[str, ...] = ()
    done: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)

    @classmethod
    def open(cls, path: str | Path, axes: Sequence[str] = ()) -> Results:
        """The results of a file written earlier (by the CLI too)."""
        return cls(Path(path), tuple(axes))

    @cached_property
    def loaded(self) -> dict[str, Any]:
        from phasebench.results import load

        return load(self.path)

    @cached_property
    def points(self) -> list[PointSummary]:
        """Every point of the file with its scans and its constants over seeds."""
        from phasebench.results.summary import point_summaries, scan_summaries

        return point_summaries(scan_summaries(self.loaded))

    @property
    def constants(self) -> list[dict[str, Any]]:
        """One dict per point: ``point_id``, ``label``, its value on every axis, then each
        critical constant over seeds as a ``phasebench.analysis.aggregates.Aggregate``
        (``.mean``, ``.lower_bound`` when the grid ended first: never a number it is not)."""
        from phasebench.config import value_at

        return [
            {
                "point_id": point.point_id,
                "label": point.label,
                **{key: value_at(point.config, key) for key in self.axes},
                **point.aggregates,
            }
            for point in self.points
        ]

    @property
    def runs(self) -> list[dict[str, Any]]:
        """Every run of the file: its stored fields (config, c, eta, the per-step arrays...)
        with its scan's ``scan_id``, ``lambda0`` and ``loss0``, ordered by scan and c."""
        out = []
        for scan_id, scan in sorted(self.loaded["scans"].items()):
            for run_id, run in sorted(scan["runs"].items(), key=lambda item: item[1]["c"]):
                out.append(
                    {
                        "run_id": run_id,
                        "scan_id": scan_id,
                        "lambda0": scan["lambda0"],
                        "loss0": scan["loss0"],
                        **run,
                    }
                )
        return out

    def to_pandas(self, table: str = "runs") -> Any:
        """A tidy table of the file as a pandas DataFrame (``phasebench.results.to_pandas``:
        ``runs``, ``steps``, ``constants``, ``points``, ``traces``, ``trace_steps``,
        ``run_densities``, ``trace_densities``; docs/results.md)."""
        from phasebench.results import to_pandas

        return to_pandas(self.path, table=table)

    @property
    def traces(self) -> list[Any]:
        """The file's traces (``phasebench.trace``), as ``TraceRecord``s."""
        return self.loaded.traces

    def plot(self, x: str | None = None, sharp_eps: float | None = None) -> Figures:
        """Every figure ``phasebench plot`` writes, as matplotlib figures (not saved).
        ``x``: the axis to draw the phase diagram against (``"batch_size"``; default: the
        geometry of depth and width)."""
        from phasebench.plotting.files import figures

        return Figures(figure for _, figure in figures(self.loaded, sharp_eps, x=x))
