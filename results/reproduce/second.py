"""The second edition's sections of results/REPORT.md: the paper's own next checks (its estimator,
batch sizes, normalization and the ResNet), the later regimes, Adam's edge of stability, another
learning-rate unit and warmup. Each section reads its files (``experiments.SECOND``), computes
its verdicts from them and says what it cost here; a section whose files are missing says so.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence

import numpy as np
from experiments import SECOND
from reading import (
    HERE,
    NAMES,
    PointSummary,
    ScanSummary,
    command,
    constants_table,
    exists,
    exported,
    figures,
    fmt,
    load_runs,
    loaded,
    option,
    points_of,
    verdict,
    x_step,
)

from phasebench.analysis.aggregates import Aggregate

SECOND_NAMES = set(SECOND)

COSTS = HERE / "data" / "costs.json"


def recorded_costs() -> dict:
    """data/costs.json: what each experiment cost when it last ran from no file."""
    return json.loads(COSTS.read_text()) if COSTS.exists() else {}


def cost(*names: str) -> str:
    """What the experiments cost when they last ran from no file, as recorded by reproduce.py."""
    costs = recorded_costs()
    known = [costs[n] for n in names if n in costs]
    if not known:
        return "Cost here: not recorded (the files were resumed, not run from scratch)."
    total = sum(c["seconds"] for c in known) / 60
    parts = ", ".join(f"`{n}` {costs[n]['seconds'] / 60:.1f} min" for n in names if n in costs)
    first = known[0]
    load = max(c.get("load", math.nan) for c in known)
    return (
        f"Cost here: {total:.1f} min of wall time ({parts}) with {first['workers']} worker "
        f"processes on this {first['cpus']}-core machine ({first['date']}; 5-minute load "
        f"average up to {load:.1f} as they ended: above {first['workers']}, they shared the "
        "cores with other work and an unloaded run is faster)."
    )


def missing(title: str, names: Sequence[str]) -> str | None:
    absent = [n for n in names if not (exists(n) or exported(n).exists())]
    if not absent:
        return None
    return f"## {title}\n\n_not run yet: {', '.join(f'`{n}`' for n in absent)}_"


def key(scan: ScanSummary) -> tuple:
    model = scan.config["model"]["options"]
    return (model.get("depth"), model.get("width"), scan.config["seed"])


def scans_of(name: str) -> dict[tuple, ScanSummary]:
    return {key(s): s for p in points_of(name) for s in p.scans}


def steps_between(a: float, b: float, step: float) -> float:
    """How many grid steps (of x = log2 c) b lies above a."""
    return (math.log2(b) - math.log2(a)) / step


def mean_std(values: Sequence[float]) -> str:
    v = np.asarray([x for x in values if np.isfinite(x)], dtype=float)
    if v.size == 0:
        return "undetermined"
    return f"{v.mean():+.2f} ± {v.std():.2f}"


def ratio_at_one(name: str, scan: ScanSummary, peak: bool = False) -> float:
    """lambda_10 / lambda_0 of the scan's run at its smallest c (c = 1 on these grids); with
    ``peak``, max_t lambda_t / lambda_0 over its steps (above 1: a sharpness catapult there,
    so c_sharp is at or below the grid's first point)."""
    runs = sorted(load_runs(name, scan.scan_id), key=lambda r: r["c"])
    sharp = np.asarray(runs[0]["sharpness"], dtype=float)
    return float((np.max(sharp[1:]) if peak else sharp[-1]) / sharp[0])


def fcn_parameters(depth: int, width: int, inputs: int = 784, outputs: int = 10) -> int:
    """Weights of the bias-free fcn: inputs x w, (depth - 2) w x w, w x outputs."""
    return inputs * width + (depth - 2) * width * width + width * outputs


def moved(a: Aggregate, b: Aggregate) -> bool:
    """Whether two points' means differ by more than the larger of their seeds' spreads."""
    if not (a.determined and b.determined):
        return False
    return abs(a.mean - b.mean) > max(a.std, b.std)


# -- 6. the paper's estimator ------------------------------------------------------------------
def estimator_section() -> str:
    title = "6. How much the paper's estimator moves the phase boundaries"
    names = ["fcn-he-power20", "fcn-he-next-batch"]
    if (gap := missing(title, ["fcn-he", *names])) is not None:
        return gap
    step = x_step("fcn-he")
    reference, power, nxt = scans_of("fcn-he"), scans_of("fcn-he-power20"), scans_of(names[1])
    rows = [
        "| depth | width | seed | lambda0 power-20 / Lanczos | predicted shift | "
        + " | ".join(f"{n} shift" for n in ("c_loss", "c_sharp", "c_max"))
        + " | c_sharp shift, next batch |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    shifts = {n: [] for n in ("c_loss", "c_sharp", "c_max")}
    explained, bias, next_shift = [], [], []
    for k in sorted(power):
        ref, pw = reference[k], power[k]
        ratio = pw.lambda0 / ref.lambda0
        bias.append(ratio)
        # eta = c / lambda0_est: an estimate low by ratio makes every nominal c act as c / ratio
        predicted = math.log2(ratio) / step
        cells = []
        for n in shifts:
            a, b = ref.constants[n], pw.constants[n]
            s = steps_between(a.value, b.value, step) if a.determined and b.determined else math.nan
            shifts[n].append(s)
            cells.append("—" if math.isnan(s) else f"{s:+.0f}")
            if n == "c_max" and not math.isnan(s):
                explained.append(abs(s - predicted) <= 1 + 1e-9)
        nb = nxt.get(k)
        ns = math.nan
        if nb is not None and ref.constants["c_sharp"].determined:
            if nb.constants["c_sharp"].determined:
                ns = steps_between(
                    ref.constants["c_sharp"].value, nb.constants["c_sharp"].value, step
                )
        next_shift.append(ns)
        rows.append(
            f"| {k[0]} | {k[1]} | {k[2]} | {ratio:.3f} | {predicted:+.1f} | "
            + " | ".join(cells)
            + f" | {'—' if math.isnan(ns) else f'{ns:+.0f}'} |"
        )
    bias = np.array(bias)
    sizes = [fcn_parameters(d, w) for d, w, _ in power]
    return "\n".join(
        [
            f"## {title}",
            "",
            "The authors measured the sharpness with 20 power iterations from one fixed start and"
            " no convergence test, and lambda_t on the next 512-example training batch. Here two "
            "fcn-He points of section 3 (d = 2 and 8 at w = 64; its first 2 seeds, the same "
            "batches and c grid) are rerun with exactly that estimator (`power` with `max_iter` "
            "20, `tol` 0, `start` fixed) and, separately, with Lanczos measuring lambda_t on the "
            "next training batch (`--sharpness-batch next`; lambda0 stays on the fixed batch), "
            "against section 3's Lanczos (relative residual 1e-3, warm-started) on the fixed "
            "batch.",
            "",
            command("fcn-he-power20"),
            "",
            command("fcn-he-next-batch"),
            "",
            "Shifts are in grid steps of x = log2 c (one step: a factor "
            f"{2**step:.3f} in c), power-20 or next batch minus Lanczos, per point and seed; "
            "'predicted' is the shift lambda0's bias alone causes (eta = c / lambda0_est).",
            "",
            *rows,
            "",
            f"- Power-20's lambda0 is below Lanczos's in {int((bias < 1 - 1e-4).sum())} of "
            f"{bias.size} scans (ratio {bias.min():.3f} to {bias.max():.3f}, mean "
            f"{bias.mean():.3f}), and never above it: {verdict(bool((bias <= 1 + 1e-4).all()))} "
            "(a Rayleigh quotient is never above the top eigenvalue, so a fixed budget can only "
            "be low). How low depends on the start's overlap with the top eigenvector and on "
            "the spectral gap; at these points 20 iterations get within the shown ratios.",
            "- Mean shift ± spread over the scans, in grid steps: "
            + ", ".join(f"{n} {mean_std(v)}" for n, v in shifts.items())
            + f"; c_sharp with the next-batch lambda_t {mean_std(next_shift)}.",
            f"- c_max's shift is lambda0's bias alone (within one grid step) in {sum(explained)} "
            f"of {len(explained)} scans: {verdict(bool(explained) and all(explained))}.",
            f"- `exact` does not fit at these sizes: the smallest model here has {min(sizes):,} "
            f"parameters (a dense float32 Hessian of {4 * min(sizes) ** 2 / 1e9:.0f} GB, refused "
            f"by `exact`'s 4 GiB `max_bytes`), the largest {max(sizes):,}. Lanczos at tol 1e-3 "
            "is the reference (its eigenvalue error is about tol^2 lambda / gap, far below one "
            "grid step: docs/sharpness.md).",
            "",
            cost("fcn-he-power20", "fcn-he-next-batch"),
            "",
            figures("fcn-he-power20"),
        ]
    )


# -- 7. batch sizes ----------------------------------------------------------------------------
def _axis_rows(
    points: list[PointSummary], value: Callable[[PointSummary], object], label: str
) -> tuple[list[str], list[PointSummary]]:
    ordered_points = sorted(points, key=lambda p: value(p))  # type: ignore[arg-type, return-value]
    rows = [
        f"| {label} | seeds | lambda0 | " + " | ".join(NAMES) + " |",
        "|---|---|---|" + "---|" * len(NAMES),
    ]
    for p in ordered_points:
        rows.append(
            f"| {value(p)} | {len(p.scans)} | {fmt(p.lambda0)} | "
            + " | ".join(fmt(p.aggregates[n]) for n in NAMES)
            + " |"
        )
    return rows, ordered_points


def _movement(points: list[PointSummary]) -> str:
    first, last = points[0], points[-1]
    moving = [n for n in NAMES if moved(first.aggregates[n], last.aggregates[n])]
    still = [n for n in NAMES if n not in moving]
    change = ", ".join(
        f"{n} {last.aggregates[n].mean / first.aggregates[n].mean:.2f}x"
        for n in NAMES
        if first.aggregates[n].determined and last.aggregates[n].determined
    )
    return (
        f"from the smallest to the largest: {change}; beyond the seeds' spread: "
        f"{', '.join(moving) or 'none'}; within it: {', '.join(still) or 'none'}"
    )


def batch_section() -> str:
    title = "7. Batch-size sensitivity"
    names = ["fcn-batch-size", "fcn-sharpness-examples"]
    if (gap := missing(title, ["fcn-sgd", *names])) is not None:
        return gap
    control = points_of("fcn-sgd")
    sgd_rows, sgd = _axis_rows(
        points_of("fcn-batch-size") + control, lambda p: p.config["batch_size"], "SGD batch"
    )
    sharp_rows, sharp = _axis_rows(
        points_of("fcn-sharpness-examples") + control,
        lambda p: p.config["sharpness_examples"],
        "sharpness examples",
    )
    return "\n".join(
        [
            f"## {title}",
            "",
            "The control point of section 5 (fcn d = 4, w = 128, He, 3 seeds) with the SGD batch "
            "at 128, 512 and 2,048 examples, then the sharpness batch (lambda0 and every lambda_t) "
            "at 256, 1,024 and 4,096 examples; 512 and 1,024 are section 5's own runs. 'Beyond "
            "the seeds' spread' means the means at the two ends differ by more than the larger "
            "of their standard deviations over seeds.",
            "",
            command("fcn-batch-size"),
            "",
            *sgd_rows,
            "",
            f"- SGD batch, {_movement(sgd)}.",
            "",
            command("fcn-sharpness-examples"),
            "",
            *sharp_rows,
            "",
            f"- Sharpness batch, {_movement(sharp)}. lambda0 itself: "
            f"{sharp[0].lambda0.mean:.3g} on {sharp[0].config['sharpness_examples']} examples, "
            f"{sharp[-1].lambda0.mean:.3g} on {sharp[-1].config['sharpness_examples']} (a "
            "smaller batch's Hessian has the larger top eigenvalue: its noise adds to it, and "
            "eta = c / lambda0 then shrinks every step).",
            "",
            cost(*names),
            "",
            figures("fcn-batch-size"),
            "",
            figures("fcn-sharpness-examples"),
        ]
    )


# -- 8. normalization and the ResNet ----------------------------------------------------------
def _survival(points: list[tuple[str, PointSummary]], step: float) -> list[str]:
    """One row per (file, point): the constants, the catapult window and the fall at c = 1."""
    rows = [
        f"| norm | seeds | lambda0 | c_loss | c_max | catapult window (steps of {step:g} in "
        "log2 c) | "
        "lambda_10 / lambda_0 at c = 1 | max_t lambda_t / lambda_0 at c = 1 |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, p in points:
        windows = [
            steps_between(s.constants["c_loss"].value, c_max_or_bound(s), step)
            for s in p.scans
            if s.constants["c_loss"].determined and math.isfinite(c_max_or_bound(s))
        ]
        above = any(not s.constants["c_max"].determined for s in p.scans)
        window = ("at least " if above else "") + mean_std(windows)
        falls = [ratio_at_one(name, s) for s in p.scans]
        peaks = [ratio_at_one(name, s, peak=True) for s in p.scans]
        rows.append(
            f"| {norm_of(p)} | {len(p.scans)} | {fmt(p.lambda0)} | {fmt(p.aggregates['c_loss'])} "
            f"| {bounded(p.aggregates['c_max'])} | {window} | {np.mean(falls):.3f} "
            f"| {np.mean(peaks):.3f} |"
        )
    return rows


def c_max_or_bound(scan: ScanSummary) -> float:
    """c_max, or where the scan never diverged on its grid the lower bound that gives."""
    c_max = scan.constants["c_max"]
    return c_max.value if c_max.determined else c_max.lower_bound


def norm_of(point: PointSummary) -> str:
    return str(point.config["model"]["options"].get("norm", "none"))


def survives(points: list[tuple[str, PointSummary]]) -> list[str]:
    """Per point: whether the catapult and the sharpness-reduction phases are both there."""
    out = []
    for name, p in points:
        catapult = [  # a c_max above the grid bounds the window from below
            s.constants["c_loss"].determined and s.constants["c_loss"].value < c_max_or_bound(s)
            for s in p.scans
        ]
        falls = [ratio_at_one(name, s) < 1 for s in p.scans]
        rises = [ratio_at_one(name, s, peak=True) > 1 for s in p.scans]
        out.append(
            f"- norm {norm_of(p)}: a catapult phase (c_loss < c_max) in {sum(catapult)} of "
            f"{len(catapult)} seeds, sharpness reduction at c = 1 (lambda_10 < lambda_0) in "
            f"{sum(falls)} of {len(falls)}: {verdict(all(catapult) and all(falls))} that both "
            f"survive. The sharpness rose above lambda_0 on the way (max_t lambda_t > lambda_0 "
            f"at c = 1, so c_sharp is at or below the grid's first point) in {sum(rises)} of "
            f"{len(rises)}."
        )
    return out


def tagged(*names: str) -> list[tuple[str, PointSummary]]:
    return [(name, p) for name in names for p in points_of(name)]


def norm_section() -> str:
    title = "8. Normalization, and the headline ResNet"
    names = ["fcn-norm"]
    if (gap := missing(title, ["fcn-sgd", *names])) is not None:
        return gap
    step = x_step("fcn-norm")
    points = tagged("fcn-sgd", "fcn-norm")
    parts = [
        f"## {title}",
        "",
        "fcn d = 4, w = 128, He (section 5's control) without normalization, with a LayerNorm "
        "and with a BatchNorm (batch statistics only) between each hidden layer and its ReLU "
        "(`model.norm`, new in this edition). 'Catapult window': c_max over c_loss in steps "
        "of the search's resolution in log2 c; lambda_10 / lambda_0 below 1 at c = 1 is the "
        "sharpness-reduction phase.",
        "",
        command("fcn-norm"),
        "",
        *_survival(points, step),
        "",
        *survives(points),
        "",
        cost(*names),
        "",
        figures("fcn-norm"),
    ]
    parts += ["", resnet_part()]
    return "\n".join(parts)


def scan_minutes(name: str, scan: ScanSummary) -> tuple[float, int]:
    """(minutes, runs) one scan took in its worker: lambda0 and every run, as stored."""
    record = loaded(name)["scans"][scan.scan_id]
    runs = load_runs(name, scan.scan_id)
    seconds = record["lambda0_seconds"] + sum(run["seconds"] for run in runs)
    return seconds / 60, len(runs)


def headline_costs(points: list[tuple[str, PointSummary]]) -> str:
    """What each ResNet scan cost, the norm none one being the headline command's."""
    parts = []
    for name, p in points:
        for s in p.scans:
            minutes, runs = scan_minutes(name, s)
            parts.append(
                f"norm {norm_of(p)}, seed {s.config['seed']}: {minutes:.1f} min ({runs} runs)"
            )
    return (
        "- The headline command, `phasebench run --model resnet --estimator lanczos`, is the norm "
        "none scan: ResNet-18's own defaults with its CPU defaults (`phasebench list model`: "
        "128 sharpness and 256 loss examples, batch 128, a bisection to a quarter octave). The "
        "wall time of each scan in its worker process, lambda0 and every run (two workers shared "
        "the two cores): " + "; ".join(parts) + "."
    )


def resnet_part() -> str:
    if not exists("resnet-norm"):
        return "### ResNet-18\n\n_not run yet: `resnet-norm`_"
    step = x_step("resnet-norm")
    points = tagged("resnet-norm")
    return "\n".join(
        [
            "### ResNet-18",
            "",
            command("resnet-norm"),
            "",
            *_survival(points, step),
            "",
            *survives(points),
            headline_costs(points),
            "",
            cost("resnet-norm"),
            "",
            figures("resnet-norm"),
        ]
    )


# -- 9. the four regimes ----------------------------------------------------------------------
def _traces(name: str) -> list:
    return sorted(loaded(name).traces, key=lambda t: (t.config["batch_size"], t.c))


def _regime_text(trace) -> str:
    if trace.diverged:
        return f"diverged at step {trace.diverged_step}"
    return ", ".join(f"{r['name']} {r['start']}-{r['end']}" for r in trace.regimes) or "none"


def _level(trace, fraction: float = 0.25) -> tuple[float, float]:
    """Mean and std of lambda_t / threshold over the last ``fraction`` of the measurements."""
    r = trace.sharpness[:, 0] / trace.threshold
    tail = r[int(len(r) * (1 - fraction)) :]
    tail = tail[np.isfinite(tail)]
    return (float(tail.mean()), float(tail.std())) if tail.size else (math.nan, math.nan)


def _eos(trace) -> str:
    eos = trace.eos or {}
    if not eos:
        return "—"
    return f"{eos['mean']:.3f} ± {eos['spread']:.3f}"


def _trace_rows(traces: list) -> list[str]:
    rows = [
        "| optimizer | batch | c | steps | regimes (start-end step) | EoS level (mean ± spread) "
        "| lambda / threshold, last quarter | loss first → last |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for t in traces:
        mean, std = _level(t)
        batch = "full" if t.config.get("full_batch") else t.config["batch_size"]
        rows.append(
            f"| {t.config['optimizer']['name']} | {batch} "
            f"| {t.c:g} | {t.steps_done} | {_regime_text(t)} | {_eos(t)} | "
            f"{mean:.3f} ± {std:.3f} | {t.loss[0]:.3g} → {t.loss[-1]:.3g} |"
        )
    return rows


def _falls_non_monotonically(trace) -> bool:
    eos = trace.eos or {}
    if not eos:
        return False
    window = trace.loss[np.asarray(trace.measured_step) >= eos["start"]]
    return bool(window.size > 2 and window[-1] < window[0] and np.any(np.diff(window) > 0))


def regimes_section() -> str:
    title = "9. The four regimes past step 10"
    names = ["trace-gd", "trace-gd-small-c", "trace-momentum", "trace-sgd-batch", "trace-uv"]
    if (gap := missing(title, names)) is not None:
        return gap
    gd = _traces("trace-gd") + _traces("trace-gd-small-c")
    momentum = _traces("trace-momentum")
    minibatch = _traces("trace-sgd-batch")
    at12 = next(t for t in gd if t.c == 12)
    at1 = next(t for t in gd if t.c == 1)
    names12 = [r["name"] for r in at12.regimes]
    later_three = names12[-3:] == ["saturation", "progressive-sharpening", "edge-of-stability"]
    every = int(at12.config["every"])
    first_fall = at12.sharpness[1, 0] / at12.sharpness[0, 0]
    names1 = [r["name"] for r in at1.regimes]
    ok_level = bool(at12.eos) and abs(at12.eos["mean"] - 1) <= 0.1
    [mom] = momentum
    ok_momentum = (
        mom.threshold_kind == "(2+2beta)/eta" and bool(mom.eos) and abs(mom.eos["mean"] - 1) <= 0.1
    )
    levels = [(t.config["batch_size"], _level(t)[0]) for t in minibatch]
    full_level = _level(at12)[0]
    chain = [full_level] + [lvl for _, lvl in sorted(levels, reverse=True)]
    falling = all(a > b for a, b in zip(chain, chain[1:], strict=False))
    uv = uv_check()
    return "\n".join(
        [
            f"## {title}",
            "",
            "Long runs (`phasebench trace`, through `sweep --trace`): fcn 784-64-64-10 ReLU He on "
            "the 1,024 real Fashion-MNIST training images phasebench ships (class-balanced), "
            "the sharpness (Lanczos, warm-started) and the loss on those 1,024, measured every "
            "20 steps at c = 12 and every 100 otherwise; the regimes "
            "labelled by the written rules of docs/regimes.md, the EoS level the mean of "
            "lambda_t / threshold over the edge-of-stability window (1.0 = exactly at it).",
            "",
            command("trace-gd"),
            "",
            command("trace-gd-small-c"),
            "",
            command("trace-momentum"),
            "",
            command("trace-sgd-batch"),
            "",
            *_trace_rows(gd + momentum + minibatch),
            "",
            "- Full-batch GD at c = 12 goes through saturation, progressive sharpening and the "
            f"edge of stability, in that order ({_regime_text(at12)}): {verdict(later_three)}. "
            f"Its early transient (the catapult: lambda falls to {first_fall:.2f} lambda0) is "
            f"over before the first measurement at step {every}, so by rule 5 of docs/regimes.md "
            "it is not a regime of its own here; the 10-step probe (sections 1-5) resolves it "
            "step by step, and at c = 1 (below) the slower fall is labelled early transient: "
            f"{verdict(bool(names1) and names1[0] == 'early-transient')}.",
            f"- Its sharpness hovers at 2 / eta: EoS level {_eos(at12)}, within 10% of 1: "
            f"{verdict(ok_level)}; the loss keeps falling over the EoS window, non-monotonically: "
            f"{verdict(_falls_non_monotonically(at12))}.",
            f"- At c = 1 within {at1.steps_done} steps: {_regime_text(at1)} (no edge of "
            f"stability: {verdict('edge-of-stability' not in [r['name'] for r in at1.regimes])}). "
            "At c = 40 (past the 10-step c_max) constant eta diverges: "
            + _regime_text(next(t for t in gd if t.c == 40))
            + " (section 12 trains it with warmup).",
            f"- Heavy-ball momentum beta = 0.9 (linear warmup from c = 0.5 over 1,000 steps, "
            f"which keeps the ReLUs alive at this c): the level moves to (2 + 2 beta) / eta: "
            f"threshold {mom.threshold_kind}, EoS level {_eos(mom)}: {verdict(ok_momentum)}.",
            "- Minibatch SGD at c = 12: lambda / (2 / eta) over the last quarter of the run "
            + ", ".join(f"batch {b}: {lvl:.3f}" for b, lvl in sorted(levels, reverse=True))
            + f" against {full_level:.3f} full-batch; falls as the batch shrinks: "
            f"{verdict(falling)}.",
            "",
            uv,
            "",
            cost(*names),
            "",
            figures("trace-gd"),
            "",
            figures("trace-momentum"),
            "",
            figures("trace-sgd-batch"),
            "",
            figures("trace-uv"),
        ]
    )


def uv_check() -> str:
    """The uv trace against the model's own two-variable recursion, step by step."""
    from phasebench.config import ProbeConfig
    from phasebench.plugins import components
    from phasebench.probe.problem import Problem
    from phasebench.theory import uv_hessian_top_of, uv_recursion

    [trace] = _traces("trace-uv")
    config = ProbeConfig.from_dict(trace.config)
    model = Problem.build(config, components()).initial_model()
    u, v = (p.detach().double().flatten().numpy() for p in model.parameters())
    n = len(u)
    y = float(trace.config["dataset"]["options"]["y"])
    f, ntk = uv_recursion(
        float(v @ u) / math.sqrt(n), float(u @ u + v @ v) / n, trace.eta, n, trace.steps_done, y=y
    )
    steps = np.asarray(trace.measured_step)
    loss_theory = (f[steps] - y) ** 2 / 2
    sharp_theory = uv_hessian_top_of(f[steps], ntk[steps], n, y=y)
    loss_err = float(np.max(np.abs(trace.loss - loss_theory) / np.maximum(loss_theory, 1e-12)))
    sharp_err = float(np.max(np.abs(trace.sharpness[:, 0] - sharp_theory) / sharp_theory))
    r = trace.sharpness[:, 0] * trace.eta_t / 2
    late = r[len(r) // 2 :]
    return "\n".join(
        [
            command("trace-uv"),
            "",
            f"- The uv model (width {n}, one example, target y = {y:g}, c = {trace.c:g}) against "
            f"its own recursion over all {trace.steps_done} steps: largest relative difference "
            f"of the loss {loss_err:.1e}, of the sharpness {sharp_err:.1e} "
            f"({verdict(max(loss_err, sharp_err) <= 1e-6)} that they agree to 1e-6). Over the "
            f"second half lambda eta / 2 = {late.mean():.3f} ± {late.std():.3f}, flipping "
            "between two values every step (a period-2 orbit around 2 / eta): the uv model's "
            f"edge of stability. Labelled: {_regime_text(trace)}.",
        ]
    )


# -- 10. Adam ---------------------------------------------------------------------------------
def adam_section() -> str:
    title = "10. Adam at its edge of stability"
    names = ["trace-adam", "fcn-adam-preconditioned"]
    if (gap := missing(title, [*names, "fcn-sgd", "fcn-adam"])) is not None:
        return gap
    [trace] = _traces("trace-adam")
    ok = bool(trace.eos) and abs(trace.eos["mean"] - 1) <= 0.1
    sgd, adam_h, adam_p = points_of("fcn-sgd"), points_of("fcn-adam"), points_of(names[1])
    ratio = [s.lambda_unit / s.lambda0 for p in adam_p for s in p.scans]
    sgd_ratio = sgd[0].aggregates["c_max"].mean / 2
    adam_ratio = adam_p[0].aggregates["c_max"].mean / 38
    on_scale = bool(np.isfinite(adam_ratio)) and 0.5 <= adam_ratio / sgd_ratio <= 2

    def over(point: PointSummary, n: str, threshold: float) -> str:
        a = point.aggregates[n]
        return f"{a.mean / threshold:.2f}" if a.determined else "undetermined"

    rows = [
        "| optimizer | unit | its stability threshold in c | c_loss | c_sharp | c_max "
        "| c_max / threshold |",
        "|---|---|---|---|---|---|---|",
        f"| sgd | lambda0 (Hessian) | 2 | {fmt(sgd[0].aggregates['c_loss'])} | "
        f"{fmt(sgd[0].aggregates['c_sharp'])} | {fmt(sgd[0].aggregates['c_max'])} | "
        f"{over(sgd[0], 'c_max', 2)} |",
        f"| adam | lambda0 (Hessian) | — | {fmt(adam_h[0].aggregates['c_loss'])} | "
        f"{fmt(adam_h[0].aggregates['c_sharp'])} | {fmt(adam_h[0].aggregates['c_max'])} | — |",
        f"| adam | lambda_P (preconditioned) | 38 | {fmt(adam_p[0].aggregates['c_loss'])} | "
        f"{fmt(adam_p[0].aggregates['c_sharp'])} | {fmt(adam_p[0].aggregates['c_max'])} | "
        f"{over(adam_p[0], 'c_max', 38)} |",
    ]
    return "\n".join(
        [
            f"## {title}",
            "",
            "Full-batch Adam (beta1 = 0.9, beta2 = 0.999) on section 9's 1,024 images at c = 0.05 "
            "(eta = 0.05 / lambda0), its preconditioned sharpness lambda_1(P^-1 H) measured with "
            "P from Adam's own state (docs/curvature.md) against its threshold "
            "(2 + 2 beta1) / (eta (1 - beta1)) = 38 / eta (Cohen et al. 2022).",
            "",
            command("trace-adam"),
            "",
            *_trace_rows([trace]),
            "",
            f"- The preconditioned sharpness equilibrates at 38 / eta: EoS level {_eos(trace)}, "
            f"within 10% of 1: {verdict(ok)}.",
            "",
            "The 10-step phase diagram of Adam with c in preconditioned units, "
            "eta = c / lambda_P(theta_0) (`--lr-unit preconditioned`, new in this edition), "
            "beside SGD's and beside Adam's in Hessian units (section 5b), all at d = 4, w = 128:",
            "",
            command("fcn-adam-preconditioned"),
            "",
            *rows,
            "",
            f"- lambda_P / lambda0 at initialization: {np.mean(ratio):.3g} ± {np.std(ratio):.2g} "
            f"over seeds ({min(ratio):.3g} to {max(ratio):.3g}). Adam's first steps are about "
            "eta per coordinate whatever the curvature, so in Hessian units its constants sit "
            "far below SGD's.",
            "- Does the preconditioned unit put Adam's 10-step phase diagram on its threshold's "
            "scale, as the Hessian unit puts SGD's on 2 (c_max / threshold within a factor 2 of "
            f"SGD's {sgd_ratio:.2f})? {verdict(on_scale)}: Adam's c_max / 38 is "
            f"{adam_ratio:.3g}. Why (our reading, not tested further here): at theta_0, P = "
            "(1 - beta1^2)(|g_0| + eps) is smallest, and P^-1 H largest, on the coordinates "
            "whose first gradient is near zero, so lambda_P(theta_0) is set by a few of them and "
            "varies several-fold between seeds; after a few hundred steps v has averaged "
            "many gradients and the trace above finds lambda_P at 38 / eta.",
            "",
            cost(*names),
            "",
            figures("trace-adam"),
            "",
            figures("fcn-adam-preconditioned"),
        ]
    )


# -- 11. another learning-rate unit -----------------------------------------------------------
def units_section() -> str:
    title = "11. Another learning-rate unit: GGN and critical sharpness"
    names = ["fcn-he-ggn", "fcn-he-critical"]
    if (gap := missing(title, ["fcn-he", *names])) is not None:
        return gap
    corners = {(option(p, "depth"), option(p, "width")) for p in points_of(names[0])}
    by_unit = {
        "hessian": [
            p for p in points_of("fcn-he") if (option(p, "depth"), option(p, "width")) in corners
        ],
        "ggn": points_of(names[0]),
        "critical": points_of(names[1]),
    }
    source = {"hessian": "fcn-he", "ggn": names[0], "critical": names[1]}
    lines, in_order = [], {}
    for unit, points in by_unit.items():
        dw = np.array([option(p, "depth") / option(p, "width") for p in points])
        c_loss = np.array([p.aggregates["c_loss"].mean for p in points])
        falls = np.array(
            [np.mean([ratio_at_one(source[unit], s) for s in p.scans]) for p in points]
        )
        order = np.argsort(dw)
        # lambda_unit is lambda0 in Hessian units (a first-edition export does not store it)
        unit_ratio = [
            1.0 if unit == "hessian" else np.mean([s.lambda_unit / s.lambda0 for s in p.scans])
            for p in points
        ]
        in_order[unit] = ([c_loss[i] for i in order], [unit_ratio[i] for i in order])
        lines.append(
            f"| {unit} | "
            + " | ".join(f"{unit_ratio[i]:.3f}" for i in order)
            + " | "
            + " | ".join(f"{c_loss[i]:.3g}" for i in order)
            + " | "
            + " | ".join(f"{falls[i]:.3f}" for i in order)
            + f" | {verdict(bool(np.all(np.diff(falls[order]) < 0)))} |"
        )
    labels = [
        f"d/w={option(p, 'depth')}/{option(p, 'width')}"
        for p in sorted(by_unit["hessian"], key=lambda p: option(p, "depth") / option(p, "width"))
    ]
    tables = []
    for unit, points in by_unit.items():
        if unit != "hessian":
            tables += [f"In {unit} units:", "", constants_table(points), ""]
    return "\n".join(
        [
            f"## {title}",
            "",
            "The fcn-He points of section 6 with eta = c / lambda_GGN(theta_0), the top "
            "eigenvalue of the Gauss-Newton matrix, and with eta = c / lambda_c, the critical "
            "sharpness 2 / eta_c of the first step's line search, beside Hessian units "
            "(section 3). "
            "lambda_t stays the Hessian's throughout, so the sharpness-reduction phase is the "
            "same measurement in every unit; what changes is which eta a value of c means.",
            "",
            command("fcn-he-ggn"),
            "",
            command("fcn-he-critical"),
            "",
            "| unit | "
            + " | ".join(f"lambda_unit / lambda0, {x}" for x in labels)
            + " | "
            + " | ".join(f"c_loss {x}" for x in labels)
            + " | "
            + " | ".join(f"lambda_10/lambda_0 at c = 1, {x}" for x in labels)
            + " | the fall deepens with d/w |",
            "|---|" + "---|" * (3 * len(labels)) + "---|",
            *lines,
            "",
            *tables,
            "- Does the sharpness-reduction phase still open with d/w in these units? The last "
            "column: lambda_10 / lambda_0 at c = 1 falls monotonically as d/w grows.",
            critical_reading(*in_order["critical"]),
            "",
            cost(*names),
            "",
            figures("fcn-he-ggn"),
            "",
            figures("fcn-he-critical"),
        ]
    )


def critical_reading(c_loss: Sequence[float], ratios: Sequence[float]) -> str:
    """Where c_loss sits in critical units (``c_loss`` and lambda_c / lambda0 by point, from
    the shallowest to the deepest): c = 2 is, by the line search's definition, the step at
    which the first update raises the loss."""
    near = all(abs(c - 2) <= 0.3 for c in c_loss)
    return (
        "- In critical units c_loss is "
        + ", ".join(f"{c:.3g}" for c in c_loss)
        + " from the shallowest to the deepest point: within 0.3 of 2 at every point: "
        f"{verdict(near)}. c = 2 is eta = eta_c, the step at which the optimizer's first "
        "update (on the sharpness batch) starts to raise that batch's loss, so the loss "
        "catapult starts at, or a little below, the first step's line search. In Hessian "
        "units the same boundary moves with d/w because lambda_c / lambda0 falls from "
        + " to ".join(f"{r:.3g}" for r in (ratios[0], ratios[-1]))
        + ": the "
        "update direction's curvature, not the top eigenvalue's, sets where the loss rises."
    )


def bounded(a: Aggregate) -> str:
    """fmt, and for scans that never diverged on the grid, the lower bound they give."""
    text = fmt(a)
    if a.bounds:
        text += f"; > {a.lower_bound:.3g} in {a.bounds} seed(s) that never diverged on the grid"
    return text


def ratio_text(a: Aggregate, b: Aggregate) -> str:
    if a.determined and b.determined and not b.bounds:
        return f"{b.mean / a.mean:.2f}x"
    if a.determined and b.bounds:  # every bound is the grid's end: a lower bound of the mean
        found = b.n * b.mean if b.determined else 0.0
        return f"> {(found + b.bounds * b.lower_bound) / (b.n + b.bounds) / a.mean:.2f}x"
    return "undetermined"


# -- 12. warmup -------------------------------------------------------------------------------
def warmup_section() -> str:
    title = "12. Warmup"
    names = ["fcn-sgd-warmup", "fcn-adam-gi", "fcn-adam-warmup", "trace-warmup"]
    if (gap := missing(title, [*names, "fcn-sgd", "fcn-adam", "trace-gd"])) is not None:
        return gap

    def c_max(name: str) -> Aggregate:
        return points_of(name)[0].aggregates["c_max"]

    pairs = [
        ("SGD, 10-step linear warmup from c = 1", "fcn-sgd", "fcn-sgd-warmup"),
        ("Adam, GI-Adam (v_0 = g_0^2)", "fcn-adam", "fcn-adam-gi"),
        ("Adam, 10-step linear warmup from c = 0.01", "fcn-adam", "fcn-adam-warmup"),
    ]
    rows = [
        "| change | c_max without | c_max with | ratio |",
        "|---|---|---|---|",
    ]
    for what, base, changed in pairs:
        a, b = c_max(base), c_max(changed)
        rows.append(f"| {what} | {bounded(a)} | {bounded(b)} | {ratio_text(a, b)} |")
    [warm] = _traces("trace-warmup")
    cold = next(t for t in _traces("trace-gd") if t.c == warm.c)
    return "\n".join(
        [
            f"## {title}",
            "",
            "The 10-step probe at d = 4, w = 128 under a linear warmup over the 10 steps (eta_t "
            "from init_c / lambda0 to c / lambda0) and with GI-Adam, against the same point "
            "without (sections 5 and 5b); c_max is the largest target c that does not diverge. "
            "Kalra & Barkeshli (2024) report warmup, and GI-Adam, raising the largest trainable "
            "learning rate of Adam about 4x.",
            "",
            command("fcn-sgd-warmup"),
            "",
            command("fcn-adam-gi"),
            "",
            command("fcn-adam-warmup"),
            "",
            *rows,
            "",
            command("trace-warmup"),
            "",
            *_trace_rows([cold, warm]),
            "",
            f"- A trace at c = {warm.c:g} (past every 10-step c_max of section 9's model) at "
            f"constant eta: {_regime_text(cold)}; with a linear warmup from c = 1 over 1,000 "
            f"steps: {_regime_text(warm)}. Warmup trains at a target the probe calls divergent: "
            f"{verdict(cold.diverged and not warm.diverged)}.",
            "",
            cost(*names),
            "",
            figures("fcn-sgd-warmup"),
            "",
            figures("trace-warmup"),
        ]
    )


def costs_section() -> str:
    """What every experiment cost here when it last ran from no file, and the total."""
    from reading import ALL

    costs = recorded_costs()
    rows = ["| experiment | edition | minutes | 5-minute load as it ended |", "|---|---|---|---|"]
    for name in ALL:
        if name in costs:
            c = costs[name]
            edition = "second" if name in SECOND_NAMES else "first"
            load = c.get("load")
            rows.append(
                f"| `{name}` | {edition} | {c['seconds'] / 60:.1f} | "
                f"{'not recorded' if load is None else f'{load:.1f}'} |"
            )
    missing_names = [n for n in ALL if n not in costs]
    total = sum(c["seconds"] for n, c in costs.items() if n in ALL) / 60
    return "\n".join(
        [
            "## What it cost",
            "",
            "Wall time of each experiment the last time it ran from no file (`reproduce.py` "
            "records it in `data/costs.json`), with 2 worker processes on this 2-core machine. "
            "A load above 2 means the cores were shared (with the other experiments of this "
            "run, and with other work): an unloaded run is faster by about that factor.",
            "",
            *rows,
            "",
            f"Total recorded: {total:.0f} min. Not recorded (resumed, or not run from scratch "
            f"this time): {', '.join(f'`{n}`' for n in missing_names) or 'none'}.",
        ]
    )


SECTIONS = (
    estimator_section,
    batch_section,
    norm_section,
    regimes_section,
    adam_section,
    units_section,
    warmup_section,
    costs_section,
)


def sections() -> list[str]:
    return [section() for section in SECTIONS]
