"""Every built-in model with every loss, initialization and sharpness estimator, at a small size.

Models, losses and estimators are all taken from the registry, so a new registration is picked
up here without editing the test.
"""

from __future__ import annotations

import importlib.util

import pytest
import torch
from torch import nn

from phasebench.plugins import components

torch.set_num_threads(1)

MNIST, CIFAR, FLAT, SCALAR = (1, 28, 28), (3, 32, 32), (20,), (1,)

#: (model, options, the example shapes it takes) at test size.
MODELS = {
    "fcn": ({"depth": 3, "width": 8}, [MNIST, CIFAR, FLAT, SCALAR]),
    "myrtle": ({"depth": 5, "width": 4}, [MNIST, CIFAR]),
    "resnet": ({"depth": 18, "width": 2}, [MNIST, CIFAR]),
    "uv": ({"width": 8}, [MNIST, CIFAR, FLAT, SCALAR]),
}
LOSSES = ["mse", "xent"]


def build(name: str, shape, num_outputs: int, **options) -> nn.Module:
    registration = components().get("model", name)
    model = registration.load()(tuple(shape), num_outputs, **registration.options(options))
    generator = torch.Generator().manual_seed(0)
    return components().load("initialization", "he")(model, generator)


def batch(shape, num_outputs: int, loss_name: str, size: int = 6):
    generator = torch.Generator().manual_seed(1)
    inputs = torch.randn(size, *shape, generator=generator)
    loss = components().load("loss", loss_name)()
    if num_outputs == 1:  # the theory's regression target
        return inputs, loss, torch.randn(size, 1, generator=generator)
    labels = torch.randint(num_outputs, (size,), generator=generator)
    return inputs, loss, loss.encode_targets(labels, num_outputs)


CASES = [
    (model, shape, loss)
    for model, (_, shapes) in MODELS.items()
    for shape in shapes
    for loss in LOSSES
    if not (shape == SCALAR and loss == "xent")  # one class: cross-entropy is identically 0
]


def test_every_builtin_model_and_loss_is_in_the_matrix():
    assert set(MODELS) == set(components().registry("model").names()) & set(MODELS)
    assert set(LOSSES) <= set(components().registry("loss").names())


@pytest.mark.parametrize(("name", "shape", "loss_name"), CASES, ids=str)
def test_forward_and_gradient(name, shape, loss_name):
    num_outputs = 1 if shape == SCALAR else 10
    model = build(name, shape, num_outputs, **MODELS[name][0])
    inputs, loss, targets = batch(shape, num_outputs, loss_name)
    value = loss(model(inputs), targets)
    assert value.dim() == 0 and torch.isfinite(value)
    params = list(model.parameters())
    grads = torch.autograd.grad(value, params)
    assert all(
        g.shape == p.shape and torch.isfinite(g).all() for g, p in zip(grads, params, strict=True)
    )
    assert all(torch.count_nonzero(g) > 0 for g in grads), "a parameter gets no gradient"


@pytest.mark.parametrize("scheme", sorted(components().registry("initialization").names()))
@pytest.mark.parametrize("name", sorted(MODELS))
def test_every_initialization_on_every_model(name, scheme):
    options, shapes = MODELS[name]
    registration = components().get("model", name)
    model = registration.load()(shapes[0], 10, **registration.options(options))
    initialize = components().get("initialization", scheme)
    model = initialize.load()(model, torch.Generator().manual_seed(2), **initialize.options())
    inputs, loss, targets = batch(shapes[0], 10, "mse")
    value = loss(model(inputs), targets)
    value.backward()
    assert torch.isfinite(value)
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in model.parameters())


# ---- every model with every estimator of the estimators issue --------------------------------

HAS_ESTIMATORS = importlib.util.find_spec("phasebench.hessian.api") is not None
needs_estimators = pytest.mark.skipif(not HAS_ESTIMATORS, reason="phasebench.hessian.api missing")

#: (model, shape) small enough for every estimator; "exact" builds the dense Hessian.
ESTIMATOR_CASES = [("fcn", FLAT), ("myrtle", (1, 8, 8)), ("resnet", (1, 16, 16)), ("uv", SCALAR)]
EXACT_LIMIT = 600  # parameters; the exact Hessian costs one HVP per parameter


def estimator_names() -> list[str]:
    return sorted(components().registry("estimator").names()) if HAS_ESTIMATORS else []


@needs_estimators
@pytest.mark.parametrize(("name", "shape"), ESTIMATOR_CASES, ids=str)
def test_every_model_with_every_estimator(name, shape):
    import phasebench

    num_outputs = 1 if shape == SCALAR else 10
    options = dict(MODELS[name][0], width=1 if name == "resnet" else 4)
    model = build(name, shape, num_outputs, **options)
    inputs, _, targets = batch(shape, num_outputs, "mse", size=8)
    size = sum(p.numel() for p in model.parameters())
    names = [n for n in estimator_names() if n != "exact" or size <= EXACT_LIMIT]
    assert {"power", "lanczos"} <= set(names)
    top = {}
    for estimator in names:
        result = phasebench.sharpness(model, "mse", inputs, targets, estimator=estimator, k=1)
        assert len(result.eigenvalues) == 1 and torch.isfinite(torch.tensor(result.eigenvalues))
        top[estimator] = result.eigenvalues[0]
    reference = top.get("exact", top["lanczos"])
    assert reference > 0
    assert top["lanczos"] == pytest.approx(reference, rel=1e-2)
    # power iteration's Rayleigh quotient never exceeds the top |eigenvalue|
    assert 0.5 * reference <= abs(top["power"]) <= reference * (1 + 1e-3)
