"""The built-in initializations: per-layer variances, output multipliers, determinism, errors.

Statistical tests compare the empirical variance of each layer's weights with its definition,
within 6 standard errors of the sample variance (var * sqrt(2 / n)): a factor of 2 (He vs
LeCun) or a wrong fan is far outside, a correct draw fails about once in 10^8.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys

import pytest
import torch
from torch import nn

from phasebench.errors import UsageError
from phasebench.plugins import components

torch.set_num_threads(1)

INITS = ["he", "lecun", "xavier", "zero-last", "scaled-output", "mup", "ntk"]


def build(name: str, input_shape, num_outputs: int = 10, **options) -> nn.Module:
    registration = components().get("model", name)
    return registration.load()(tuple(input_shape), num_outputs, **registration.options(options))


def init(name: str, model: nn.Module, seed: int = 0, **options) -> nn.Module:
    registration = components().get("initialization", name)
    generator = torch.Generator().manual_seed(seed)
    return registration.load()(model, generator, **registration.options(options))


def layers(model: nn.Module) -> list[nn.Module]:
    return [m for m in model.modules() if isinstance(m, (nn.Linear, nn.Conv2d))]


def assert_variance(weight: torch.Tensor, expected: float) -> None:
    n = weight.numel()
    w = weight.detach().double()
    assert abs(w.mean().item()) <= 6 * math.sqrt(expected / n)
    empirical = w.square().mean().item()
    assert abs(empirical / expected - 1) <= 6 * math.sqrt(2 / n), (empirical, expected)


def test_register_initializations_registers_every_variant():
    registry = components().registry("initialization")
    assert set(INITS) <= set(registry.names())
    assert registry.get("scaled-output").defaults == {"alpha": 1.0}
    assert registry.get("mup").defaults == {"exponent": 1.0}
    assert registry.get("ntk").defaults == {"hidden_variance": 2.0, "last_variance": 1.0}


HIDDEN_AND_LAST = {
    "he": lambda fi, fo: (2 / fi, 1 / fi),
    "lecun": lambda fi, fo: (1 / fi, 1 / fi),
    "xavier": lambda fi, fo: (2 / (fi + fo), 2 / (fi + fo)),
    "scaled-output": lambda fi, fo: (2 / fi, 1 / fi),
    "mup": lambda fi, fo: (2 / fi, 1 / fi),
    "ntk": lambda fi, fo: (1.0, 1.0),
}


@pytest.mark.parametrize("scheme", sorted(HIDDEN_AND_LAST))
def test_fcn_layer_variances_match_the_definition(scheme):
    model = build("fcn", (300,), 64, depth=3, width=200)
    init(scheme, model)
    for index, layer in enumerate(layers(model)):
        fan_in, fan_out = layer.in_features, layer.out_features
        hidden, last = HIDDEN_AND_LAST[scheme](fan_in, fan_out)
        assert_variance(layer.weight, last if index == 2 else hidden)


def test_the_statistical_check_can_fail():
    model = init("lecun", build("fcn", (300,), 64, depth=3, width=200))
    with pytest.raises(AssertionError):
        assert_variance(layers(model)[0].weight, 2 / 300)  # He's variance, not LeCun's


@pytest.mark.parametrize("scheme", ["he", "lecun", "xavier"])
def test_conv_fan_counts_the_kernel(scheme):
    model = init(scheme, build("myrtle", (3, 32, 32), 10, depth=5, width=32))
    conv, hidden_conv = layers(model)[0], layers(model)[1]
    for layer in (conv, hidden_conv):
        fan_in, fan_out = layer.in_channels * 9, layer.out_channels * 9
        assert_variance(layer.weight, HIDDEN_AND_LAST[scheme](fan_in, fan_out)[0])


def test_zero_last_zeroes_only_the_output_layer():
    model = init("zero-last", build("fcn", (300,), 64, depth=3, width=200))
    hidden, _, last = layers(model)
    assert torch.count_nonzero(last.weight) == 0
    assert_variance(hidden.weight, 2 / 300)
    assert torch.count_nonzero(model(torch.randn(4, 300))) == 0


def test_the_last_registered_layer_is_the_output_in_every_builtin_model():
    for name, shape in [("resnet", (3, 32, 32)), ("myrtle", (1, 28, 28)), ("uv", (1,))]:
        model = init("zero-last", build(name, shape, 10 if name != "uv" else 1, width=4))
        outputs = model(torch.randn(2, *shape))
        assert torch.count_nonzero(outputs) == 0, name


@pytest.mark.parametrize("alpha", [0.25, 3.0])
def test_scaled_output_multiplies_the_he_network(alpha):
    model = build("fcn", (20,), 10, depth=3, width=16)
    scaled = init("scaled-output", model, seed=3, alpha=alpha)
    reference = init("he", build("fcn", (20,), 10, depth=3, width=16), seed=3)
    x = torch.randn(5, 20)
    torch.testing.assert_close(scaled(x), alpha * reference(x))
    assert [p.data_ptr() for p in scaled.parameters()] == [p.data_ptr() for p in model.parameters()]


@pytest.mark.parametrize("exponent", [1.0, 0.5])
def test_mup_divides_the_output_by_the_width(exponent):
    scaled = init("mup", build("fcn", (20,), 10, depth=3, width=16), seed=3, exponent=exponent)
    reference = init("he", build("fcn", (20,), 10, depth=3, width=16), seed=3)
    x = torch.randn(5, 20)
    torch.testing.assert_close(scaled(x), reference(x) / 16**exponent)


def test_ntk_equals_he_with_the_multipliers_folded_into_the_weights():
    model = init("ntk", build("fcn", (20,), 10, depth=3, width=16, bias=True), seed=5)
    folded = build("fcn", (20,), 10, depth=3, width=16, bias=True)
    with torch.no_grad():
        for index, (src, dst) in enumerate(zip(layers(model), layers(folded), strict=True)):
            variance = 1.0 if index == 2 else 2.0
            dst.weight.copy_(src.weight * math.sqrt(variance / src.in_features))
            dst.bias.copy_(src.bias)
    x = torch.randn(6, 20)
    torch.testing.assert_close(model(x), folded(x))
    # the parameters stay plain: functional_call sees the multipliers too
    params = {name: p.detach() * 2 for name, p in model.named_parameters()}
    expected = {name: p.detach() * 2 for name, p in folded.named_parameters()}
    torch.testing.assert_close(
        torch.func.functional_call(model, params, (x,)),
        torch.func.functional_call(folded, expected, (x,)),
    )


def test_ntk_on_the_uv_model_is_the_theory_with_unit_weights():
    model = init("ntk", build("uv", (1,), 1, width=64), hidden_variance=1.0, last_variance=1.0)
    u, v = model.u.weight[:, 0], model.v.weight[0]
    torch.testing.assert_close(model(torch.ones(1, 1))[0, 0], (u @ v) / 8)


def test_lecun_draws_the_uv_theorys_unit_normals():
    model = init("lecun", build("uv", (1,), 1, width=20000))
    assert_variance(model.u.weight, 1.0)
    assert_variance(model.v.weight, 1.0)


def test_reinitializing_removes_ntk_multipliers():
    model = init("ntk", build("fcn", (20,), 10, depth=3, width=16))
    init("he", model, seed=1)
    reference = init("he", build("fcn", (20,), 10, depth=3, width=16), seed=1)
    x = torch.randn(3, 20)
    torch.testing.assert_close(model(x), reference(x))


def test_biases_zero_and_norms_reset():
    fcn = build("fcn", (20,), 10, depth=3, width=16, bias=True)
    with torch.no_grad():
        for p in fcn.parameters():
            p.fill_(7.0)
    init("he", fcn)
    assert all(torch.count_nonzero(layer.bias) == 0 for layer in layers(fcn))
    resnet = build("resnet", (3, 32, 32), 10, width=4, norm="layer")
    init("he", resnet)
    norms = [m for m in resnet.modules() if isinstance(m, nn.GroupNorm)]
    assert norms and all(torch.all(m.weight == 1) and torch.all(m.bias == 0) for m in norms)


def test_a_plain_sequential_works_with_every_initialization():
    for scheme in INITS:
        model = nn.Sequential(nn.Linear(5, 7), nn.ReLU(), nn.Linear(7, 3))
        out = init(scheme, model)(torch.randn(2, 5))
        assert out.shape == (2, 3) and torch.isfinite(out).all()
        assert torch.count_nonzero(model[0].bias) == 0


def test_an_unknown_parameter_is_named():
    class Custom(nn.Module):
        def __init__(self):
            super().__init__()
            self.layer = nn.Linear(3, 3)
            self.gain = nn.Parameter(torch.ones(3))

    with pytest.raises(UsageError, match="cannot initialize parameter 'gain' of Custom"):
        init("he", Custom())


def test_a_model_without_layers_and_a_missing_generator_are_usage_errors():
    with pytest.raises(UsageError, match="no nn.Linear or nn.Conv layer"):
        init("he", nn.Sequential(nn.ReLU()))
    with pytest.raises(UsageError, match="torch.Generator"):
        components().load("initialization", "he")(nn.Linear(2, 2), 0)


@pytest.mark.parametrize(
    ("scheme", "options", "words"),
    [
        ("scaled-output", {"alpha": "big"}, "alpha must be a finite number"),
        ("mup", {"exponent": float("nan")}, "exponent must be a finite number"),
        ("ntk", {"hidden_variance": -1.0}, "hidden_variance must be a positive number"),
    ],
)
def test_bad_options_fail_with_one_line(scheme, options, words):
    with pytest.raises(UsageError) as error:
        init(scheme, nn.Linear(2, 2), **options)
    assert words in str(error.value) and "\n" not in str(error.value)


# ---- determinism ----------------------------------------------------------------------------

CASES = [
    ("fcn", [1, 28, 28], {"width": 16, "depth": 3}),
    ("myrtle", [3, 32, 32], {"width": 8}),
    ("resnet", [3, 32, 32], {"width": 4, "norm": "layer"}),
    ("uv", [3, 32, 32], {"width": 16}),
]

DIGEST_SCRIPT = """
import hashlib, json, sys, torch
torch.set_num_threads(1)
torch.manual_seed(int(sys.argv[1]))  # the global RNG must not matter
from phasebench.plugins import components
c = components()
digests = {}
for name, shape, options in json.loads(sys.argv[2]):
    for scheme in json.loads(sys.argv[3]):
        reg = c.get("model", name)
        model = reg.load()(tuple(shape), 10, **reg.options(options))
        init = c.get("initialization", scheme)
        model = init.load()(model, torch.Generator().manual_seed(1234), **init.options())
        h = hashlib.sha256()
        for key, tensor in model.state_dict().items():
            h.update(key.encode()); h.update(tensor.numpy().tobytes())
        digests[name + "/" + scheme] = h.hexdigest()
print(json.dumps(digests))
"""


def digests(global_seed: int) -> dict[str, str]:
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            DIGEST_SCRIPT,
            str(global_seed),
            json.dumps(CASES),
            json.dumps(INITS),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout)


def test_same_seed_same_weights_bit_for_bit_across_processes():
    first, second = digests(0), digests(99)
    assert first == second
    assert len(first) == len(CASES) * len(INITS)
    # and different generator seeds give different weights
    a = init("he", build("fcn", (20,), 10, depth=2, width=8), seed=1)
    b = init("he", build("fcn", (20,), 10, depth=2, width=8), seed=2)
    assert not torch.equal(a[1].weight, b[1].weight)


def test_initializations_leave_the_global_rng_alone():
    model = build("fcn", (20,), 10, depth=3, width=8)
    state = torch.get_rng_state()
    for scheme in INITS:
        init(scheme, model)
    assert torch.equal(state, torch.get_rng_state())
