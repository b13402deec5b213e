"""What ``run`` and ``sweep`` say before a study starts: about how long it will take on this
machine, measured from its first products (``phasebench.probe.estimate``), and which options
cut it. One paragraph on stderr; the figures are this machine's under its load now."""

from __future__ import annotations

from typing import TYPE_CHECKING

from phasebench.cli.markup import literal

if TYPE_CHECKING:  # pragma: no cover
    from rich.console import Console

    from phasebench.plugins import Components
    from phasebench.probe.estimate import Cut, JobEstimate
    from phasebench.probe.study import Study

#: Below this many seconds the estimate is one line without the options that cut it.
WORTH_CUTTING = 120.0


def duration(seconds: float) -> str:
    """``45 s``, ``3.2 min``, ``2.1 h``."""
    if seconds < 90:
        return f"{seconds:.0f} s" if seconds >= 10 else f"{seconds:.2g} s"
    if seconds < 5400:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


def estimate_text(
    estimate: JobEstimate, cuts: list[Cut], steps: int, cuda: bool, device: str
) -> str:
    """The paragraph ``announce`` prints."""
    costs = estimate.costs
    runs = f"{'up to ' if estimate.upper_bound else 'about '}{estimate.runs} runs of {steps} steps"
    scans = f"{estimate.scans} scan{'s' if estimate.scans != 1 else ''}"
    stop = (
        "; a grid scan stops at its first divergence, often sooner" if estimate.upper_bound else ""
    )
    run_seconds = costs.per_run_seconds
    text = (
        f"estimate: about {duration(estimate.seconds)} on this machine as loaded now, for "
        f"{runs} ({scans}{stop}). Measured: lambda0 {duration(costs.lambda0)} "
        f"({costs.lambda0_hvps} products), one run {duration(run_seconds)} (a sharpness "
        f"measurement {duration(costs.measurement)}, {costs.hvps} products; an SGD step "
        f"{duration(costs.step)}; a loss evaluation {duration(costs.evaluation)})."
    )
    if estimate.seconds < WORTH_CUTTING:
        return text
    shown = [f"{cut.flag} (about {duration(cut.seconds)})" for cut in cuts]
    if device == "cpu":
        shown.append("--device cuda" + ("" if cuda else " on a machine with a GPU"))
    return text + " To cut it: " + ", ".join(shown) + "." if shown else text


def announce(
    study: Study, components: Components, console: Console, parallel: int = 1
) -> tuple[Study, JobEstimate | None]:
    """Measure the first scan's lambda0 and products, print the estimate, and return the study
    with that lambda0 handed to its scans (it is not measured again) and the estimate."""
    import torch

    from phasebench.probe.estimate import calibrate_study, cuts

    if not study.tasks:
        return study, None
    console.print("estimate: timing the first products (lambda0 of the first scan)...")
    try:
        planned, estimate = calibrate_study(study, components, parallel)
    except Exception as exc:  # the scan's own failure is the executor's to retry and record
        line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        console.print(
            literal(f"estimate: none (the first scan raised: {line}); the study runs as planned"),
            soft_wrap=True,
            highlight=False,
        )
        return study, None
    if estimate is None:
        return planned, None
    config = planned.configs[0]
    text = estimate_text(
        estimate,
        cuts(planned, estimate.costs, parallel) if estimate.seconds >= WORTH_CUTTING else [],
        config.steps,
        torch.cuda.is_available(),
        config.device,
    )
    console.print(literal(text), soft_wrap=True, highlight=False)
    return planned, estimate
