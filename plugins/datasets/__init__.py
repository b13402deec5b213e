"""Built-in datasets: the paper's MNIST, Fashion-MNIST and CIFAR-10 read from real files, the
shipped Fashion-MNIST subset (the offline default), and two synthetic problems.

File-backed datasets are callable objects (``load``) with ``locate`` and ``fetch`` methods,
which ``phasebench data status`` / ``fetch`` reach through the registry. Nothing here imports
numpy or torch: the references below are resolved on first use.
"""

from phasebench import Option, hookimpl

#: The sizes both synthetic problems take.
_SIZES = (
    Option("n_train", 8192, "training examples", ge=1),
    Option("n_test", 2048, "test examples", ge=1),
    Option("dim", 32, "input dimension", ge=1),
)
_DTYPE = Option("dtype", "float32", "dtype of the inputs", choices=("float32", "float64"))

_PAPER = "each image standardized by its own mean and std; int64 labels"


@hookimpl
def register_datasets(register):
    register(
        "mnist",
        "phasebench_builtins.datasets.catalog:mnist",
        description=f"MNIST digits, 60k train / 10k test, 1x28x28 ({_PAPER})",
        options=[_DTYPE],
    )
    register(
        "fashion-mnist",
        "phasebench_builtins.datasets.catalog:fashion_mnist",
        description=f"Fashion-MNIST, 60k train / 10k test, 1x28x28 ({_PAPER})",
        options=[_DTYPE],
    )
    register(
        "cifar10",
        "phasebench_builtins.datasets.catalog:cifar10",
        description=f"CIFAR-10, 50k train / 10k test, 3x32x32, python or binary batches ({_PAPER})",
        options=[_DTYPE],
    )
    register(
        "fashion-mnist-subset",
        "phasebench_builtins.datasets.subset:fashion_mnist_subset",
        description="shipped offline default: 600 train + 100 test Fashion-MNIST images per class",
        options=[_DTYPE],
    )
    register(
        "gaussian",
        "phasebench_builtins.datasets.synthetic:gaussian",
        description="synthetic Gaussian clusters in dim dimensions, balanced classes",
        options=[
            *_SIZES,
            Option("classes", 10, "classes (one Gaussian cluster each)", ge=2),
            Option("separation", 3.0, "distance scale between cluster centres", ge=0),
            Option("seed", 0, "seed of the clusters and the draws"),
            _DTYPE,
        ],
    )
    register(
        "teacher",
        "phasebench_builtins.datasets.synthetic:teacher",
        description="synthetic: labels of a random one-hidden-layer ReLU teacher on N(0, I) inputs",
        options=[
            *_SIZES,
            Option("classes", 10, "classes (the teacher's outputs)", ge=2),
            Option("width", 64, "hidden width of the teacher", ge=1),
            Option("seed", 0, "seed of the teacher and the inputs"),
            _DTYPE,
        ],
    )
    register(
        "single-example",
        "phasebench_builtins.datasets.synthetic:single_example",
        description="the catapult theory's problem: one example x (shape (1,)), target y",
        options=[
            Option("x", 1.0, "the one input"),
            Option("y", 0.0, "its target (0: the catapult paper's problem)", since="0.2"),
            _DTYPE,
        ],
    )
