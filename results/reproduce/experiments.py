"""The sweeps behind results/REPORT.md, as phasebench command lines.

Sizes are chosen to finish in well under two hours on 2 CPU cores (see REPORT.md for why each
was chosen and what the same commands run on a GPU or a cluster).
"""

from __future__ import annotations


def common(x_min: float = 0.0, x_max: float = 5.0, x_step: float = 0.1) -> list[str]:
    """Every fcn probe of the report: on the full, real Fashion-MNIST (60,000 training images),
    c = 2^x, the scan stopping at the first divergence."""
    return [
        "--dataset",
        "fashion-mnist",
        "--sharpness-examples",
        "1024",
        "--loss-examples",
        "1024",
        "--batch-size",
        "512",
        "--steps",
        "10",
        "--seeds",
        "3",
        "--x-min",
        str(x_min),
        "--x-max",
        str(x_max),
        "--x-step",
        str(x_step),
    ]


FCN_GRID = ["--model", "fcn", "--depths", "2,4,8", "--widths", "64,256"]
#: zero-last and cross-entropy: the same depths at widths 64 and 128 (half the cost of 256)
FCN_SMALL = ["--model", "fcn", "--depths", "2,4,8", "--widths", "64,128"]

EXPERIMENTS: dict[str, list[str]] = {
    # Claim 1: the uv model of the catapult theory on its single example, u, v ~ N(0, 1).
    "uv": [
        "--model",
        "uv",
        "--dataset",
        "single-example",
        "--init",
        "lecun",
        "--dtype",
        "float64",
        "--widths",
        "16,64,256,1024,4096",
        "--seeds",
        "5",
        "--batch-size",
        "1",
        "--sharpness-examples",
        "1",
        "--loss-examples",
        "1",
        "--tol",
        "1e-9",
        "--x-min",
        "0",
        "--x-max",
        "3",
        "--x-step",
        "0.05",
    ],
    # Claim 2: last layer initialized to zero.
    "fcn-zero-last": [*FCN_SMALL, "--init", "zero-last", *common()],
    # Claim 3: criticality, He initialization in standard parametrization.
    "fcn-he": [*FCN_GRID, "--init", "he", *common()],
    # Claim 4: a CNN at two depths, and cross-entropy.
    "myrtle": [
        "--model",
        "myrtle",
        "--depths",
        "5,7",
        "--widths",
        "8",
        "--init",
        "he",
        "--dataset",
        "fashion-mnist",
        "--sharpness-examples",
        "256",
        "--loss-examples",
        "256",
        "--batch-size",
        "128",
        "--steps",
        "10",
        "--x-min",
        "0",
        "--x-max",
        "5",
        "--x-step",
        "0.25",
        "--seeds",
        "3",
    ],
    "fcn-xent": [*FCN_SMALL, "--init", "he", "--loss", "xent", *common()],
    # Claim 5: beyond the paper: momentum, Adam, muP, against plain SGD on the same point.
    "fcn-sgd": ["--model", "fcn", "--depths", "4", "--widths", "128", *common()],
    "fcn-momentum": [
        "--model",
        "fcn",
        "--depths",
        "4",
        "--widths",
        "128",
        "--optimizer",
        "momentum",
        *common(),
    ],
    # Adam's steps are about eta per coordinate whatever the curvature: c spans far lower.
    "fcn-adam": [
        "--model",
        "fcn",
        "--depths",
        "4",
        "--widths",
        "128",
        "--optimizer",
        "adam",
        *common(x_min=-8, x_max=3, x_step=0.25),
    ],
    "fcn-mup": ["--model", "fcn", "--depths", "4", "--widths", "128", "--init", "mup", *common()],
}
