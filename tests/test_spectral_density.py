"""Stochastic Lanczos quadrature and the trace estimators, on matrices whose spectrum is known."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from phasebench.errors import UsageError
from phasebench.hessian.density import gauss_quadrature, lanczos_tridiagonal, slq
from phasebench.hessian.hutchinson import hutch_plus_plus, hutchinson, trace_estimate
from phasebench.hessian.matrix import MatrixOperator
from phasebench.hessian.vectors import probe_vectors

OUTLIERS = (20.0, 35.0, 50.0)


def two_bulks_and_outliers(n_low: int = 200, n_high: int = 150) -> np.ndarray:
    rng = np.random.default_rng(3)
    low = rng.uniform(0.0, 1.0, n_low)
    high = rng.uniform(4.0, 6.0, n_high)
    return np.concatenate([low, high, OUTLIERS])


def test_weights_are_the_squared_first_components_of_the_ritz_vectors():
    # With as many steps as dimensions, one probe v: the nodes are A's eigenvalues and each
    # weight is (u_i . v)^2. Squaring T's eigenvector matrix by rows, by columns or whole
    # (PyHessian's bugs) does not give this on a non-symmetric eigenvector matrix.
    values = np.array([-2.0, 0.5, 1.0, 3.0, 7.0, 11.0])
    operator = MatrixOperator.with_spectrum(values, seed=1)
    v = torch.randn(6, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    v = v / v.norm()
    nodes, weights = gauss_quadrature(*lanczos_tridiagonal(operator, v, 6))
    eigenvalues, eigenvectors = torch.linalg.eigh(operator.matrix)
    np.testing.assert_allclose(nodes, eigenvalues.numpy(), atol=1e-10)
    np.testing.assert_allclose(weights, (eigenvectors.T @ v).numpy() ** 2, atol=1e-10)
    assert weights.sum() == pytest.approx(1.0, abs=1e-12)


def test_lanczos_stops_on_an_exhausted_krylov_space():
    operator = MatrixOperator.with_spectrum([1.0, 1.0, 1.0, 5.0, 5.0, 5.0, 5.0, 5.0], seed=2)
    start = probe_vectors(operator, 1, generator=torch.Generator().manual_seed(0))[:, 0]
    alphas, _ = lanczos_tridiagonal(operator, start, 8)
    assert len(alphas) == 2  # two distinct eigenvalues: a 2-dimensional Krylov space
    found = slq(operator, probes=3, steps=8)
    assert np.isnan(found.nodes[:, 2:]).all() and (found.weights[:, 2:] == 0).all()
    assert found.mass(0.5, 1.5) == pytest.approx(3 / 8, abs=0.3)


@pytest.fixture(scope="module")
def known():
    values = two_bulks_and_outliers()
    operator = MatrixOperator.with_spectrum(values, seed=0)
    return values, operator, slq(operator, probes=10, steps=60, seed=5)


def test_density_integrates_to_one_and_counts_its_products(known):
    _, operator, found = known
    grid, rho = found.density()
    assert np.trapezoid(rho, grid) == pytest.approx(1.0, abs=1e-4)
    np.testing.assert_allclose(found.weights.sum(1), 1.0, atol=1e-10)
    assert found.hvps == 600 and found.moment(0) == pytest.approx(1.0)
    assert found.probes == 10 and found.steps == 60


def test_recovers_the_outliers_and_the_bulks_mass(known):
    values, _, found = known
    n = values.size
    for outlier in OUTLIERS:  # every probe's Krylov space resolves each outlier
        nearest = np.nanmin(np.abs(found.nodes - outlier), axis=1)
        assert nearest.max() < 1e-6 * outlier
        weight = found.mass(outlier - 1, outlier + 1)
        assert 1 / (3 * n) < weight < 3 / n  # its mass is 1/n, up to probe noise
    assert found.top == pytest.approx(50.0, rel=1e-10)
    assert found.mass(-0.5, 1.5) == pytest.approx(200 / n, abs=0.06)
    assert found.mass(3.5, 6.5) == pytest.approx(150 / n, abs=0.06)
    assert found.mass(1.5, 3.5) < 0.02  # the gap between the bulks is empty
    grid, rho = found.density()
    gap = (grid > 2.0) & (grid < 3.0)
    bulk = (grid > 0.2) & (grid < 0.8)
    assert rho[gap].max() < 0.05 * rho[bulk].mean()


def test_first_moment_times_n_is_the_trace_within_its_error(known):
    values, operator, found = known
    other = hutch_plus_plus(operator, 60, seed=11)
    spread = math.hypot(found.trace_error, other.error)
    assert abs(found.trace - other.value) < 3 * spread
    assert abs(found.trace - values.sum()) < 3 * found.trace_error
    # Rademacher probes: n * alpha_1 is exactly Hutchinson's z^T A z on the same probes
    z = probe_vectors(operator, 10, generator=torch.Generator().manual_seed(5))
    exact = float((z * (operator.matrix @ z)).sum(0).mean())
    assert found.trace == pytest.approx(exact, rel=1e-10)


def test_hutch_plus_plus_beats_hutchinson_on_low_rank_plus_noise():
    rng = np.random.default_rng(0)
    n = 300
    values = np.concatenate([rng.uniform(50, 100, 10), rng.uniform(0.0, 0.5, n - 10)])
    operator = MatrixOperator.with_spectrum(values, seed=4)
    errors = {"hutchinson": [], "hutch++": []}
    for seed in range(6):
        for method in errors:
            found = trace_estimate(operator, 45, method, seed=seed)
            assert found.products == 45
            errors[method].append(found.value - values.sum())
    rms = {method: float(np.sqrt(np.mean(np.square(e)))) for method, e in errors.items()}
    assert rms["hutch++"] < 0.2 * rms["hutchinson"]
    # each standard error is the right size: the errors' spread within a factor of 2
    for method in errors:
        err = trace_estimate(operator, 45, method, seed=99).error
        assert 0.5 < err / rms[method] < 2.0, (method, err, rms[method])


def test_gaussian_probes_and_bad_arguments():
    operator = MatrixOperator.with_spectrum(np.linspace(1, 2, 50), seed=0)
    found = slq(operator, probes=4, steps=10, distribution="gaussian")
    assert found.trace == pytest.approx(75.0, rel=0.05)
    assert hutchinson(operator, 1).error != hutchinson(operator, 1).error  # nan: one sample
    with pytest.raises(UsageError, match="distribution"):
        slq(operator, distribution="uniform")
    with pytest.raises(UsageError, match="Lanczos steps"):
        slq(operator, steps=0)
    with pytest.raises(UsageError, match="at least 3"):
        hutch_plus_plus(operator, 2)
    with pytest.raises(UsageError, match="trace method"):
        trace_estimate(operator, 10, "exact")
