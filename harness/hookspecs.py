"""The hooks a phasebench plugin can implement: one per kind of component
(``phasebench.kinds`` lists the kinds; each kind's hook is declared here).

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
    (N, C, H, W) or (N, D), int64 labels of shape (N,), ``num_classes``). Labels are class
    indices: the loss encodes them (one-hot for MSE). ``data_dir`` (from ``--data-dir``) is where
    to look first. Missing, corrupt or checksum-failing files raise
    ``phasebench.errors.DataError`` with one line naming the file and the fix.

    A dataset read from files may also offer, for ``phasebench data status`` and ``fetch``:

    - ``locate(data_dir=None) -> list[tuple[str, Path | None]]``: each file it needs and where it
      was found (None: not found);
    - ``fetch(data_dir=None, progress=True) -> list[Path]``: download what is missing (into
      ``data_dir``, else the user cache), verified by checksum, leaving no partial file.

    A component without them (a synthetic dataset) has no files.
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
    The probe sets ``lr = c / lambda0``. Its stability threshold (what ``phasebench trace``
    compares the sharpness with) is declared on the factory with
    ``@phasebench.stability.stability_threshold(rule)``, ``rule(eta, **options) -> (value,
    kind)``; an adaptive one declares its own with ``@phasebench.adaptive.adaptive(...)``.
    """


@hookspec
def register_estimators(register):
    """Register sharpness estimators.

    Recommended: ``@phasebench.hessian.estimation.estimator(which=..., ...)`` on
    ``estimate(operator, request, **options) -> Estimate``. ``operator`` is a symmetric linear
    operator (``phasebench.hessian.linear.SymmetricOperator``: ``matvec``, ``matmat``,
    ``as_scipy()``, counting its products); ``request`` holds ``k``, ``warm_start`` (None or
    the previous result's unit eigenvectors), ``generator`` (seeds any random start) and
    ``return_vectors``. The estimator returns its k eigenvalues best first, whether its
    stopping rule was met, the residuals ||Hv - lambda v|| and, if asked, the vectors;
    ``phasebench.hessian.estimation.measure`` checks k and ``which``, counts the products,
    times the call and builds the ``SharpnessResult``. The decorator declares what it can
    find (``which``), whether it is exact, and which options are its tolerance and budget.

    The original contract keeps working: an undecorated
    ``estimate(operator, k=1, warm_start=None, generator=None, return_vectors=False,
    **options) -> SharpnessResult``. Raise ``phasebench.errors.UsageError`` (one line) for a
    problem it refuses. docs/plugins.md has both in full.
    """


@hookspec
def register_schedules(register):
    """Register learning-rate schedules.

    A schedule component is a callable ``make(eta, lambda0, steps, **options) -> eta_at``
    where ``eta_at(t) -> float`` is the learning rate of the update taken at step t = 1..steps.
    ``eta`` is the run's target c / lambda0, ``lambda0`` the curvature c is measured in (so
    ``init_c / lambda0`` is a learning rate), ``steps`` the length of the run. ``eta_at`` is
    deterministic and returns finite values >= 0 for every t in 1..steps. Options it cannot
    take with this run (a warmup longer than ``steps``) raise ``phasebench.errors.UsageError``
    (one line) from ``make``: the probe calls ``make`` before any work to check them. A config
    without a schedule trains at ``eta`` throughout (``constant``).
    """


@hookspec
def register_executors(register):
    """Register executors: what runs many probe tasks (in this process, processes, a cluster).

    An executor component is a callable ``make(**options) -> executor`` (bad options: a one-line
    ``UsageError``, e.g. ``workers=0``). The executor is a context manager (workers start on
    enter and stop on exit) with
    ``submit_all(fn, tasks) -> Iterator[phasebench.execution.Outcome]``: it runs ``fn(task)``
    for every task and yields one ``Outcome`` per task AS IT FINISHES, in any order. ``fn`` is
    a top-level function of an importable module (it is pickled by reference); tasks are plain
    picklable configurations, never models. An ``Outcome`` holds ``index`` (the task's
    position in ``tasks``), ``task``, ``ok``, ``value`` (what ``fn`` returned) or ``error`` (a
    ``TaskError``: type, message, traceback text) and ``attempts``. An attempt that raises, or
    whose worker process dies, is charged to its task and retried until the task has used
    ``retries + 1`` attempts (option ``retries``); then the task is reported failed and the
    other tasks continue. ``executor.in_flight`` counts attempts submitted and not finished.
    Workers run torch on one thread. ``phasebench.execution`` holds the shared types and the
    retry bookkeeping (``RetryLedger``, ``call_in_worker``).
    """


@hookspec
def register_loggers(register):
    """Register loggers: experiment trackers (MLflow, TensorBoard, ...) told of a study as it
    is written (``--logger NAME``, repeatable; the HDF5 file stays the record of truth).

    A logger component is a callable ``make(results, **options) -> logger`` (``results``: the
    ``Path`` of the study's HDF5 file; keep local files next to it by default). It must be
    cheap and connect to nothing: a missing library or a bad option is a one-line
    ``UsageError`` there, before any work (``phasebench.extras.require`` names the extra).
    The logger then receives, from the driver only (never from an executor's worker), once
    each and after the record is in the HDF5 file:

    - ``start(study)``: a ``phasebench.probe.loggers.StudyInfo`` (``results``, ``scans``,
      ``skipped``, ``runs_per_scan``); connect here;
    - ``log_scan(scan)``: a ``ScanRecord`` (``scan_id``, ``point_id``, ``config``,
      ``lambda0``, ``loss0``), before the first of its runs;
    - ``log_run(run)``: a ``RunRecord`` (``run_id``, ``scan_id``, ``config``, ``c``, ``eta``,
      the per-step ``loss``, ``batch_loss``, ``sharpness``, ``hvps``, ``converged``,
      ``diverged``, ``diverged_step``, the opt-in ``layer_sharpness``, ``smallest``,
      ``sharpness_top_k``, ``critical_sharpness``); ``phasebench.results.tables.step_values``
      (with the scan's ``layers``) aligns the steps and names every series;
    - ``log_constants(scan, constants)``: the scan's constants, name -> ``Constant``
      (``value``, ``status``, ``lower_bound``), when the scan completes;
    - ``log_figure(path)``: a PNG made from the file (``phasebench plot --logger``);
    - ``log_trace(trace)`` (optional: a logger without it is not told of traces): a finished
      or diverged ``TraceRecord`` of ``phasebench trace`` / ``sweep --trace``, once;
      ``phasebench.results.tables.trace_values`` gives its series by measured step;
    - ``close()``: once, at the end.

    Any exception a call raises is reported once in one line and the logger is not called
    again (``close`` is still tried); the study goes on. A logger is not part of a probe's
    configuration: it never changes a run id.
    """


@hookspec
def register_commands(register):
    """Register CLI subcommands: ``phasebench NAME``.

    A command component is a ``typer.Typer`` holding a command named like the registration
    (``@commands.command("trace")``) or a group of that name
    (``commands.add_typer(group, name="trace")``); the host adds that command to the
    ``phasebench`` application before it parses any argument. Register it as a lazy
    ``"module:attr"`` reference to the Typer, and keep torch out of that module's top-level
    imports, so ``phasebench --help`` stays fast. A command that fails to load is reported by
    ``phasebench plugins`` like any failed plugin, and every other command keeps working.
    Errors for the user are ``phasebench.errors.UsageError`` (one line, exit 2).
    """


@hookspec
def register_kinds(register):
    """Declare a kind of component of your own: ``register(phasebench.kinds.Kind(...))``.

    The kind gets a registry, ``phasebench list`` shows it, and any plugin can fill it through
    the hook ``register_<plural>(register)``, exactly like the core's kinds; a plugin's command
    looks its components up (``phasebench.plugins.components().load(kind, name)``). Its name,
    plural and hook must be new; it cannot add a field to a probe's configuration.
    """
