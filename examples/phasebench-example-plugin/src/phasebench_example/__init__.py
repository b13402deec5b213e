"""An example phasebench plugin: one model and one initialization."""

from phasebench import hookimpl


@hookimpl
def register_models(register):
    register(
        "gelu-mlp",
        "phasebench_example.gelu_mlp:build",
        description="MLP with GELU activations and biases (example plugin)",
        defaults={"depth": 3, "width": 128},
    )


@hookimpl
def register_initializations(register):
    register(
        "orthogonal",
        "phasebench_example.orthogonal:initialize",
        description="orthogonal weights scaled by gain, zero biases (example plugin)",
        defaults={"gain": 1.0},
    )
