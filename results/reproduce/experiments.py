"""The sweeps behind results/REPORT.md, as phasebench command lines (``phasebench sweep``;
with ``--trace`` the sweep runs traces, ``phasebench trace``, instead of 10-step probes).

``EXPERIMENTS`` are the first edition's (the paper's claims, about an hour on 2 CPU cores);
``SECOND`` the second edition's (the paper's next checks, the later regimes, the new units,
the ResNet). See REPORT.md for why each size was chosen, what each costs here and what the
same commands run on a GPU or a cluster.
"""

from __future__ import annotations


def common(
    x_min: float = 0.0, x_max: float = 5.0, x_step: float = 0.1, seeds: int = 3
) -> list[str]:
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
        str(seeds),
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


#: The fcn-He points the second edition reruns with other estimators and units: the shallowest
#: and the deepest of the first edition's width-64 points (d/w 1/32 and 1/8), the same c grid,
#: its first two seeds (the budget of 2 cores; on a GPU add --widths 64,256 and --seeds 3).
FCN_CORNERS = ["--model", "fcn", "--depths", "2,8", "--widths", "64", "--init", "he"]
#: The control point (d = 4, w = 128) the batch, normalization and optimizer checks vary.
FCN_CONTROL = ["--model", "fcn", "--depths", "4", "--widths", "128", "--init", "he"]
#: Long runs: full-batch GD on the 1,024 real Fashion-MNIST training images shipped with
#: phasebench (fashion-mnist-subset, class-balanced), fcn 784-64-64-10 ReLU He, the sharpness
#: and the loss on those same 1,024 images. (On another balanced 1,024 of the full training
#: split, c = 12 reached the edge of stability only after about 13,000 steps, at a level of
#: 0.88: measured while this edition was prepared; these are the images the tests use.)
TRACE_FCN = [
    "--trace",
    "--model",
    "fcn",
    "--depths",
    "3",
    "--widths",
    "64",
    "--init",
    "he",
    "--dataset",
    "fashion-mnist-subset",
    "--train-examples",
    "1024",
    "--sharpness-examples",
    "1024",
    "--loss-examples",
    "1024",
]
ADAM_GRID = common(x_min=-8, x_max=3, x_step=0.25)
#: Warmup and GI-Adam raise Adam's c_max past fcn-adam's grid (c = 8): the same grid to c = 64,
#: so the warmup paper's 4x is measured rather than bounded.
ADAM_WIDE = common(x_min=-8, x_max=6, x_step=0.25)
CORNERS = common(seeds=2)

SECOND: dict[str, list[str]] = {
    # 1. The authors' estimator: 20 power iterations from one fixed start, no convergence test;
    #    and lambda_t measured on the next 512-example training batch.
    "fcn-he-power20": [
        *FCN_CORNERS,
        *CORNERS,
        "--estimator",
        "power",
        "--max-iter",
        "20",
        "--tol",
        "0",
        "--start",
        "fixed",
    ],
    "fcn-he-next-batch": [*FCN_CORNERS, *CORNERS, "--sharpness-batch", "next"],
    # 2. Batch sizes: the SGD batch, then the sharpness batch (512 and 1024: fcn-sgd's own).
    "fcn-batch-size": [*FCN_CONTROL, *common(), "--axis", "batch_size=128,2048"],
    "fcn-sharpness-examples": [*FCN_CONTROL, *common(), "--axis", "sharpness_examples=256,4096"],
    # 3. Normalization: fcn with layer and with batch norm (none: fcn-sgd); ResNet-18 the same.
    "fcn-norm": [*FCN_CONTROL, *common(), "--axis", "model.norm=layer,batch"],
    # The headline command's model, ResNet-18, with each normalization: resnet's CPU defaults
    # (phasebench list model) apply, as they do to `phasebench run --model resnet`.
    "resnet-norm": [
        "--model",
        "resnet",
        "--estimator",
        "lanczos",
        "--axis",
        "model.norm=none,layer,batch",
        "--seeds",
        "3",
    ],
    # 4. The four regimes past step 10.
    "trace-gd": [
        *TRACE_FCN,
        "--batch-size",
        "full",
        "--c",
        "12,40",
        "--steps",
        "20000",
        "--every",
        "20",
    ],
    # c = 1 only saturates (about 0.1 lambda0 within 5,000 steps): the run that does not
    "trace-gd-small-c": [
        *TRACE_FCN,
        "--batch-size",
        "full",
        "--c",
        "1",
        "--steps",
        "5000",
        "--every",
        "100",
    ],
    "trace-momentum": [
        *TRACE_FCN,
        "--batch-size",
        "full",
        "--optimizer",
        "momentum",
        "--schedule",
        "linear",
        "--warmup-steps",
        "1000",
        "--init-c",
        "0.5",
        "--c",
        "22.8",
        "--steps",
        "20000",
        "--every",
        "100",
    ],
    "trace-sgd-batch": [
        *TRACE_FCN,
        "--axis",
        "batch_size=64,256",
        "--c",
        "12",
        "--steps",
        "20000",
        "--every",
        "100",
    ],
    "trace-uv": [
        "--trace",
        "--model",
        "uv",
        "--widths",
        "64",
        "--dataset",
        "single-example",
        "--y",
        "9.6",
        "--opt",
        "dataset.dtype=float64",
        "--init",
        "lecun",
        "--dtype",
        "float64",
        "--batch-size",
        "1",
        "--sharpness-examples",
        "1",
        "--loss-examples",
        "1",
        "--tol",
        "1e-9",
        "--c",
        "2.5",
        "--steps",
        "400",
        "--every",
        "1",
    ],
    # 5. Adam at its edge of stability, and its 10-step phase diagram in preconditioned units.
    "trace-adam": [
        *TRACE_FCN,
        "--batch-size",
        "full",
        "--optimizer",
        "adam",
        "--c",
        "0.05",
        "--steps",
        "10000",
        "--every",
        "100",
    ],
    "fcn-adam-preconditioned": [
        *FCN_CONTROL,
        "--optimizer",
        "adam",
        "--lr-unit",
        "preconditioned",
        *common(x_min=4, x_max=16, x_step=0.25),
    ],
    # 6. Another learning-rate unit: GGN and critical sharpness.
    "fcn-he-ggn": [*FCN_CORNERS, *CORNERS, "--lr-unit", "ggn"],
    "fcn-he-critical": [*FCN_CORNERS, *CORNERS, "--lr-unit", "critical"],
    # 7. Warmup: SGD with a 10-step linear warmup from c = 1, Adam with GI-Adam, and a trace
    #    whose target c is past the 10-step c_max.
    "fcn-sgd-warmup": [
        *FCN_CONTROL,
        *common(),
        "--schedule",
        "linear",
        "--warmup-steps",
        "10",
        "--init-c",
        "1",
    ],
    "fcn-adam-gi": [*FCN_CONTROL, "--optimizer", "adam", "--gi", "true", *ADAM_WIDE],
    "fcn-adam-warmup": [
        *FCN_CONTROL,
        "--optimizer",
        "adam",
        "--schedule",
        "linear",
        "--warmup-steps",
        "10",
        "--init-c",
        "0.01",
        *ADAM_WIDE,
    ],
    # the same target c = 40 at constant eta is trace-gd's third trace (it diverges)
    "trace-warmup": [
        *TRACE_FCN,
        "--batch-size",
        "full",
        "--schedule",
        "linear",
        "--warmup-steps",
        "1000",
        "--init-c",
        "1",
        "--c",
        "40",
        "--steps",
        "3000",
        "--every",
        "50",
    ],
}

#: Experiments whose figures draw other experiments' files beside their own (``phasebench plot
#: --beside``): the same fcn-He points in Hessian, GGN and critical units, one panel each. It
#: hangs on the last of the three that ``make reproduce`` runs.
BESIDE: dict[str, list[str]] = {"fcn-he-critical": ["fcn-he", "fcn-he-ggn"]}

#: Experiments whose points differ in one key (an ``--axis`` sweep): their phase diagram is
#: drawn against it (``phasebench plot --x KEY``) instead of as points named by their hashes.
PLOT_X: dict[str, str] = {
    "fcn-batch-size": "batch_size",
    "fcn-sharpness-examples": "sharpness_examples",
    "fcn-norm": "model.norm",
    "resnet-norm": "model.norm",
}
