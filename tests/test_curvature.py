"""The curvature operators: GGN, NTK, Adam's preconditioned Hessian and parameter blocks, checked
against dense references built independently (autograd Jacobians and Hessians)."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from hessian_models import data, dense_hessian, half_mse, mlp
from torch import nn

from phasebench import adaptive, plugins
from phasebench.errors import UsageError
from phasebench.hessian.api import run_estimator
from phasebench.hessian.blocks import parameter_blocks
from phasebench.hessian.curvature import build_operator as _build_operator

ESTIMATORS = {"lanczos": {"tol": 1e-10, "max_iter": 200}, "exact": {}}


def flat_jacobian(model: nn.Module, inputs: torch.Tensor) -> torch.Tensor:
    """(N k, P): d outputs / d theta, by torch.autograd.functional.jacobian."""
    names = [n for n, _ in model.named_parameters()]
    shapes = [p.shape for _, p in model.named_parameters()]
    flat = torch.cat([p.detach().reshape(-1) for p in model.parameters()])

    def f(theta):
        parts, start = {}, 0
        for name, shape in zip(names, shapes, strict=True):
            parts[name] = theta[start : start + math.prod(shape)].view(shape)
            start += math.prod(shape)
        return torch.func.functional_call(model, parts, (inputs,)).reshape(-1)

    return torch.autograd.functional.jacobian(f, flat)


def reference_ggn(model, loss, inputs, targets) -> torch.Tensor:
    jac = flat_jacobian(model, inputs)
    with torch.no_grad():
        outputs = model(inputs)
    h_out = torch.autograd.functional.hessian(
        lambda out: loss(out.view_as(outputs), targets), outputs.reshape(-1)
    )
    return jac.T @ h_out @ jac


def build_operator(*args, **kwargs):
    """The operators under test; the Hessian's backend named (no calibration: test time)."""
    return _build_operator(*args, backend="graph", **kwargs)


def top(operator, estimator="lanczos"):
    result = run_estimator(operator, estimator, options=ESTIMATORS[estimator])
    assert result.converged
    return result.lambda_max


def test_on_a_model_linear_in_its_parameters_the_ggn_is_the_hessian():
    torch.manual_seed(0)
    model = nn.Linear(6, 3).double()
    x, y = data((6,))
    hessian = build_operator("hessian", model, half_mse, x, y)
    ggn = build_operator("ggn", model, half_mse, x, y)
    assert abs(top(hessian) - top(ggn)) <= 1e-6 * top(hessian)
    assert torch.allclose(hessian.dense(), ggn.dense(), rtol=0, atol=1e-12)


def test_on_a_deeper_model_g_and_h_differ_and_each_matches_its_dense_reference():
    model = mlp(width=5)
    x, y = data((6,), n=12)
    want_h = torch.linalg.eigvalsh(dense_hessian(model, half_mse, x, y))[-1].item()
    want_g = torch.linalg.eigvalsh(reference_ggn(model, half_mse, x, y))[-1].item()
    assert abs(want_h - want_g) > 1e-3 * want_h  # the residual term is not negligible here
    for estimator in sorted(ESTIMATORS):
        got_h = top(build_operator("hessian", model, half_mse, x, y), estimator)
        got_g = top(build_operator("ggn", model, half_mse, x, y), estimator)
        assert abs(got_h - want_h) <= 1e-8 * want_h, estimator
        assert abs(got_g - want_g) <= 1e-8 * want_g, estimator


def test_the_ggn_of_cross_entropy_is_j_t_h_out_j_and_positive_semidefinite():
    model = mlp(width=4)
    x, _ = data((6,), n=9)
    labels = torch.arange(9) % 3
    ggn = build_operator("ggn", model, F.cross_entropy, x, labels)
    dense = ggn.dense()
    assert torch.allclose(dense, reference_ggn(model, F.cross_entropy, x, labels), atol=1e-12)
    assert torch.linalg.eigvalsh(dense)[0] > -1e-12


def test_the_ntk_is_the_ggn_times_the_output_count_for_mse_and_its_kernel_is_j_j_t_over_n():
    model = mlp(width=5)
    x, y = data((6,), n=12)
    k, n = y.shape[1], len(x)
    ntk = build_operator("ntk", model, half_mse, x, y)
    ggn = build_operator("ggn", model, half_mse, x, y)
    jac = flat_jacobian(model, x)
    kernel = torch.linalg.eigvalsh(jac @ jac.T / n)[-1].item()  # Theta = J J^T / N
    assert abs(top(ntk) - kernel) <= 1e-9 * kernel
    assert abs(top(ggn) * k - top(ntk)) <= 1e-9 * kernel


def test_the_uv_models_ntk_eigenvalue_is_the_catapult_theorys():
    registry = plugins.components()
    width = 50
    model = registry.load("model", "uv")((1,), 1, width=width, projection_seed=0).double()
    x, y = torch.ones(1, 1, dtype=torch.float64), torch.zeros(1, 1, dtype=torch.float64)
    u, v = model.u.weight[:, 0].detach(), model.v.weight[0].detach()
    want = float((u.square().sum() + v.square().sum()) / width)
    got = top(build_operator("ntk", model, half_mse, x, y))
    assert abs(got - want) <= 1e-10 * want


def adam_steps(model, x, y, steps=3, gi=False, lr=1e-2):
    make = plugins.components().load("optimizer", "adam")
    optimizer = make(model.parameters(), lr, betas=[0.9, 0.99], eps=1e-8, gi=gi)
    for _ in range(steps):
        optimizer.zero_grad()
        half_mse(model(x), y).backward()
        optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    return optimizer


@pytest.mark.parametrize("gi", [False, True])
def test_the_preconditioned_operator_is_the_dense_p_inverse_root_h_p_inverse_root(gi):
    model = mlp(width=4)
    x, y = data((6,), n=10)
    optimizer = adam_steps(model, x, y, gi=gi)
    state = [optimizer.state[p] for p in model.parameters()]
    t = int(state[0]["step"])
    v_hat = torch.cat([s["exp_avg_sq"].reshape(-1) for s in state]) / (1 - 0.99**t)
    p = (1 - 0.9 ** (t + 1)) * (v_hat.sqrt() + 1e-8)
    root = p.rsqrt()
    want = root[:, None] * dense_hessian(model, half_mse, x, y) * root[None, :]
    operator = build_operator("preconditioned", model, half_mse, x, y, optimizer=optimizer)
    assert torch.allclose(operator.dense(), want, rtol=1e-10, atol=1e-10 * want.abs().max())
    expected = torch.linalg.eigvalsh(want)[-1].item()
    assert abs(top(operator) - expected) <= 1e-8 * expected
    value, kind = adaptive.require(optimizer).threshold(1e-2, betas=[0.9, 0.99], eps=1e-8)
    assert value == pytest.approx(38 / 1e-2) and kind == "(2+2beta1)/(eta(1-beta1))"


def test_gi_adam_starts_its_second_moment_at_the_first_gradient_squared():
    torch.manual_seed(0)
    model = nn.Linear(4, 2).double()
    x, y = data((4,), n=8, outputs=2)
    half_mse(model(x), y).backward()
    g0 = model.weight.grad.detach().clone()
    registration = plugins.components().get("optimizer", "adam")
    assert "gi" not in registration.stored()  # at its default: adam's run ids unchanged
    optimizer = registration.load()(model.parameters(), 1e-3, betas=[0.9, 0.999], eps=1e-8, gi=True)
    optimizer.step()
    v = optimizer.state[model.weight]["exp_avg_sq"]
    assert torch.allclose(v, g0.square(), rtol=1e-12)  # beta2 g0^2 + (1 - beta2) g0^2


def test_a_block_operator_is_the_diagonal_block_of_the_full_matrix():
    model = mlp(width=4)
    x, y = data((6,), n=8)
    blocks = parameter_blocks(model)
    assert [name for name, _ in blocks] == ["0", "2", "4"]
    full = {w: build_operator(w, model, half_mse, x, y).dense() for w in ("hessian", "ggn")}
    sizes = dict(model.named_parameters())
    start = 0
    for layer, names in blocks:
        size = sum(sizes[n].numel() for n in names)
        for which, dense in full.items():
            block = build_operator(which, model, half_mse, x, y, block=layer)
            want = dense[start : start + size, start : start + size]
            assert torch.allclose(block.dense(), want, atol=1e-12), (which, layer)
        start += size
    assert all(p.requires_grad for p in model.parameters())  # flags restored


@pytest.mark.parametrize("which", ["hessian", "ggn", "ntk", "preconditioned"])
def test_every_estimator_runs_on_every_operator_unchanged(which):
    model = mlp(width=4)
    x, y = data((6,), n=8)
    optimizer = adam_steps(model, x, y, steps=1)
    values = {}
    for estimator, options in (
        ("exact", {}),
        ("lanczos", {"tol": 1e-10}),
        ("power", {"tol": 1e-10, "max_iter": 3000}),
    ):
        operator = build_operator(which, model, half_mse, x, y, optimizer=optimizer, block="2")
        values[estimator] = run_estimator(operator, estimator, options=options).lambda_max
    assert values["lanczos"] == pytest.approx(values["exact"], rel=1e-8)
    assert values["power"] == pytest.approx(values["exact"], rel=1e-6)


def test_bad_requests_are_one_line_usage_errors():
    model = mlp(width=4)
    x, y = data((6,), n=8)
    with pytest.raises(UsageError, match="unknown curvature operator 'gn'"):
        build_operator("gn", model, half_mse, x, y)
    with pytest.raises(UsageError, match="needs the optimizer"):
        build_operator("preconditioned", model, half_mse, x, y)
    sgd = torch.optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(UsageError, match="declares no preconditioner"):
        build_operator("preconditioned", model, half_mse, x, y, optimizer=sgd)
    with pytest.raises(UsageError, match="unknown parameter block 'nope'"):
        build_operator("ggn", model, half_mse, x, y, block="nope")
    fresh = plugins.components().load("optimizer", "adam")(
        model.parameters(), 0.1, betas=[0.9, 0.999], eps=1e-8
    )
    with pytest.raises(UsageError, match="after its first step"):
        build_operator("preconditioned", model, half_mse, x, y, optimizer=fresh)


def test_the_conformance_check_holds_an_adaptive_optimizer_to_its_declaration():
    from phasebench.testing import ConformanceError
    from phasebench.testing.optimizers import check_optimizer

    registration = plugins.components().get("optimizer", "adam")
    assert check_optimizer(registration.load(), registration.defaults) == "passed"

    @adaptive.adaptive(
        preconditioner=lambda optimizer: torch.zeros(4), threshold=lambda eta, **o: (1.0, "1")
    )
    def broken(params, lr):
        return torch.optim.SGD(params, lr=lr)

    with pytest.raises(ConformanceError, match="not 4 positive finite entries"):
        check_optimizer(broken, {})
