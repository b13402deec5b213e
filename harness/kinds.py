"""The kinds of component, each declared once.

Everything that varies with the kind derives from this table: the registries and the hook each
is filled by (``phasebench.plugins``), the component fields of ``ProbeConfig``
(``phasebench.config``), the CLI's component flags and their defaults, ``phasebench list``, the
conformance kit's check per kind and the words that label a component in tables and figures.

Adding a kind is one entry here, one hook spec in ``phasebench.hookspecs``, its built-in plugins
and its section of docs/plugins.md. A kind with a ``field`` is part of a probe configuration;
an ``optional`` one defaults to None there and is left out of the configuration's hashes while
it is None, so results files written before the kind existed still resume.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Kind:
    """One kind of component."""

    name: str  #: what users type (``phasebench list model``) and the registry's key
    plural: str  #: ``phasebench list models`` works too
    hook: str  #: the hook that fills its registry
    help: str  #: one line: what a component of this kind is
    field: str | None = None  #: its ProbeConfig field (None: not part of a probe's config)
    default: str | None = None  #: the component a probe uses when none is named
    optional: bool = False  #: a ProbeConfig field that defaults to None and is then not hashed
    label: str = ""  #: the word before the component's name in a title ("init he")
    check: str = ""  #: "module:function" of its conformance check in phasebench.testing
    #: What a component of this kind is called with before its options (the contract in its
    #: hook spec); None: it takes no options (commands).
    receives: tuple[str, ...] | None = ()

    @property
    def flag(self) -> str | None:
        """The CLI option that names the component (``--init``), for kinds in a probe."""
        return None if self.field is None else "--" + self.field.replace("_", "-")


KINDS: tuple[Kind, ...] = (
    Kind(
        "model",
        "models",
        "register_models",
        "Model (phasebench list model).",
        field="model",
        default="fcn",
        check="phasebench.testing.models:check_model",
        receives=("input_shape", "num_outputs"),
    ),
    Kind(
        "dataset",
        "datasets",
        "register_datasets",
        "Dataset (phasebench list dataset).",
        field="dataset",
        default="fashion-mnist-subset",
        label="on",
        check="phasebench.testing.datasets:check_dataset",
        receives=("split", "data_dir"),
    ),
    Kind(
        "initialization",
        "initializations",
        "register_initializations",
        "Initialization.",
        field="init",
        default="he",
        label="init",
        check="phasebench.testing.initializations:check_initialization",
        receives=("model", "generator"),
    ),
    Kind(
        "loss",
        "losses",
        "register_losses",
        "Loss.",
        field="loss",
        default="mse",
        label="loss",
        check="phasebench.testing.losses:check_loss",
    ),
    Kind(
        "optimizer",
        "optimizers",
        "register_optimizers",
        "Optimizer.",
        field="optimizer",
        default="sgd",
        check="phasebench.testing.optimizers:check_optimizer",
        receives=("params", "lr"),
    ),
    Kind(
        "estimator",
        "estimators",
        "register_estimators",
        "Sharpness estimator.",
        field="estimator",
        default="lanczos",
        label="sharpness",
        check="phasebench.testing.estimators:check_estimator",
        # the recommended contract (@estimator); the original one received
        # (operator, k, warm_start, generator, return_vectors) and still works
        receives=("operator", "request"),
    ),
    Kind(
        "schedule",
        "schedules",
        "register_schedules",
        "Learning-rate schedule: eta_t from the target eta = c / lambda0.",
        field="schedule",
        default="constant",
        optional=True,
        label="schedule",
        check="phasebench.testing.schedules:check_schedule",
        receives=("eta", "lambda0", "steps"),
    ),
    Kind(
        "executor",
        "executors",
        "register_executors",
        "Executor: what runs the tasks of a sweep.",
        check="phasebench.testing.executors:check_executor",
    ),
    Kind(
        "logger",
        "loggers",
        "register_loggers",
        "Experiment tracker: told of every scan, run and constant as it is written (--logger).",
        check="phasebench.testing.loggers:check_logger",
        # no field: a logger is not part of the experiment and never changes a run id
        receives=("results",),
    ),
    Kind(
        "command",
        "commands",
        "register_commands",
        "A phasebench subcommand.",
        check="phasebench.testing.commands:check_command",
        receives=None,
    ),
)

_BY_NAME = {kind.name: kind for kind in KINDS}
_BY_WORD = {**_BY_NAME, **{kind.plural: kind for kind in KINDS}}


def names() -> list[str]:
    """Every kind's name, in the order ``phasebench list`` shows them."""
    return [kind.name for kind in KINDS]


def get(name: str) -> Kind:
    """The kind called ``name`` (or its plural); KeyError for anything else."""
    return _BY_WORD[name]


def probe_kinds() -> tuple[Kind, ...]:
    """The kinds whose components make up a probe configuration, in field order."""
    return tuple(kind for kind in KINDS if kind.field is not None)


def of_field(field: str) -> Kind:
    """The kind of a ProbeConfig component field (``"init"`` -> initialization)."""
    for kind in probe_kinds():
        if kind.field == field:
            return kind
    raise KeyError(field)
