"""The operator an estimator can hand to other solvers: the block product, the scipy and torch
adapters (every product counted), and the docs' third-party LOBPCG estimator built on them."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from hessian_models import data, half_mse, mlp

from phasebench import plugins
from phasebench.errors import UsageError
from phasebench.hessian.api import run_estimator
from phasebench.hessian.linear import SymmetricOperator, to_function
from phasebench.hessian.operator import HessianOperator
from phasebench.testing import check_estimator

torch.set_num_threads(1)
EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


@pytest.fixture
def op():
    x, y = data((6,), n=16)
    return HessianOperator(mlp(), half_mse, x, y, dtype="float64")


def test_the_block_product_is_the_columns_matvecs_and_counts_each(op):
    assert isinstance(op, SymmetricOperator)
    block = torch.randn(op.size, 3, generator=torch.Generator().manual_seed(0), dtype=op.dtype)
    before = op.hvps
    product = op.matmat(block)
    assert op.hvps - before == 3 and product.shape == (op.size, 3)
    columns = torch.stack([op.matvec(block[:, j]) for j in range(3)], dim=1)
    torch.testing.assert_close(product, columns, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(op @ block, columns, rtol=1e-12, atol=1e-12)
    assert op.hvps - before == 9
    with pytest.raises(UsageError, match=r"a block of shape \(3,\); the operator needs"):
        op.matmat(block[:3, 0])


def test_the_torch_callable_and_scipy_adapters_are_the_hessian_and_count(op):
    dense = op.dense()
    counted = op.hvps
    apply = op.as_function()
    v = torch.randn(op.size, generator=torch.Generator().manual_seed(1), dtype=op.dtype)
    torch.testing.assert_close(apply(v), dense @ v, rtol=1e-9, atol=1e-11)
    torch.testing.assert_close(apply(v[:, None].repeat(1, 2)), (dense @ v)[:, None].repeat(1, 2))
    assert op.hvps - counted == 3
    with pytest.raises(UsageError, match="the operator takes"):
        to_function(op)(v.reshape(1, 1, -1))

    pytest.importorskip("scipy", reason="the scipy adapter needs scipy (pip install scipy)")
    import numpy as np
    from scipy.sparse.linalg import eigsh

    linear = op.as_scipy()
    assert linear.shape == (op.size, op.size) and linear.dtype == np.float64
    np.testing.assert_allclose(linear @ v.numpy(), (dense @ v).numpy(), rtol=1e-9, atol=1e-11)
    np.testing.assert_allclose(linear.matmat(np.eye(op.size)[:, :4]), dense[:, :4].numpy())
    counted = op.hvps
    top = eigsh(linear, k=1, which="LA", tol=1e-10, return_eigenvectors=False)
    assert float(top[0]) == pytest.approx(float(torch.linalg.eigvalsh(dense)[-1]), rel=1e-8)
    assert op.hvps > counted  # eigsh's products went through the operator


@pytest.fixture
def lobpcg(monkeypatch):
    pytest.importorskip("scipy", reason="the LOBPCG example needs scipy (pip install scipy)")
    monkeypatch.syspath_prepend(str(EXAMPLES))
    import lobpcg_estimator

    components = plugins.load_components(extra_plugins=[("lobpcg-example", lobpcg_estimator)])
    monkeypatch.setattr(plugins, "_cached", components)
    return components, lobpcg_estimator


def test_the_docs_lobpcg_plugin_conforms_and_matches_exact(lobpcg, op):
    components, module = lobpcg
    registration = components.get("estimator", "lobpcg")
    assert check_estimator(module.estimate, dict(registration.defaults), "lobpcg") == "passed"
    exact = run_estimator(op, "exact", 2, components=components)
    before = op.hvps
    result = run_estimator(op, "lobpcg", 2, options={"tol": 1e-8}, components=components)
    assert result.converged and result.estimator == "lobpcg"
    assert result.hvps == op.hvps - before > 0
    assert result.eigenvalues == pytest.approx(exact.eigenvalues, rel=1e-8)


def test_docs_quote_the_lobpcg_example_verbatim():
    docs = (EXAMPLES.parent / "docs" / "plugins.md").read_text()
    source = (EXAMPLES / "lobpcg_estimator.py").read_text().strip()
    assert source in docs, "docs/plugins.md quotes an outdated examples/lobpcg_estimator.py"
