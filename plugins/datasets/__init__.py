"""Built-in datasets: the paper's MNIST, Fashion-MNIST and CIFAR-10 read from real files, the
shipped Fashion-MNIST subset (the offline default), and two synthetic problems.

File-backed datasets are callable objects (``load``) with ``locate`` and ``fetch`` methods,
which ``phasebench data status`` / ``fetch`` reach through the registry. Nothing here imports
numpy or torch: the references below are resolved on first use.
"""

from phasebench import hookimpl

_PAPER = "each image standardized by its own mean and std; int64 labels"


@hookimpl
def register_datasets(register):
    register(
        "mnist",
        "phasebench_builtins.datasets.catalog:mnist",
        description=f"MNIST digits, 60k train / 10k test, 1x28x28 ({_PAPER})",
        defaults={"dtype": "float32"},
    )
    register(
        "fashion-mnist",
        "phasebench_builtins.datasets.catalog:fashion_mnist",
        description=f"Fashion-MNIST, 60k train / 10k test, 1x28x28 ({_PAPER})",
        defaults={"dtype": "float32"},
    )
    register(
        "cifar10",
        "phasebench_builtins.datasets.catalog:cifar10",
        description=f"CIFAR-10, 50k train / 10k test, 3x32x32, python or binary batches ({_PAPER})",
        defaults={"dtype": "float32"},
    )
    register(
        "fashion-mnist-subset",
        "phasebench_builtins.datasets.subset:fashion_mnist_subset",
        description="shipped offline default: 600 train + 100 test Fashion-MNIST images per class",
        defaults={"dtype": "float32"},
    )
    register(
        "gaussian",
        "phasebench_builtins.datasets.synthetic:gaussian",
        description="synthetic Gaussian clusters in dim dimensions, balanced classes",
        defaults={
            "n_train": 8192,
            "n_test": 2048,
            "dim": 32,
            "classes": 10,
            "separation": 3.0,
            "seed": 0,
            "dtype": "float32",
        },
    )
    register(
        "teacher",
        "phasebench_builtins.datasets.synthetic:teacher",
        description="synthetic: labels of a random one-hidden-layer ReLU teacher on N(0, I) inputs",
        defaults={
            "n_train": 8192,
            "n_test": 2048,
            "dim": 32,
            "classes": 10,
            "width": 64,
            "seed": 0,
            "dtype": "float32",
        },
    )
    register(
        "single-example",
        "phasebench_builtins.datasets.synthetic:single_example",
        description="the catapult theory's problem: one example x (shape (1,)), target 0",
        defaults={"x": 1.0, "dtype": "float32"},
    )
