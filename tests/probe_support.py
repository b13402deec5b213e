"""Small probe configurations the probe tests share."""

from __future__ import annotations

import math

from phasebench.analysis.phases import Constant
from phasebench.config import ComponentSpec, ProbeConfig
from phasebench.plugins import components


def config(
    model: str,
    model_options: dict,
    dataset: str = "fashion-mnist-subset",
    dataset_options: dict | None = None,
    init: str = "he",
    estimator: str = "lanczos",
    estimator_options: dict | None = None,
    **protocol,
) -> ProbeConfig:
    """A ProbeConfig with every component's defaults merged, as the CLI builds it."""
    comps = components()

    def spec(kind: str, name: str, given: dict | None = None) -> ComponentSpec:
        return ComponentSpec.of(name, comps.get(kind, name).stored(given or {}))

    return ProbeConfig(
        model=spec("model", model, model_options),
        dataset=spec("dataset", dataset, dataset_options),
        init=spec("initialization", init),
        loss=spec("loss", "mse"),
        optimizer=spec("optimizer", "sgd"),
        estimator=spec("estimator", estimator, estimator_options),
        **protocol,
    )


def uv_config(width: int = 256, **protocol) -> ProbeConfig:
    """The catapult theory's problem: the uv model on one example, u, v ~ N(0, 1), float64,
    sharpness by Lanczos to a tight tolerance (checked against the closed-form Hessian)."""
    return config(
        "uv",
        {"width": width},
        dataset="single-example",
        init="lecun",
        estimator="lanczos",
        estimator_options={"tol": 1e-9},
        batch_size=1,
        sharpness_examples=1,
        loss_examples=1,
        dtype="float64",
        **protocol,
    )


def assert_ordered(constants: dict[str, Constant]) -> None:
    """c_loss <= c_sharp <= c_max wherever they are determined."""
    values = [constants[n].value for n in ("c_loss", "c_sharp", "c_max")]
    known = [v for v in values if not math.isnan(v)]
    assert known == sorted(known), constants
