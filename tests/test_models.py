"""The built-in models: registration, parameter counts, output shapes, the uv formula, bad options.

Everything goes through the registry (``components().get("model", name)``), so the
``register_models`` hook of the built-in plugin is tested too.
"""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from phasebench.errors import UsageError
from phasebench.plugins import components

torch.set_num_threads(1)

MNIST, CIFAR, FLAT, SCALAR = (1, 28, 28), (3, 32, 32), (20,), (1,)


def build(name: str, input_shape, num_outputs: int = 10, **options) -> nn.Module:
    registration = components().get("model", name)
    return registration.load()(tuple(input_shape), num_outputs, **registration.options(options))


def count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def test_register_models_registers_the_papers_models_with_defaults():
    registry = components().registry("model")
    assert {"fcn", "myrtle", "resnet", "uv"} <= set(registry.names())
    assert registry.get("fcn").defaults == {
        "depth": 4,
        "width": 128,
        "activation": "relu",
        "bias": False,
        "norm": "none",
    }
    assert registry.get("myrtle").defaults == {"depth": 5, "width": 64}
    assert registry.get("resnet").defaults["norm"] == "none"
    assert set(registry.get("uv").defaults) == {"width", "projection_seed"}
    for registration in registry:
        assert registration.description and isinstance(registration.target, str)


# ---- parameter counts and output shapes ------------------------------------------------------


@pytest.mark.parametrize("shape", [MNIST, CIFAR, FLAT, SCALAR], ids=str)
@pytest.mark.parametrize("depth", [1, 2, 4])
def test_fcn_counts_and_shapes(shape, depth):
    width, k, d_in = 16, 10, math.prod(shape)
    model = build("fcn", shape, k, depth=depth, width=width)
    expected = d_in * k if depth == 1 else d_in * width + (depth - 2) * width**2 + width * k
    assert count(model) == expected
    assert sum(isinstance(m, nn.Linear) for m in model.modules()) == depth
    assert all(m.bias is None for m in model.modules() if isinstance(m, nn.Linear))
    assert model(torch.randn(3, *shape)).shape == (3, k)


def test_fcn_bias_and_activations():
    with_bias = build("fcn", FLAT, 10, depth=3, width=16, bias=True)
    assert count(with_bias) == 20 * 16 + 16 + 16 * 16 + 16 + 16 * 10 + 10
    kinds = {a: build("fcn", FLAT, 10, depth=3, width=16, activation=a) for a in ("tanh", "linear")}
    assert sum(isinstance(m, nn.Tanh) for m in kinds["tanh"].modules()) == 2
    assert not any(isinstance(m, (nn.ReLU, nn.Tanh)) for m in kinds["linear"].modules())
    relu = build("fcn", FLAT, 10, depth=3, width=16)
    assert sum(isinstance(m, nn.ReLU) for m in relu.modules()) == 2


@pytest.mark.parametrize("shape", [MNIST, CIFAR], ids=str)
@pytest.mark.parametrize("depth", [5, 7, 10])
def test_myrtle_counts_and_shapes(shape, depth):
    width, k, channels = 8, 10, shape[0]
    model = build("myrtle", shape, k, depth=depth, width=width)
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    assert len(convs) == depth - 1
    assert all(c.kernel_size == (3, 3) and c.bias is None for c in convs)
    assert sum(isinstance(m, nn.AvgPool2d) for m in model.modules()) == 3
    assert count(model) == 9 * channels * width + 9 * (depth - 2) * width**2 + width * k
    assert model(torch.randn(2, *shape)).shape == (2, k)


def test_myrtle_on_32x32_ends_with_the_authors_two_2x2_pools():
    """The global average equals the authors' two extra 2x2 average pools on a 4x4 map."""
    model = build("myrtle", CIFAR, 10, depth=5, width=4)
    x = torch.randn(2, *CIFAR)
    features = model[:-3](x)  # before AdaptiveAvgPool2d, Flatten, Linear
    assert features.shape[-2:] == (4, 4)
    two_pools = nn.functional.avg_pool2d(nn.functional.avg_pool2d(features, 2), 2).flatten(1)
    torch.testing.assert_close(model[-1](two_pools), model(x))


def resnet_weights(depth: int, width: int, channels: int, k: int) -> int:
    """Conv + Linear weights of a basic-block ResNet, counted block by block."""
    stages = {18: (2, 2, 2, 2), 34: (3, 4, 6, 3)}[depth]
    total, c_in = 49 * channels * width, width
    for stage, blocks in enumerate(stages):
        c = width * 2**stage
        for _ in range(blocks):
            total += 9 * c_in * c + 9 * c * c + (c_in * c if c_in != c else 0)
            c_in = c
    return total + c_in * k


@pytest.mark.parametrize("shape", [MNIST, CIFAR], ids=str)
@pytest.mark.parametrize("depth", [18, 34])
def test_resnet_counts_and_shapes(shape, depth):
    model = build("resnet", shape, 10, depth=depth, width=4)
    assert count(model) == resnet_weights(depth, 4, shape[0], 10)
    assert not any(
        isinstance(m, (nn.BatchNorm2d, nn.GroupNorm, nn.LayerNorm)) for m in model.modules()
    )
    assert model(torch.randn(2, *shape)).shape == (2, 10)


@pytest.mark.parametrize(("depth", "torchvision_count"), [(18, 11_689_512), (34, 21_797_672)])
def test_resnet_with_batch_norm_and_bias_matches_torchvision(depth, torchvision_count):
    """torchvision's resnet18/34 (64 channels, BatchNorm, fc bias, 1000 classes), counted."""
    model = build("resnet", (3, 224, 224), 1000, depth=depth, width=64, norm="batch", bias=True)
    assert count(model) == torchvision_count


@pytest.mark.parametrize("norm", ["layer", "batch"])
def test_resnet_norms_are_pure_functions_of_the_batch(norm):
    model = build("resnet", CIFAR, 10, depth=18, width=4, norm=norm)
    norms = [m for m in model.modules() if isinstance(m, (nn.GroupNorm, nn.BatchNorm2d))]
    assert len(norms) == 1 + 2 * 8 + 3  # stem, two per block, three projections
    assert not list(model.buffers())  # no running statistics to drift
    x = torch.randn(4, *CIFAR)
    torch.testing.assert_close(model(x), model(x))


@pytest.mark.parametrize("shape", [MNIST, CIFAR, FLAT], ids=str)
def test_uv_counts_and_shapes(shape):
    model = build("uv", shape, 10, width=16)
    assert count(model) == 16 + 16 * 10
    assert model(torch.randn(5, *shape)).shape == (5, 10)
    assert [name for name, _ in model.named_buffers()] == ["projection"]


def test_uv_is_the_theory_formula_on_the_single_example():
    model = build("uv", SCALAR, 1, width=32)
    u, v = model.u.weight[:, 0], model.v.weight[0]
    x = torch.tensor([[1.0], [-2.5]])
    expected = (v @ u) * x[:, 0] / math.sqrt(32)
    torch.testing.assert_close(model(x)[:, 0], expected)
    assert list(model.buffers()) == []  # no projection on a scalar input
    # NTK eigenvalue of the one example x = 1: |grad f|^2 = (|u|^2 + |v|^2) / n
    f = model(torch.ones(1, 1)).sum()
    grads = torch.autograd.grad(f, list(model.parameters()))
    ntk = sum(g.square().sum() for g in grads)
    torch.testing.assert_close(ntk, (u.square().sum() + v.square().sum()).detach() / 32)


def test_uv_projection_is_fixed_by_its_seed():
    first, second = build("uv", CIFAR, 10, width=8), build("uv", CIFAR, 10, width=8)
    assert torch.equal(first.projection, second.projection)
    other = build("uv", CIFAR, 10, width=8, projection_seed=1)
    assert not torch.equal(first.projection, other.projection)
    x = torch.randn(4, *CIFAR)
    scalar = x.flatten(1) @ first.projection / math.sqrt(3 * 32 * 32)
    torch.testing.assert_close(first.project(x)[:, 0], scalar)


# ---- what a model cannot take ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "shape", "options", "words"),
    [
        ("fcn", FLAT, {"width": -3}, "width must be a positive integer"),
        ("fcn", FLAT, {"depth": 0}, "depth must be a positive integer"),
        ("fcn", FLAT, {"width": 2.5}, "width must be a positive integer"),
        ("fcn", FLAT, {"activation": "gelu"}, "unknown activation 'gelu'"),
        ("fcn", FLAT, {"bias": "yes"}, "bias must be true or false"),
        ("myrtle", CIFAR, {"depth": 6}, "unknown depth 6; choose one of: 5, 7, 10"),
        ("myrtle", CIFAR, {"width": 0}, "width must be a positive integer"),
        ("resnet", CIFAR, {"depth": 20}, "unknown depth 20; choose one of: 18, 34"),
        ("resnet", CIFAR, {"norm": "group"}, "unknown norm 'group'"),
        ("uv", FLAT, {"width": -1}, "width must be a positive integer"),
        ("myrtle", FLAT, {}, "needs image inputs"),
        ("myrtle", (1, 4, 4), {}, "at least 8x8"),
        ("resnet", SCALAR, {}, "needs image inputs"),
        ("resnet", (3, 8, 8), {}, "at least 16x16"),
    ],
)
def test_bad_options_and_inputs_fail_with_one_line(name, shape, options, words):
    with pytest.raises(UsageError) as error:
        build(name, shape, 10, **options)
    message = str(error.value)
    assert words in message and name in message and "\n" not in message


def test_an_option_a_model_does_not_take_is_a_usage_error():
    with pytest.raises(UsageError, match="has no option 'widht'"):
        components().get("model", "fcn").options({"widht": 8})


def test_bad_num_outputs_and_shapes():
    with pytest.raises(UsageError, match="num_outputs"):
        build("fcn", FLAT, 0)
    with pytest.raises(UsageError, match="input shape"):
        build("uv", (3, 0, 2), 10)
