"""Built-in learning-rate schedules: constant (the paper's), linear and polynomial warmup from
init_c (Kalra & Barkeshli 2024, "Why warmup the learning rate?"), and cosine decay after an
optional warmup. Each gives eta_t from the target eta = c / lambda0."""

from phasebench import Option, hookimpl

_WARMUP = "steps to reach the target eta (none: the whole run)"
_INIT_C = "the warmup starts (at t = 0) from eta = init_c / lambda0"


@hookimpl
def register_schedules(register):
    register(
        "constant",
        "phasebench_builtins.schedules.constant:constant",
        description="eta = c / lambda0 at every step (the paper's; the default)",
    )
    register(
        "linear",
        "phasebench_builtins.schedules.warmup:linear",
        description="linear warmup from init_c / lambda0 to eta over warmup_steps, then eta",
        options=[
            Option("warmup_steps", None, _WARMUP, type=int, ge=1),
            Option("init_c", 0.01, _INIT_C, gt=0),
        ],
    )
    register(
        "polynomial",
        "phasebench_builtins.schedules.warmup:polynomial",
        description="warmup from init_c / lambda0 to eta as (t / warmup_steps)^power, then eta",
        options=[
            Option("warmup_steps", None, _WARMUP, type=int, ge=1),
            Option("init_c", 0.01, _INIT_C, gt=0),
            Option("power", 2.0, "exponent of the ramp (1: linear)", gt=0),
        ],
    )
    register(
        "cosine",
        "phasebench_builtins.schedules.cosine:cosine",
        description="optional linear warmup, then cosine decay from eta to the final value",
        options=[
            Option("warmup_steps", 0, "linear warmup steps before the decay (0: none)", ge=0),
            Option("init_c", 0.01, _INIT_C, gt=0),
            Option(
                "final_c",
                None,
                "decay to final_c / lambda0 (none: use final_fraction)",
                type=float,
                ge=0,
            ),
            Option("final_fraction", 0.0, "decay to this fraction of eta", ge=0, le=1),
        ],
    )
