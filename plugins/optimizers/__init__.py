"""Built-in optimizers: the paper's plain SGD, heavy-ball / Nesterov momentum, and Adam."""

from phasebench import hookimpl


@hookimpl
def register_optimizers(register):
    register(
        "sgd",
        "phasebench_builtins.optimizers.sgd:sgd",
        description="plain SGD, no momentum, no weight decay (the paper's)",
        defaults={},
    )
    register(
        "momentum",
        "phasebench_builtins.optimizers.sgd:momentum",
        description="SGD with heavy-ball momentum beta (v = beta v + g), or Nesterov",
        defaults={"beta": 0.9, "nesterov": False},
    )
    register(
        "adam",
        "phasebench_builtins.optimizers.adam:adam",
        description="Adam with betas and eps, no weight decay",
        defaults={"betas": [0.9, 0.999], "eps": 1e-8},
    )
