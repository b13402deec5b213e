"""Built-in loggers: experiment trackers told of every scan, run and constant as the driver
writes it (``--logger mlflow --logger tensorboard``). ``mlflow`` and ``tensorboard`` need their
extras (``pip install 'phasebench[mlflow]'``, ``'phasebench[tensorboard]'``); ``jsonl`` needs
nothing. The HDF5 results file stays the record of truth."""

from phasebench import Option, hookimpl


@hookimpl
def register_loggers(register):
    register(
        "mlflow",
        "phasebench_builtins.loggers.mlflow_tracker:MlflowLogger",
        description="MLflow: a run per scan, a nested run per c with its per-step metrics "
        "(the mlflow extra)",
        options=[
            Option(
                "tracking_uri",
                None,
                "where runs go (none: sqlite:///<results folder>/mlflow.db)",
                type=str,
            ),
            Option("experiment", "phasebench", "the MLflow experiment's name"),
        ],
    )
    register(
        "tensorboard",
        "phasebench_builtins.loggers.tensorboard_events:TensorBoardLogger",
        description="TensorBoard event files: a run folder per c, scalars per step "
        "(the tensorboard extra)",
        options=[
            Option(
                "log_dir",
                None,
                "the event files' folder (none: <results folder>/tensorboard/<results stem>)",
                type=str,
            ),
        ],
    )
    register(
        "jsonl",
        "phasebench_builtins.loggers.jsonl_lines:JsonlLogger",
        description="one JSON line per record, for any other tool",
        options=[
            Option("path", None, "the file appended to (none: <results>.jsonl)", type=str),
        ],
    )
