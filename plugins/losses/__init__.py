"""Built-in losses: the paper's MSE and softmax cross-entropy."""

from phasebench import hookimpl


@hookimpl
def register_losses(register):
    register(
        "mse",
        "phasebench_builtins.losses.mse:make",
        description="0.5 * mean over batch and outputs of (f - y)^2, one-hot targets (the paper's)",
    )
    register(
        "xent",
        "phasebench_builtins.losses.xent:make",
        description="softmax cross-entropy, mean over the batch, class-index targets",
    )
