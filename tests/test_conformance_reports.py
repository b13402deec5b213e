"""What the conformance kit blames: a broken model is reported as the model (not as the
initialization tried on it), and plugins that pass alone but clash when loaded together, as
every command loads them, fail the conformance run."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch
from support import EXAMPLE_PLUGIN_SRC, install_fake_distribution, subprocess_env
from torch import nn

from phasebench.testing import ConformanceError, check_plugin
from phasebench.testing.initializations import check_initialization
from phasebench.testing.plugin_checks import check_together

torch.set_num_threads(1)

NAN_MODEL_AND_A_GOOD_INIT = """
import math

import torch
from torch import nn
from phasebench import hookimpl


class NanNet(nn.Module):
    def __init__(self, n_in, n_out):
        super().__init__()
        self.linear = nn.Linear(n_in, n_out)

    def forward(self, x):
        return self.linear(x.flatten(1)) * float("nan")


def build(input_shape, num_outputs):
    return NanNet(math.prod(input_shape), num_outputs)


@torch.no_grad()
def initialize(model, generator):
    for p in model.parameters():
        p.copy_(0.1 * torch.randn(p.shape, generator=generator))
    return model


@hookimpl
def register_models(register):
    register("nan-net", "{name}:build", description="outputs NaN")


@hookimpl
def register_initializations(register):
    register("small-normal", "{name}:initialize", description="N(0, 0.01)")
"""


def test_a_broken_model_is_blamed_on_the_model_not_on_the_initialization(plugin_module):
    name = plugin_module(
        "fake_nan_model", NAN_MODEL_AND_A_GOOD_INIT.replace("{name}", "fake_nan_model")
    )
    report = check_plugin(name)
    assert not report.ok
    [failure] = report.failures
    assert (failure.kind, failure.name) == ("model", "nan-net"), str(report)
    [init] = [r for r in report.results if r.kind == "initialization"]
    assert init.status == "passed", str(report)
    assert "not tried on model 'nan-net', which failed its own check" in init.detail


class _Raises(nn.Module):
    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(6, 3)

    def forward(self, x):
        raise RuntimeError("forward is broken")


class _Nan(_Raises):
    def forward(self, x):
        return self.linear(x) * float("nan")


def _good_init(model, generator):
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn(p.shape, generator=generator))
    return model


@pytest.mark.parametrize(
    ("make", "problem"),
    [
        (_Raises, "raised RuntimeError: forward is broken before any initialization"),
        (_Nan, "gives outputs that are not finite before any initialization"),
    ],
    ids=["raises", "nan"],
)
def test_check_initialization_names_the_broken_model(make, problem):
    with pytest.raises(ConformanceError) as info:
        check_initialization(_good_init, label="init 'good'", models=[("model 'bad'", make, (6,))])
    message = str(info.value)
    assert message.startswith("init 'good' on model 'bad': cannot be checked, the model itself")
    assert problem in message


# -------------------------------------------------- plugins that clash when loaded together
ANOTHER_ORTHOGONAL = """
import torch
from phasebench import hookimpl


@torch.no_grad()
def initialize(model, generator):
    for p in model.parameters():
        p.copy_(0.1 * torch.randn(p.shape, generator=generator))
    return model


@hookimpl
def register_initializations(register):
    register("orthogonal", "fake_other_orthogonal:initialize", description="a second one")
"""


@pytest.fixture
def two_orthogonals(tmp_path):
    """The docs' example plugin and another distribution, both registering initialization
    'orthogonal', installed side by side (dist-info folders on the path)."""
    site = tmp_path / "site"
    install_fake_distribution(
        site, "phasebench-example-plugin", {"phasebench-example-plugin": "phasebench_example"}
    )
    install_fake_distribution(
        site, "other-orthogonal", {"other-orthogonal": "fake_other_orthogonal"}
    )
    (site / "fake_other_orthogonal.py").write_text(ANOTHER_ORTHOGONAL)
    return site


def test_plugins_that_clash_when_loaded_together_are_a_problem(two_orthogonals, monkeypatch):
    monkeypatch.syspath_prepend(str(two_orthogonals))
    monkeypatch.syspath_prepend(str(EXAMPLE_PLUGIN_SRC))
    env = {}
    report = check_together(["phasebench-example-plugin"], env=env)
    assert not report.ok
    [problem] = report.problems
    assert "initialization 'orthogonal' is registered twice" in problem
    assert check_together(["other-orthogonal"], env=env).problems == [problem]
    # disabling one of them (the fix the message names) makes the pair load
    assert check_together(env={"PHASEBENCH_DISABLE_PLUGINS": "other-orthogonal"}).ok


def test_the_conformance_cli_fails_on_two_plugins_that_clash(two_orthogonals):
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "phasebench.testing",
            "phasebench-example-plugin",
            "other-orthogonal",
        ],
        env=subprocess_env(two_orthogonals, EXAMPLE_PLUGIN_SRC),
        capture_output=True,
        text=True,
    )
    assert result.returncode == 1, result.stdout + result.stderr
    # alone, each is fine; together, one of them registers nothing
    assert "plugin phasebench-example-plugin: ok" in result.stdout
    assert "plugin other-orthogonal: ok" in result.stdout
    assert "loaded together): FAILED" in result.stdout
    assert "'orthogonal' is registered twice" in result.stdout
