"""Every estimator against exact answers: MLPs and CNNs in float64 on every backend, hard
spectra (negative, clustered, low rank), warm starts, k, and refusals."""

from __future__ import annotations

import pytest
import torch
from hessian_models import cnn, data, half_mse, mlp, quadratic_problem

from phasebench.errors import UsageError
from phasebench.hessian.api import run_estimator, sharpness
from phasebench.hessian.operator import HessianOperator

torch.set_num_threads(1)
BACKENDS = ["graph", "rev-rev", "fwd-rev"]


def exact_spectrum(op: HessianOperator) -> torch.Tensor:
    return torch.linalg.eigvalsh(op.dense())


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("kind", ["mlp", "cnn"])
def test_estimators_match_exact_in_float64(kind, backend):
    model, shape = (mlp(), (6,)) if kind == "mlp" else (cnn(), (1, 6, 6))
    x, y = data(shape, n=12)
    op = HessianOperator(model, half_mse, x, y, backend=backend)
    spectrum = exact_spectrum(op)
    top3 = spectrum.flip(0)[:3]
    exact = run_estimator(op, "exact", 3)
    torch.testing.assert_close(
        torch.tensor(exact.eigenvalues, dtype=torch.float64), top3, rtol=1e-10, atol=1e-12
    )
    lanczos = run_estimator(op, "lanczos", 3, options={"tol": 1e-10})
    assert lanczos.converged and lanczos.backend == backend
    torch.testing.assert_close(
        torch.tensor(lanczos.eigenvalues, dtype=torch.float64), top3, rtol=1e-8, atol=1e-10
    )
    assert lanczos.hvps < op.size
    magnitude = spectrum[spectrum.abs().argmax()]
    power = run_estimator(op, "power", 1, options={"tol": 1e-7, "max_iter": 3000})
    assert power.converged
    assert abs(power.lambda_max - float(magnitude)) <= 1e-6 * abs(float(magnitude))


def test_lanczos_top1_reaches_1e6_within_20_products_on_an_mlp():
    model = mlp(width=16)
    x, y = data((6,), n=32)
    op = HessianOperator(model, half_mse, x, y)
    top = float(exact_spectrum(op)[-1])
    result = run_estimator(op, "lanczos", 1, options={"tol": 1e-4})
    assert result.converged and result.hvps <= 20
    assert abs(result.lambda_max - top) / top < 1e-6


def test_power_reports_the_largest_magnitude_and_lanczos_the_largest():
    model, loss, x, y = quadratic_problem([-5.0, 3.0, 1.0, 0.5, 0.1, -0.2])
    power = sharpness(model, loss, x, y, estimator="power", max_iter=200, tol=1e-8)
    assert power.converged and power.lambda_max == pytest.approx(-5.0, rel=1e-7)
    lanczos = sharpness(model, loss, x, y, k=2, tol=1e-10)
    assert lanczos.eigenvalues == pytest.approx((3.0, 1.0), rel=1e-9)
    magnitude = sharpness(model, loss, x, y, k=2, which="magnitude", tol=1e-10)
    assert magnitude.eigenvalues == pytest.approx((-5.0, 3.0), rel=1e-9)
    smallest = sharpness(model, loss, x, y, k=1, which="smallest", tol=1e-10)
    assert smallest.lambda_max == pytest.approx(-5.0, rel=1e-9)


def test_power_says_when_it_did_not_converge_on_a_symmetric_pair():
    model, loss, x, y = quadratic_problem([-3.0, 3.0] + [0.5] * 10)
    power = sharpness(model, loss, x, y, estimator="power")  # the paper's 20 iterations
    assert not power.converged and power.hvps == 20
    assert power.residuals[0] > 1e-3 * abs(power.lambda_max)
    lanczos = sharpness(model, loss, x, y, tol=1e-10)
    assert lanczos.converged and lanczos.lambda_max == pytest.approx(3.0, rel=1e-9)


def test_clustered_top_eigenvalues():
    values = [1.0, 0.999, 0.998] + list(torch.linspace(0.0, 0.5, 40).tolist())
    model, loss, x, y = quadratic_problem(values)
    lanczos = sharpness(model, loss, x, y, k=3, tol=1e-10, max_iter=43)
    assert lanczos.converged
    assert lanczos.eigenvalues == pytest.approx((1.0, 0.999, 0.998), rel=1e-9)
    # 20 steps cannot resolve a 0.1% gap: the eigenvalue is close, the vector is not, and a
    # strict residual rule says so
    power = sharpness(model, loss, x, y, estimator="power", tol=1e-6)
    assert not power.converged and power.hvps == 20
    assert power.lambda_max == pytest.approx(1.0, rel=3e-3)


def test_lanczos_breakdown_on_a_low_rank_hessian_restarts_for_more_values():
    model, loss, x, y = quadratic_problem([2.0, 1.0] + [0.0] * 8)
    one = sharpness(model, loss, x, y, k=1, tol=1e-10)
    assert one.converged and one.lambda_max == pytest.approx(2.0, rel=1e-12)
    assert one.hvps <= 3  # the Krylov space is invariant after two steps
    three = sharpness(model, loss, x, y, k=3, tol=1e-10, return_vectors=True)
    assert three.converged
    assert three.eigenvalues == pytest.approx((2.0, 1.0, 0.0), abs=1e-10)
    assert three.eigenvectors.shape == (3, 10)


@pytest.mark.parametrize("estimator", ["power", "lanczos"])
def test_warm_start_converges_faster(estimator):
    model = mlp(width=16)
    x, y = data((6,), n=32)
    options = {"tol": 1e-6, "max_iter": 500}
    cold = sharpness(model, half_mse, x, y, estimator=estimator, return_vectors=True, **options)
    with torch.no_grad():  # one small "training step"
        for p in model.parameters():
            p.add_(1e-3 * torch.randn_like(p))
    fresh = sharpness(model, half_mse, x, y, estimator=estimator, seed=1, **options)
    warm = sharpness(
        model, half_mse, x, y, estimator=estimator, warm_start=cold.eigenvectors, **options
    )
    assert warm.converged and fresh.converged
    assert warm.hvps < fresh.hvps
    assert warm.lambda_max == pytest.approx(fresh.lambda_max, rel=1e-5)


def one_hot_problem(seed: int):
    """A ReLU MLP with MSE on one-hot targets: the probe's kind of problem, in small."""
    torch.manual_seed(seed)
    model = torch.nn.Sequential(
        torch.nn.Linear(20, 64),
        torch.nn.ReLU(),
        torch.nn.Linear(64, 64),
        torch.nn.ReLU(),
        torch.nn.Linear(64, 10),
    ).double()
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(256, 20, generator=gen, dtype=torch.float64)
    y = torch.nn.functional.one_hot(torch.randint(0, 10, (256,), generator=gen), 10).double()
    return model, x, y


def test_gradient_start_converges_in_fewer_products_than_a_gaussian_start():
    seeded = gaussian = 0
    for seed in range(4):
        model, x, y = one_hot_problem(seed)
        grad = sharpness(model, half_mse, x, y, seed=seed, tol=1e-4)
        rand = sharpness(model, half_mse, x, y, seed=seed, tol=1e-4, start="random")
        assert grad.converged and rand.converged
        assert grad.lambda_max == pytest.approx(rand.lambda_max, rel=1e-7)
        assert grad.hvps <= rand.hvps
        seeded, gaussian = seeded + grad.hvps, gaussian + rand.hvps
    assert seeded < 0.85 * gaussian  # measured: 62 against 77


def test_gradient_start_falls_back_to_gaussian_at_zero_gradient_and_for_smallest():
    model, loss, x, y = quadratic_problem([3.0, 2.0, 1.0, -1.0, 0.5, 0.25])
    with torch.no_grad():
        model.theta.zero_()  # the loss is theta^T A theta / 2: a zero gradient
    for which in ("largest", "smallest"):
        grad = sharpness(model, loss, x, y, which=which, tol=1e-10)
        rand = sharpness(model, loss, x, y, which=which, tol=1e-10, start="random")
        assert grad.eigenvalues == rand.eigenvalues and grad.hvps == rand.hvps
    model, loss, x, y = quadratic_problem([3.0, 2.0, 1.0, -1.0, 0.5, 0.25])  # theta != 0
    smallest = sharpness(model, loss, x, y, which="smallest", tol=1e-10)
    assert smallest.lambda_max == pytest.approx(-1.0, rel=1e-9)
    assert smallest.hvps == sharpness(model, loss, x, y, which="smallest", start="random").hvps
    with pytest.raises(UsageError, match="unknown start 'bogus'; choose one of: gradient, random"):
        sharpness(model, loss, x, y, start="bogus")


def test_eigenvectors_are_unit_and_satisfy_the_residual():
    model = mlp()
    x, y = data((6,))
    op = HessianOperator(model, half_mse, x, y)
    for name in ("lanczos", "power", "exact"):
        result = run_estimator(
            op, name, 2, return_vectors=True, options={"tol": 1e-6} if name != "exact" else {}
        )
        assert result.eigenvectors.shape == (2, op.size)
        v = result.eigenvectors[0]
        assert float(v.norm()) == pytest.approx(1.0, rel=1e-9)
        hv = op.matvec(v)
        assert float((hv - result.lambda_max * v).norm()) <= max(
            result.residuals[0] * 1.01, 1e-9
        ), name


@pytest.mark.parametrize("estimator", ["power", "lanczos", "exact"])
def test_k_larger_than_the_parameter_count_is_one_line(estimator):
    model, loss, x, y = quadratic_problem([1.0, 2.0, 3.0])
    with pytest.raises(UsageError, match=r"k=4 is larger than the number of parameters \(3\)"):
        sharpness(model, loss, x, y, estimator=estimator, k=4)


def test_exact_refuses_instead_of_exhausting_memory():
    model = mlp()
    x, y = data((6,))
    with pytest.raises(UsageError, match="exact: the Hessian of .* parameters needs") as info:
        sharpness(model, half_mse, x, y, estimator="exact", max_bytes=1000)
    assert "lanczos" in str(info.value) and "\n" not in str(info.value)
    big = torch.nn.Linear(100_000, 10)  # 1e6 parameters: 24 TB
    with pytest.raises(UsageError, match="exact: the Hessian of 1,000,010 parameters"):
        sharpness(big, half_mse, torch.zeros(2, 100_000), torch.zeros(2, 10), estimator="exact")


def test_float32_estimates_agree_with_float64():
    model = mlp()
    x, y = data((6,))
    r64 = sharpness(model, half_mse, x, y, dtype="float64", tol=1e-8)
    r32 = sharpness(model, half_mse, x, y, dtype="float32", tol=1e-4)
    assert r32.lambda_max == pytest.approx(r64.lambda_max, rel=1e-5)


def test_bad_warm_start_is_one_line():
    model = mlp()
    x, y = data((6,))
    with pytest.raises(UsageError, match="warm start of shape"):
        sharpness(model, half_mse, x, y, warm_start=torch.ones(3))
    n = sum(p.numel() for p in model.parameters())
    with pytest.raises(UsageError, match="zero or not finite"):
        sharpness(model, half_mse, x, y, warm_start=torch.zeros(n))


def test_eigenvalue_stop_needs_fewer_products_for_the_accuracy_tol_promises():
    """Warm-started after a small step, Lanczos' eigenvalue rule (min(r, max(r^2 / gap,
    change)) <= tol |theta|) stops no later than the residual rule and still lands within
    tol |lambda| of the exact top eigenvalue; ``auto`` is the residual rule, bit for bit."""
    model = mlp(width=16)
    x, y = data((6,), n=32)
    cold = sharpness(model, half_mse, x, y, tol=1e-8, return_vectors=True)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(1e-2 * torch.randn(p.shape, generator=torch.Generator().manual_seed(3)))
    top = float(exact_spectrum(HessianOperator(model, half_mse, x, y))[-1])
    found = {
        stop: sharpness(model, half_mse, x, y, warm_start=cold.eigenvectors, tol=1e-3, stop=stop)
        for stop in ("auto", "residual", "eigenvalue")
    }
    assert all(result.converged for result in found.values())
    assert found["auto"].eigenvalues == found["residual"].eigenvalues
    assert found["auto"].hvps == found["residual"].hvps
    assert found["eigenvalue"].hvps < found["residual"].hvps
    assert abs(found["eigenvalue"].lambda_max - top) <= 1e-3 * top


def test_eigenvalue_error_estimate():
    from phasebench_builtins.estimators.lanczos import CHANGE_FACTOR, eigenvalue_error

    theta = torch.tensor([1.0, 4.0], dtype=torch.float64)
    wanted, res = torch.tensor([1]), torch.tensor([0.1], dtype=torch.float64)
    # one step in: the residual alone (no gap, no change yet)
    assert eigenvalue_error(theta[1:], torch.tensor([0]), res, None).item() == 0.1
    # r^2 / gap = 0.01 / 3, where the value no longer moves
    before = torch.tensor([4.0], dtype=torch.float64)
    assert eigenvalue_error(theta, wanted, res, before).item() == pytest.approx(0.01 / 3)
    # a value still moving: CHANGE_FACTOR times its change, however wide the Ritz gap looks
    moved = torch.tensor([3.99], dtype=torch.float64)
    assert eigenvalue_error(theta, wanted, res, moved).item() == pytest.approx(CHANGE_FACTOR * 0.01)
    # never more than the residual bound, and a zero gap (a double Ritz value) leaves r
    assert eigenvalue_error(theta, wanted, res, torch.tensor([0.0])).item() == 0.1
    double = torch.tensor([4.0, 4.0], dtype=torch.float64)
    assert eigenvalue_error(double, wanted, res, before).item() == 0.1
