"""An example phasebench plugin: one model and one initialization."""

from phasebench import Option, hookimpl


@hookimpl
def register_models(register):
    register(
        "gelu-mlp",
        "phasebench_example.gelu_mlp:build",
        description="MLP with GELU activations and biases (example plugin)",
        options=[
            Option("depth", 3, "Linear layers, the output layer included", ge=1),
            Option("width", 128, "units of each hidden layer", ge=1),
        ],
    )


@hookimpl
def register_initializations(register):
    register(
        "orthogonal",
        "phasebench_example.orthogonal:initialize",
        description="orthogonal weights scaled by gain, zero biases (example plugin)",
        options=[Option("gain", 1.0, "scale of the orthogonal weights", gt=0)],
    )
