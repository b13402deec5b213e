"""Built-in initializations: the paper's criticality init and its variants.

Every initialization is ``initialize(model, generator, **options) -> nn.Module`` and draws only
from the explicit ``torch.Generator``. They work on any model that follows this convention
(every built-in model does; so does a plain ``nn.Sequential`` of Linear layers):

- weights live in ``nn.Linear`` / ``nn.ConvNd`` layers, visited in ``model.modules()`` order;
  the LAST of them is the output layer, all others are hidden;
- fan-in = ``weight[0].numel()`` (inputs x kernel size), unless the layer sets ``init_fan_in``;
- biases start at zero; normalization layers at weight 1, bias 0;
- any other parameter is an error naming it.
"""

from phasebench import Option, hookimpl

PACKAGE = "phasebench_builtins.initializations"


@hookimpl
def register_initializations(register):
    register(
        "he",
        f"{PACKAGE}.variance:he",
        description="criticality, standard param: hidden N(0, 2/fan_in), last N(0, 1/fan_in)",
    )
    register(
        "lecun",
        f"{PACKAGE}.variance:lecun",
        description="every layer N(0, 1/fan_in)",
    )
    register(
        "xavier",
        f"{PACKAGE}.variance:xavier",
        description="every layer N(0, 2/(fan_in + fan_out)) (Glorot normal)",
    )
    register(
        "zero-last",
        f"{PACKAGE}.variance:zero_last",
        description="He hidden layers, last layer zero (output 0 at init)",
    )
    register(
        "scaled-output",
        f"{PACKAGE}.output_scale:scaled_output",
        description="He init, network output multiplied by alpha",
        options=[Option("alpha", 1.0, "output multiplier")],
    )
    register(
        "mup",
        f"{PACKAGE}.output_scale:mup",
        description="He init, output divided by w**exponent (w = last layer's fan-in)",
        options=[Option("exponent", 1.0, "output divided by w ** exponent (1: the paper's)")],
    )
    register(
        "ntk",
        f"{PACKAGE}.ntk:ntk",
        description="NTK param: weights N(0, 1), layer inputs times sqrt(variance/fan_in)",
        options=[
            Option("hidden_variance", 2.0, "weight variance of the hidden layers", gt=0),
            Option("last_variance", 1.0, "weight variance of the output layer", gt=0),
        ],
    )
