"""The hooks a phasebench plugin can implement: one per kind of component.

Every hook receives a ``register`` callback and returns nothing. A plugin calls it once per
component it provides::

    register(name, component, description="one line", defaults={...})

``component`` is the object itself or a lazy ``"package.module:attribute"`` reference, which is
imported only when the component is used, so ``phasebench list`` never imports torch.
``defaults`` maps each option the component accepts to its default value (JSON-able values);
``phasebench list`` shows them and the CLI validates options against them.

What each kind of component must be is stated in the hook's docstring and checked by
``phasebench.testing``. ``docs/plugins.md`` is the long form of this file.
"""

from __future__ import annotations

import pluggy

PROJECT = "phasebench"

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def register_models(register):
    """Register models.

    A model component is a callable ``build(input_shape, num_outputs, **options) -> nn.Module``.
    ``input_shape`` is one example's shape, e.g. ``(1, 28, 28)``; ``num_outputs`` the number of
    classes. Raise ``phasebench.errors.UsageError`` (one line) for options or inputs it cannot take.
    """


@hookspec
def register_datasets(register):
    """Register datasets.

    A dataset component is a callable ``load(split, data_dir=None, **options) -> Split`` with
    ``split`` in {"train", "test"}, returning a ``phasebench.data.Split`` (float inputs of shape
    (N, C, H, W) or (N, D), int64 labels of shape (N,), ``num_classes``). Missing or corrupt
    files raise ``phasebench.errors.DataError``.
    """


@hookspec
def register_initializations(register):
    """Register initializations.

    An initialization component is a callable
    ``initialize(model, generator, **options) -> nn.Module``: it draws every parameter of
    ``model`` from ``generator`` (a ``torch.Generator``; no global RNG) and returns the model to
    train, which may be ``model`` itself or a wrapper of it (an output multiplier, say).
    """


@hookspec
def register_losses(register):
    """Register losses.

    A loss component is a callable ``make(**options) -> loss`` where ``loss(outputs, targets)``
    returns the scalar mean loss over the batch and ``loss.encode_targets(labels, num_classes)``
    turns int64 labels into the targets it expects (one-hot for MSE, indices for cross-entropy).
    """


@hookspec
def register_optimizers(register):
    """Register optimizers.

    An optimizer component is a callable ``make(params, lr, **options) -> torch.optim.Optimizer``.
    The probe sets ``lr = c / lambda0``.
    """


@hookspec
def register_estimators(register):
    """Register sharpness estimators.

    An estimator component is a callable
    ``estimate(operator, k=1, warm_start=None, generator=None, return_vectors=False, **options)
    -> phasebench.hessian.SharpnessResult`` where ``operator`` is a
    ``phasebench.hessian.HessianOperator`` (a symmetric linear operator v -> Hv over the flattened
    parameters, counting its products).
    """


@hookspec
def register_executors(register):
    """Register executors: what runs many probe tasks (in this process, processes, a cluster).

    An executor component is a callable ``make(**options) -> executor`` where the executor is a
    context manager with ``submit_all(fn, tasks) -> iterator of (task, outcome)`` that yields
    each task's outcome as it finishes. Tasks are plain picklable configurations, never models.
    """
