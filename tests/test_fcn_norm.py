"""fcn's ``norm`` option (none / layer / batch): where the layers sit, what they normalize,
that the probe's shortcuts give the plain loop's numbers on a normalized fcn, and that the
option at its default leaves the run ids of fcn configurations as they were."""

from __future__ import annotations

import pytest
import torch
from probe_support import config
from test_probe_shortcuts import _assert_same_run, _both
from torch import nn

from phasebench.plugins import components
from phasebench.probe import trajectory
from phasebench.probe.problem import Problem
from phasebench_builtins.models.fcn import build

torch.set_num_threads(1)


def _fcn(norm: str) -> nn.Sequential:
    return build((1, 8, 8), 10, depth=3, width=32, activation="relu", bias=False, norm=norm)


def test_none_adds_no_layer_and_layer_norm_sits_before_each_activation():
    assert not any(isinstance(m, (nn.LayerNorm, nn.BatchNorm1d)) for m in _fcn("none"))
    kinds = [type(m).__name__ for m in _fcn("layer")]
    assert kinds == [
        "Flatten", "Linear", "LayerNorm", "ReLU", "Linear", "LayerNorm", "ReLU", "Linear"
    ]  # fmt: skip


def test_layer_norm_normalizes_each_example_and_batch_norm_each_unit():
    x = torch.randn(64, 1, 8, 8) * 5 + 3
    layer, batch = _fcn("layer"), _fcn("batch")
    h = layer[2](layer[1](x.flatten(1)))  # after the first LayerNorm
    torch.testing.assert_close(h.mean(1), torch.zeros(64), atol=1e-5, rtol=0)
    h = batch[2](batch[1](x.flatten(1)))  # after the first BatchNorm1d, batch statistics
    torch.testing.assert_close(h.mean(0), torch.zeros(32), atol=1e-5, rtol=0)
    assert batch[2].running_mean is None  # no state: a pure function of parameters and batch


@pytest.mark.parametrize("norm", ["layer", "batch"])
def test_probe_on_a_normalized_fcn_equals_the_plain_loop(monkeypatch, norm):
    cfg = config(
        "fcn",
        {"depth": 3, "width": 32, "norm": norm},
        sharpness_examples=64,
        loss_examples=64,
        batch_size=32,
        steps=3,
        barrier_points=9,
    )
    problem = Problem.build(cfg, components())
    begin = trajectory.start(problem)
    assert begin.record.lambda0 > 0
    plain, fast = _both(monkeypatch, lambda: trajectory.run(problem, begin, 2.0))
    _assert_same_run(plain, fast)


def test_norm_at_its_default_is_left_out_of_stored_configurations():
    """So fcn runs stored before the option existed keep their ids (tests/test_option_since.py
    checks the mechanism on the a7147a9 files)."""
    fcn = components().get("model", "fcn")
    assert "norm" not in fcn.stored({"depth": 3, "norm": "none"})
    assert fcn.stored({"depth": 3, "norm": "layer"})["norm"] == "layer"
