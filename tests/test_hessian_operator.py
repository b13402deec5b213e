"""The Hessian operator: closed forms, backends, batch weighting, side effects, semantics."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from hessian_models import UV, cnn, data, dense_hessian, half_mse, mlp
from torch import nn

from phasebench.errors import UsageError
from phasebench.hessian import operator as operator_module
from phasebench.hessian.operator import HessianOperator

BACKENDS = ["graph", "rev-rev", "fwd-rev"]

torch.set_num_threads(1)


@pytest.mark.parametrize("backend", BACKENDS)
def test_linear_least_squares_is_x_t_x_over_n(backend):
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(40, 7, generator=gen, dtype=torch.float64)
    y = torch.randn(40, 1, generator=gen, dtype=torch.float64)
    model = nn.Linear(7, 1, bias=False).double()
    loss = lambda out, t: 0.5 * (out - t).square().mean()  # noqa: E731
    op = HessianOperator(model, loss, x, y, backend=backend)
    torch.testing.assert_close(op.dense(), x.T @ x / 40, rtol=1e-12, atol=1e-12)
    assert op.hvps == 7 and op.backend == backend


@pytest.mark.parametrize("backend", BACKENDS)
def test_uv_model_hessian_is_jjt_plus_residual_term(backend):
    n, y = 5, 0.7
    model = UV(n, torch.Generator().manual_seed(3))
    x = torch.ones(1, dtype=torch.float64)
    target = torch.full((1,), y, dtype=torch.float64)
    op = HessianOperator(model, half_mse, x, target, backend=backend)
    u, v = model.u.detach(), model.v.detach()
    f = float(v @ u) / math.sqrt(n)
    jac = torch.cat([v, u]) / math.sqrt(n)  # d f / d(u, v)
    swap = torch.zeros(2 * n, 2 * n, dtype=torch.float64)
    swap[:n, n:] = torch.eye(n)
    swap[n:, :n] = torch.eye(n)
    expected = torch.outer(jac, jac) + (f - y) / math.sqrt(n) * swap
    torch.testing.assert_close(op.dense(), expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("kind", ["mlp", "cnn"])
def test_every_backend_matches_autograd_hessian(backend, kind):
    model, shape = (mlp(), (6,)) if kind == "mlp" else (cnn(), (1, 6, 6))
    x, y = data(shape, n=10)
    op = HessianOperator(model, half_mse, x, y, backend=backend)
    torch.testing.assert_close(
        op.dense(), dense_hessian(model, half_mse, x, y), rtol=1e-9, atol=1e-11
    )


def test_batches_weighted_by_size_give_the_hessian_of_the_mean():
    model = mlp()
    x, y = data((6,), n=23)
    whole = HessianOperator(model, half_mse, x, y).dense()
    sizes = [3, 12, 8]
    split = HessianOperator(model, half_mse, list(x.split(sizes)), list(y.split(sizes))).dense()
    torch.testing.assert_close(split, whole, rtol=1e-10, atol=1e-12)
    unweighted = (
        sum(
            HessianOperator(model, half_mse, xb, yb).dense()
            for xb, yb in zip(x.split(sizes), y.split(sizes), strict=True)
        )
        / 3
    )
    assert not torch.allclose(unweighted, whole, rtol=1e-6)


class WithUnused(nn.Module):
    """An MLP plus a parameter the loss does not depend on."""

    def __init__(self) -> None:
        super().__init__()
        self.body = mlp()
        self.unused = nn.Parameter(torch.ones(2, dtype=torch.float64))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)


@pytest.mark.parametrize("backend", BACKENDS)
def test_gradient_is_that_of_the_mean_loss_and_costs_no_product(backend):
    model = WithUnused()
    x, y = data((6,), n=23)
    sizes = [3, 12, 8]
    op = HessianOperator(
        model, half_mse, list(x.split(sizes)), list(y.split(sizes)), backend=backend
    )
    grads = torch.autograd.grad(half_mse(model(x), y), list(model.body.parameters()))
    # the root's own parameter comes first in named_parameters
    expected = torch.cat([torch.zeros(2, dtype=torch.float64)] + [g.reshape(-1) for g in grads])
    torch.testing.assert_close(op.gradient(), expected, rtol=1e-12, atol=1e-14)
    assert op.hvps == 0
    assert all(p.grad is None for p in model.parameters())
    v = op.random_vector(torch.Generator().manual_seed(0))
    assert float(op.matvec(v)[:2].abs().max()) == 0.0  # no curvature along the unused one


def test_no_grad_side_effects_and_parameters_untouched():
    model = mlp()
    before = [p.detach().clone() for p in model.parameters()]
    x, y = data((6,))
    op = HessianOperator(model, half_mse, x, y, backend="graph")
    op.matvec(torch.ones(op.size, dtype=torch.float64))
    assert all(p.grad is None for p in model.parameters())
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True))


def test_counts_every_product_and_calibration_separately():
    operator_module.clear_backend_cache()
    model = mlp(seed=5)
    x, y = data((6,))
    op = HessianOperator(model, half_mse, x, y)
    for _ in range(4):
        op.matvec(torch.ones(op.size, dtype=torch.float64))
    assert op.hvps == 4 and op.calibration_hvps == 6  # 3 backends x 2 timed products
    again = HessianOperator(model, half_mse, x, y)  # the choice is cached: no calibration
    again.matvec(torch.ones(op.size, dtype=torch.float64))
    assert again.hvps == 1 and again.calibration_hvps == 0 and again.backend == op.backend


def test_auto_skips_a_backend_that_raises_and_explicit_choice_reports_it():
    operator_module.clear_backend_cache()
    loss = lambda out, t: 0.5 * F.mse_loss(out, t)  # noqa: E731  jvp(grad) fails on it
    model = mlp()
    x, y = data((6,))
    op = HessianOperator(model, loss, x, y)
    assert op.backend != "fwd-rev" and "fwd-rev" in op.failures
    torch.testing.assert_close(op.dense(), dense_hessian(model, loss, x, y))
    forced = HessianOperator(model, loss, x, y, backend="fwd-rev")
    with pytest.raises(UsageError, match="fwd-rev.*ZeroTensors"):
        forced.matvec(torch.ones(forced.size, dtype=torch.float64))


def test_a_backend_failing_after_it_was_chosen_falls_back():
    loss = lambda out, t: 0.5 * F.mse_loss(out, t)  # noqa: E731
    model = mlp(seed=2)
    x, y = data((6,))
    op = HessianOperator(model, loss, x, y)
    operator_module._CHOICE[op._key] = ("fwd-rev", "rev-rev")  # a stale cached choice
    v = torch.ones(op.size, dtype=torch.float64)
    hv = op.matvec(v)
    assert op.backend == "rev-rev" and op.hvps == 1
    torch.testing.assert_close(hv, dense_hessian(model, loss, x, y) @ v)


def test_float32_and_float64():
    model = mlp()
    x, y = data((6,))
    op32 = HessianOperator(model, half_mse, x, y, dtype="float32")
    op64 = HessianOperator(model, half_mse, x, y, dtype="float64")
    v = torch.randn(op32.size, dtype=torch.float64)
    hv32, hv64 = op32.matvec(v), op64.matvec(v)
    assert hv32.dtype == torch.float32 and hv64.dtype == torch.float64
    torch.testing.assert_close(hv32.double(), hv64, rtol=1e-4, atol=1e-5)
    assert next(model.parameters()).dtype == torch.float64  # the model is not converted


def bn_model() -> nn.Module:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 8), nn.BatchNorm1d(8), nn.Tanh(), nn.Linear(8, 3)).double()
    with torch.no_grad():
        model[1].running_mean.fill_(0.3)
        model[1].running_var.fill_(2.0)
    return model


@pytest.mark.parametrize("mode", ["eval", "train"])
def test_batchnorm_buffers_unchanged_and_semantics(mode):
    model = bn_model().train()  # the user's flag: restored afterwards
    buffers = {n: b.clone() for n, b in model.named_buffers()}
    x, y = data((6,), n=16)
    op = HessianOperator(model, half_mse, x, y, mode=mode)
    hessian = op.dense()
    for name, b in model.named_buffers():
        assert torch.equal(b, buffers[name]), name
    assert model.training and model[1].training
    model.train(mode == "train")
    expected = dense_hessian(model, half_mse, x, y)
    torch.testing.assert_close(hessian, expected, rtol=1e-9, atol=1e-11)


def test_batchnorm_eval_and_train_differ_and_train_depends_on_the_split():
    model = bn_model()
    x, y = data((6,), n=16)
    eval_h = HessianOperator(model, half_mse, x, y).dense()
    train_h = HessianOperator(model, half_mse, x, y, mode="train").dense()
    split_h = HessianOperator(
        model, half_mse, list(x.split(8)), list(y.split(8)), mode="train"
    ).dense()
    assert not torch.allclose(eval_h, train_h)
    assert not torch.allclose(train_h, split_h)  # batch statistics: documented


def test_dropout_train_mode_is_one_fixed_symmetric_operator():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 10), nn.Tanh(), nn.Dropout(0.5), nn.Linear(10, 3)).double()
    x, y = data((6,), n=16)
    train = HessianOperator(model, half_mse, x, y, mode="train", seed=7)
    h = train.dense()
    torch.testing.assert_close(h, train.dense(), rtol=0, atol=0)  # same masks every product
    raw = torch.stack([train.matvec(e) for e in torch.eye(train.size, dtype=torch.float64)])
    torch.testing.assert_close(raw, raw.T, rtol=1e-10, atol=1e-12)
    other = HessianOperator(model, half_mse, x, y, mode="train", seed=8).dense()
    assert not torch.allclose(h, other)  # the seed picks the masks
    evaluated = HessianOperator(model, half_mse, x, y).dense()  # eval: no dropout
    no_dropout = nn.Sequential(model[0], model[1], model[3])
    torch.testing.assert_close(evaluated, dense_hessian(no_dropout, half_mse, x, y))
    state = torch.get_rng_state()
    HessianOperator(model, half_mse, x, y, mode="train").matvec(torch.ones(train.size).double())
    assert torch.equal(state, torch.get_rng_state())  # the global RNG is not consumed


@pytest.mark.parametrize(
    ("inputs", "targets", "message"),
    [
        (torch.zeros(0, 6), torch.zeros(0, 3), "empty"),
        (torch.zeros(5, 6), torch.zeros(4, 3), "5 inputs but 4 targets"),
        (torch.full((5, 6), float("nan")), torch.zeros(5, 3), "inputs contain NaN"),
        (torch.zeros(5, 6), torch.full((5, 3), float("nan")), "targets contain NaN"),
        (torch.zeros(5, 6), torch.zeros(5, 4), "do not match the model's outputs"),
        (torch.zeros(5, 7), torch.zeros(5, 3), "cannot run on inputs of shape"),
        ([torch.zeros(5, 6)], [], "1 input batches but 0 target"),
    ],
)
def test_bad_input_is_one_clear_line(inputs, targets, message):
    with pytest.raises(UsageError, match=message) as info:
        HessianOperator(mlp(), half_mse, inputs, targets, dtype="float64")
    assert "\n" not in str(info.value)


def test_bad_options_are_one_line():
    x, y = data((6,))
    with pytest.raises(UsageError, match="unknown mode"):
        HessianOperator(mlp(), half_mse, x, y, mode="training")
    with pytest.raises(UsageError, match="unknown HVP backend"):
        HessianOperator(mlp(), half_mse, x, y, backend="fast")
    with pytest.raises(UsageError, match="dtype"):
        HessianOperator(mlp(), half_mse, x, y, dtype="float16")
    with pytest.raises(UsageError, match="not finite"):
        HessianOperator(mlp(), lambda o, t: o.sum() * float("inf"), x, y)
