"""The one estimator entry point: what it checks and fills in, both estimator contracts (the
recommended ``@estimator`` one and the original one of a plugin written against the docs
before it), the probe's call through it, and the conformance kit's messages."""

from __future__ import annotations

import math
import time
from types import SimpleNamespace

import pytest
import torch
from hessian_models import data, half_mse, mlp, quadratic_problem

import phasebench
from phasebench import hookimpl, plugins
from phasebench.config import ComponentSpec
from phasebench.errors import PluginError, UsageError
from phasebench.hessian.api import estimator_traits, run_estimator
from phasebench.hessian.estimation import Estimate, Traits, estimator, measure, traits_of
from phasebench.hessian.operator import HessianOperator
from phasebench.hessian.result import SharpnessResult
from phasebench.hessian.vectors import check_k, start_vectors
from phasebench.testing import ConformanceError, check_estimator

torch.set_num_threads(1)


def docs_power(
    operator, k=1, warm_start=None, generator=None, return_vectors=False, steps=200, tol=1e-10
):
    """A plugin estimator exactly as docs/plugins.md described them before the entry point:
    its own k check, timing and product count, a full SharpnessResult, its own name."""
    check_k(operator, k)
    began, before = time.perf_counter(), operator.hvps
    found, values, residuals = [], [], []
    for v in start_vectors(operator, k, warm_start, generator):
        value, res = 0.0, math.inf
        for _ in range(steps):
            for q in found:  # deflation: power iteration on (I - P) H (I - P)
                v = v - (q @ v) * q
            v = v / v.norm()
            w = operator.matvec(v)
            for q in found:
                w = w - (q @ w) * q
            value = float(v.double() @ w.double())
            res = float((w.double() - value * v.double()).norm())
            v = w / w.norm()
            if res <= tol * abs(value):
                break
        found.append(v)
        values.append(value)
        residuals.append(res)
    return SharpnessResult(
        eigenvalues=tuple(values),
        hvps=operator.hvps - before,
        converged=all(r <= tol * abs(x) for r, x in zip(residuals, values, strict=True)),
        residuals=tuple(residuals),
        wall_time=time.perf_counter() - began,
        estimator="my-power-v1",
        backend=operator.backend,
        eigenvectors=torch.stack(found) if return_vectors else None,
        iterations=steps,
    )


@estimator(which=("largest",), tolerance="tol", budget="steps")
def light_power(operator, request, steps=200):
    """The same algorithm under the recommended contract: nothing but the algorithm."""
    v = request.starts(operator, 1)[0]
    value = 0.0
    for _ in range(steps):
        w = operator.matvec(v)
        value = float(v.double() @ w.double())
        v = w / w.norm()
    return Estimate((value,), True, (0.0,), v[None] if request.return_vectors else None, steps)


class ContractPlugin:
    @hookimpl
    def register_estimators(self, register):
        register("docs-power", docs_power, description="old contract", defaults={"steps": 200})
        register("light-power", light_power, description="new contract", defaults={"steps": 30})


@pytest.fixture
def contract(monkeypatch):
    components = plugins.load_components(extra_plugins=[("contract", ContractPlugin())])
    monkeypatch.setattr(plugins, "_cached", components)
    return components


def operator_of(*values):
    model, loss, x, y = quadratic_problem(list(values))
    return HessianOperator(model, loss, x, y, dtype="float64")


def test_an_estimator_of_the_original_contract_keeps_working(contract):
    op = operator_of(4.0, 1.0, 0.5, -0.3)
    result = run_estimator(op, "docs-power", 1, return_vectors=True, components=contract)
    assert result.lambda_max == pytest.approx(4.0, rel=1e-8) and result.converged
    # the entry point's names and counts win over what the plugin wrote
    assert result.estimator == "docs-power" and result.hvps == op.hvps > 0
    assert result.eigenvectors.shape == (1, op.size)
    via_api = phasebench.sharpness(*quadratic_problem([4.0, 1.0]), estimator="docs-power")
    assert via_api.estimator == "docs-power" and via_api.lambda_max == pytest.approx(4.0)
    assert check_estimator(docs_power, {"steps": 200}, "docs-power") == "passed"
    assert estimator_traits("docs-power", contract) == Traits(which=("largest",))


def test_the_recommended_contract_gets_counts_time_name_and_backend(contract):
    op = operator_of(4.0, 1.0, 0.5)
    result = run_estimator(op, "light-power", 1, components=contract)
    assert isinstance(result, SharpnessResult)
    assert result.hvps == 30 == op.hvps and result.iterations == 30
    assert result.estimator == "light-power" and result.backend == op.backend
    assert result.wall_time > 0 and result.lambda_max == pytest.approx(4.0, rel=1e-6)
    assert traits_of(light_power).budget == "steps"


def test_the_builtins_hold_only_their_algorithm():
    from phasebench_builtins.estimators import exact, lanczos, power

    for module in (exact, lanczos, power):
        source = open(module.__file__).read()
        for scaffolding in ("check_k(", "perf_counter", "SharpnessResult(", "hvps0"):
            assert scaffolding not in source, (module.__name__, scaffolding)
        assert traits_of(module.estimate) is not None
    assert traits_of(power.estimate).which == ("magnitude",)
    assert traits_of(exact.estimate).exact and not traits_of(lanczos.estimate).exact


def test_the_entry_point_checks_k_which_and_the_call():
    op = operator_of(3.0, 1.0)
    with pytest.raises(UsageError, match="k must be a positive integer"):
        run_estimator(op, "lanczos", 0)
    with pytest.raises(UsageError, match="k=5 is larger than the number of parameters"):
        run_estimator(op, "power", 5)
    with pytest.raises(UsageError, match="unknown which 'biggest'; choose one of: largest"):
        run_estimator(op, "lanczos", 1, options={"which": "biggest"})  # the registry's check
    from phasebench_builtins.estimators import power

    # the entry point's own: what the estimator declares it finds (power: magnitude only)
    with pytest.raises(UsageError, match="'power': unknown which='largest'; use one of magnitude"):
        measure(power.estimate, op, name="power", options={"which": "largest"})

    def no_keywords(operator):
        return None

    with pytest.raises(PluginError, match=r"estimator 'bad' cannot be called as estimate\("):
        measure(no_keywords, op, name="bad")
    with pytest.raises(PluginError, match=r"as estimate\(operator, request, \*\*options\)"):
        measure(estimator()(no_keywords), op, name="bad")
    assert op.hvps == 0  # nothing ran


def test_the_entry_point_checks_what_comes_back():
    op = operator_of(3.0, 1.0, 0.5)

    @estimator()
    def too_many(operator, request):
        return Estimate((3.0, 1.0), True, (0.0, 0.0))

    @estimator()
    def a_float(operator, request):
        return 3.0

    @estimator()
    def wrong_vectors(operator, request):
        return Estimate((3.0,), True, (0.0,), torch.zeros(1, 2))

    with pytest.raises(UsageError, match="returned 2 eigenvalues for k=1"):
        measure(too_many, op, name="too-many")
    with pytest.raises(UsageError, match="returned float, not an Estimate or a SharpnessResult"):
        measure(a_float, op, name="a-float")
    with pytest.raises(UsageError, match=r"eigenvectors of shape \(1, 2\), expected \(1, 3\)"):
        measure(wrong_vectors, op, name="vectors", return_vectors=True)


def test_a_non_finite_eigenvalue_is_never_converged():
    op = operator_of(3.0, 1.0)

    def nan_claiming_convergence(operator, k=1, warm_start=None, generator=None, **_):
        operator.matvec(operator.random_vector(generator))
        return SharpnessResult((math.nan,), 1, True, (0.0,), 0.0, "nan", operator.backend)

    result = measure(nan_claiming_convergence, op, name="nan")
    assert math.isnan(result.lambda_max) and not result.converged


def test_the_probe_measures_through_the_entry_point_with_the_registries_it_is_given(contract):
    """measure_sharpness uses the components passed to it (here: ones holding a plugin
    estimator the process-wide registry lacks), not a global look-up."""
    from phasebench.probe.trajectory import measure_sharpness

    model, x, y = mlp(), *data((6,), n=12)
    problem = SimpleNamespace(
        sharpness_batch=lambda: (x, y),
        loss=half_mse,
        dtype=torch.float64,
        config=SimpleNamespace(estimator=ComponentSpec.of("light-power", {"steps": 40}), top_k=1),
        components=plugins.load_components(),  # no light-power here
    )
    generator = torch.Generator().manual_seed(0)
    result = measure_sharpness(problem, model, None, generator, components=contract)
    assert result.estimator == "light-power" and result.hvps == 40
    assert result.eigenvectors.shape[0] == 1
    plugins.reset()


def test_the_kit_names_a_nan_estimator_and_a_wrong_signature():
    def nan_estimator(operator, k=1, warm_start=None, generator=None, return_vectors=False):
        return SharpnessResult(
            (math.nan,) * k, 0, True, (0.0,) * k, 0.0, "nan", operator.backend,
            torch.zeros(k, operator.size) if return_vectors else None,
        )  # fmt: skip

    with pytest.raises(ConformanceError, match=r"eigenvalue nan \(not finite\)") as failure:
        check_estimator(nan_estimator, label="nan")
    assert "asked the operator for 0" not in str(failure.value)

    def wrong_signature(op, how_many=1):
        return None

    with pytest.raises(ConformanceError) as failure:
        check_estimator(wrong_signature, label="sig")
    message = str(failure.value)
    assert message.count("\n") == 0 and "cannot be called as estimate(" in message
    assert "unexpected keyword argument 'k'" in message
