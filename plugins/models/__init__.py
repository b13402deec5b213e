"""Built-in models: the paper's fcn, Myrtle CNNs, ResNets, and the uv model of the catapult theory.

Each model is ``build(input_shape, num_outputs, **options) -> nn.Module`` (see
``phasebench.hookspecs.register_models``). The built-in models follow one convention that the
built-in initializations rely on, and that a third-party model can follow too:

- the weights live in ``nn.Linear`` / ``nn.ConvNd`` layers ("weight layers"); other parameters
  only in normalization layers;
- the output layer is the weight layer registered LAST (``model.modules()`` order);
- a layer may declare the fan-in its initialization should use in an ``init_fan_in`` attribute
  (the uv model does: its forward already divides by sqrt(n)).

Registrations are lazy references, so listing them never imports torch.
"""

from phasebench import Option, hookimpl

#: What resnet runs with on --device cpu where the user sets none of them: smaller fixed
#: batches and a bisection to a quarter octave instead of the 61-value grid.
CPU_DEFAULTS_RESNET = {
    "sharpness_examples": 128,
    "loss_examples": 256,
    "batch_size": 128,
    "search": "bisect",
    "bisect_tol": 0.25,
}


@hookimpl
def register_models(register):
    register(
        "fcn",
        "phasebench_builtins.models.fcn:build",
        description="fully connected: depth Dense layers (depth-1 hidden of width, then output)",
        # small enough that the default `phasebench run` takes about a minute on 2 cores;
        # the paper sweeps depth 2-16 and width 256-2048 with --depth/--width
        options=[
            Option("depth", 4, "Dense layers, the output layer included", ge=1),
            Option("width", 128, "units of each hidden layer", ge=1),
            Option("activation", "relu", "hidden nonlinearity", choices=("relu", "tanh", "linear")),
            Option("bias", False, "biases in every layer"),
            Option(
                "norm",
                "none",
                "normalization after each hidden layer",
                choices=("none", "layer", "batch"),
                since="0.2",
            ),
        ],
    )
    register(
        "myrtle",
        "phasebench_builtins.models.myrtle:build",
        description="Myrtle CNN, depth 5|7|10: 3x3 convs of width channels, avg pooling, no bias",
        options=[
            Option("depth", 5, "layers: convolutions plus the output layer", choices=(5, 7, 10)),
            Option("width", 64, "channels of every convolution", ge=1),
        ],
    )
    register(
        "resnet",
        "phasebench_builtins.models.resnet:build",
        description="ResNet-18/34 of base width channels; normalization removed by default. "
        "On --device cpu its CPU defaults apply where unset (shown with its options); with "
        "the protocol's defaults a probe takes days on 2 cores",
        options=[
            Option("depth", 18, "ResNet-18 or ResNet-34", choices=(18, 34)),
            Option("width", 16, "channels of the first stage (doubled per stage)", ge=1),
            Option("norm", "none", "normalization layer", choices=("none", "layer", "batch")),
            Option("bias", False, "biases in the convolutions"),
        ],
        # from its measured products (docs/performance.md): the headline command
        # `phasebench run --model resnet --estimator lanczos` is about 13 CPU minutes with these
        cpu_defaults=CPU_DEFAULTS_RESNET,
    )
    register(
        "uv",
        "phasebench_builtins.models.uv:build",
        description="catapult-theory uv model f = v^T u x / sqrt(n), x projected to a scalar",
        options=[
            Option("width", 512, "hidden width n", ge=1),
            Option("projection_seed", 0, "seed of the fixed projection of x to a scalar"),
        ],
    )
