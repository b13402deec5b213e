"""Built-in optimizers: the paper's plain SGD, heavy-ball / Nesterov momentum, and Adam."""

from phasebench import Option, hookimpl


@hookimpl
def register_optimizers(register):
    register(
        "sgd",
        "phasebench_builtins.optimizers.sgd:sgd",
        description="plain SGD, no momentum, no weight decay (the paper's)",
    )
    register(
        "momentum",
        "phasebench_builtins.optimizers.sgd:momentum",
        description="SGD with heavy-ball momentum beta (v = beta v + g), or Nesterov",
        options=[
            Option("beta", 0.9, "momentum coefficient", ge=0, lt=1),
            Option("nesterov", False, "Nesterov's variant"),
        ],
    )
    register(
        "adam",
        "phasebench_builtins.optimizers.adam:adam",
        description="Adam with betas and eps, no weight decay; GI-Adam (v0 = g0^2) with gi",
        options=[
            Option("betas", [0.9, 0.999], "[beta1, beta2]: decay of the moment estimates"),
            Option("eps", 1e-8, "added to sqrt(v_hat)", gt=0),
            # since: at its default it stays out of stored configurations (adam runs keep ids)
            Option("gi", False, "GI-Adam: the second moment starts at g0^2, not 0", since="0.2"),
        ],
    )
