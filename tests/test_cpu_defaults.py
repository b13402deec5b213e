"""A model's CPU defaults (``register(..., cpu_defaults={...})``, issue 16): applied on
``--device cpu`` only where the user set nothing, said in one line, stored in the configuration
(so the run id is what ran), shown by ``phasebench list``; a model without them is unchanged."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from phasebench import Option, hookimpl, plugins
from phasebench.cli.main import app
from phasebench.errors import PluginError
from phasebench.probe import parameters
from phasebench.results import load

runner = CliRunner()

FCN = "phasebench_builtins.models.fcn:build"
FCN_OPTIONS = [
    Option("depth", 2, "layers", ge=1),
    Option("width", 8, "units", ge=1),
    Option("activation", "relu", "nonlinearity", choices=("relu", "tanh", "linear")),
    Option("bias", False, "biases"),
]
DECLARED = {
    "sharpness_examples": 48,
    "loss_examples": 40,
    "batch_size": 16,
    "x_step": 1.0,
    "model.width": 4,
}


class Models:
    """Two third-party models on the fcn: ``cpu-fcn`` declares CPU defaults, ``plain-fcn``
    (written against the docs before they existed) does not."""

    def __init__(self, declared=None):
        self.declared = DECLARED if declared is None else declared

    @hookimpl
    def register_models(self, register):
        register("cpu-fcn", FCN, description="fcn", options=FCN_OPTIONS,
                 cpu_defaults=self.declared)  # fmt: skip
        register("plain-fcn", FCN, "fcn, as plugins were written before", options=FCN_OPTIONS)


def _components(declared=None):
    return plugins.load_components(extra_plugins=[("cpu-models", Models(declared))])


@pytest.fixture
def components(monkeypatch):
    loaded = _components()
    monkeypatch.setattr(plugins, "_cached", loaded)
    return loaded


def _params(**given):
    return {**parameters.defaults(), **given}


def test_they_apply_where_unset_on_cpu_only(components):
    assert parameters.cpu_defaults(components, _params(model="cpu-fcn"), ()) == DECLARED
    given = {"model": "cpu-fcn", "sharpness_examples": 512}
    applied = parameters.cpu_defaults(components, _params(**given), given)
    assert applied == {k: v for k, v in DECLARED.items() if k != "sharpness_examples"}
    cuda = _params(model="cpu-fcn", device="cuda")
    assert parameters.cpu_defaults(components, cuda, ("model", "device")) == {}
    # --batch-size full sets full_batch: batch_size is the user's choice too
    full = parameters.cpu_defaults(components, _params(model="cpu-fcn"), ("full_batch",))
    assert "batch_size" not in full
    # explicit values of c: no grid to default; a sweep's axis is a value given
    assert "x_step" not in parameters.cpu_defaults(components, _params(model="cpu-fcn"), ("c",))
    swept = _params(model="cpu-fcn", axes={"loss_examples": [8, 16]})
    assert "loss_examples" not in parameters.cpu_defaults(components, swept, ())
    # a model option: unless the user gave it (--width 16, model_options) or swept it
    mine = _params(model="cpu-fcn", model_options={"width": 16})
    assert "model.width" not in parameters.cpu_defaults(components, mine, ())
    widths = _params(model="cpu-fcn", axes={"model.width": [8, 16]})
    assert "model.width" not in parameters.cpu_defaults(components, widths, ())
    over_models = _params(model="cpu-fcn", axes={"model": ["cpu-fcn", "fcn"]})
    assert parameters.cpu_defaults(components, over_models, ()) == {}


def test_a_model_without_them_is_unchanged(components):
    assert components.get("model", "plain-fcn").cpu_defaults == ()
    assert parameters.cpu_defaults(components, _params(model="plain-fcn"), ()) == {}
    assert parameters.cpu_defaults(components, _params(model="fcn"), ()) == {}


def test_a_bad_declaration_is_one_line_naming_the_plugin():
    with pytest.raises(PluginError, match="cpu-models.*'steps_per_hour'.*may set"):
        parameters.cpu_defaults(_components({"steps_per_hour": 3}), _params(model="cpu-fcn"), ())
    bad = plugins.load_components(
        env={"PHASEBENCH_STRICT_PLUGINS": "0"},
        extra_plugins=[("cpu-models", Models({"loss_examples": [1, 2]}))],
    )
    assert "cpu-fcn" not in bad.registry("model")
    assert any("cpu_defaults" in f.error for f in bad.failures)


def test_stored_as_given_so_the_run_id_is_what_ran(components, capsys):
    """The library applies them too (one line on stderr), and the configuration holds the
    values: the same as a user giving them explicitly, so the same id."""
    from phasebench.api import _prepared

    small = {"model": "cpu-fcn", "dataset": "gaussian"}
    _, params, [config] = _prepared(small, {}, "local", components, True)
    assert "cpu-fcn: using its CPU defaults sharpness_examples=48" in capsys.readouterr().err
    assert (config.sharpness_examples, config.loss_examples, config.batch_size) == (48, 40, 16)
    assert params["x_step"] == 1.0 and config.model.opts()["width"] == 4
    explicit_values = {k: v for k, v in DECLARED.items() if k != "model.width"}
    explicit_values["model_options"] = {"width": 4}
    _, _, [explicit] = _prepared({**small, **explicit_values}, {}, "local", components, True)
    assert capsys.readouterr().err == ""
    assert explicit.scan_id == config.scan_id
    _, _, [plain] = _prepared(small, {}, "local", components)  # as trace: not applied
    assert plain.sharpness_examples == parameters.defaults()["sharpness_examples"]


def test_list_shows_them(components):
    result = runner.invoke(app, ["list", "model", "--json"])
    assert result.exit_code == 0, result.output
    rows = {row["name"]: row for row in json.loads(result.stdout)}
    assert rows["cpu-fcn"]["cpu_defaults"] == DECLARED
    assert rows["plain-fcn"]["cpu_defaults"] == {}
    assert "sharpness_examples" in rows["resnet"]["cpu_defaults"]
    table = runner.invoke(app, ["list", "model", "cpu-fcn"], env={"COLUMNS": "200"})
    assert "--sharpness-examples 48" in table.stdout and "--width 4" in table.stdout


class Planned(Exception):
    """Raised by a stand-in for ``study.plan``: the configurations the command would run."""


def _planned_configs(monkeypatch, *args):
    """What ``phasebench ARGS`` would plan, without running it: its configurations and the
    search, and its stderr."""
    from phasebench.probe import study

    def plan(configs, search, *rest, **kwargs):
        raise Planned(list(configs), search)

    monkeypatch.setattr(study, "plan", plan)
    result = runner.invoke(app, list(args))
    assert isinstance(result.exception, Planned), result.output
    configs, search = result.exception.args
    return configs, search, result.stderr


RUN = ("run", "--model", "cpu-fcn", "--dataset", "gaussian")


def test_run_says_and_plans_them_and_a_flag_overrides(components, monkeypatch):
    [config], search, stderr = _planned_configs(monkeypatch, *RUN)
    line = "cpu-fcn: using its CPU defaults --sharpness-examples 48 --loss-examples 40"
    assert line in stderr and "--x-step 1 --width 4 (set any flag to override)" in stderr
    assert (config.sharpness_examples, config.batch_size, config.model.opts()["width"]) == (
        48,
        16,
        4,
    )
    assert search.grid.x_step == 1.0
    given = ("--loss-examples", "24", "--batch-size", "full", "--width", "6", "--x-step", "0.5")
    [config], search, stderr = _planned_configs(monkeypatch, *RUN, *given)
    assert "using its CPU defaults --sharpness-examples 48 (set any flag" in stderr
    assert (config.loss_examples, config.sharpness_examples, config.full_batch) == (24, 48, True)
    assert config.model.opts()["width"] == 6 and search.grid.x_step == 0.5
    _, _, stderr = _planned_configs(monkeypatch, *RUN, "--device", "cuda")
    assert "CPU defaults" not in stderr


def test_sweep_applies_them_but_not_to_a_swept_option(components, monkeypatch):
    [narrow, wide], _, stderr = _planned_configs(
        monkeypatch, "sweep", "--model", "cpu-fcn", "--dataset", "gaussian", "--widths", "2,3"
    )
    assert "--sharpness-examples 48" in stderr and "--width" not in stderr
    assert [narrow.model.opts()["width"], wide.model.opts()["width"]] == [2, 3]
    assert narrow.loss_examples == 40


@pytest.mark.slow
def test_run_stores_what_ran(components, tmp_path):
    """The whole command: the file's configuration holds the CPU defaults it ran with."""
    args = [*RUN, "--steps", "1", "--x-max", "1", "--out", str(tmp_path / "a.h5")]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "cpu-fcn: using its CPU defaults" in result.stderr
    [scan] = load(tmp_path / "a.h5")["scans"].values()
    assert (scan["config"]["sharpness_examples"], scan["config"]["batch_size"]) == (48, 16)
    assert scan["config"]["model"]["options"]["width"] == 4
    assert len(scan["runs"]) == 2  # the declared x_step 1, from 0 to 1
