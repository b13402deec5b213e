"""Write results/REPORT.md from the HDF5 files in this folder: the tables of measured constants,
the checks of each claim (computed here, from the files), the figures, and the hand-written
discussion.md; then the second edition (second.md, second.py's sections, second-discussion.md).

Every number in the report is read from a results file; nothing is typed in by hand except the
published values of the paper (``PAPER`` below, as docs/protocol.md lists them).
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import second  # noqa: E402
from reading import (  # noqa: E402
    ALL,
    HERE,
    command,
    constants_table,
    exists,
    exported,
    figures,
    fmt,
    load_runs,
    loaded,
    option,
    ordered,
    points_of,
    scan_summaries,
    source_note,
    verdict,
    x_step,
)

from phasebench.config import ProbeConfig  # noqa: E402
from phasebench.plugins import components  # noqa: E402
from phasebench.probe.problem import Problem  # noqa: E402
from phasebench.theory import uv_loss_catapult_c  # noqa: E402

#: Kalra & Barkeshli's saved notebook outputs: CIFAR-10, fcn d = 8, one seed, He init.
PAPER = {
    256: {"lambda0": 67.8, "L0": 0.382, "c_loss": 3.2, "c_sharp": 4.9, "c_max": 13.9},
    512: {"lambda0": 101.0, "L0": 0.446, "c_loss": 3.0, "c_sharp": 4.3, "c_max": 13.0},
    1024: {"lambda0": 202.3, "L0": 0.376, "c_loss": 2.6, "c_sharp": 4.0, "c_max": 13.9},
    2048: {"lambda0": 347.5, "L0": 0.575, "c_loss": 2.5, "c_sharp": 3.2, "c_max": 12.1},
}


# -- claim 1 ---------------------------------------------------------------------------------
def claim_uv() -> str:
    points = points_of("uv")
    rows = [
        "| width | seeds | c_loss (probe) | c_loss (closed form) | agree within 0.1 | c_max |",
        "|---|---|---|---|---|---|",
    ]
    agree_all = True
    for p in points:
        probe, closed = [], []
        for scan in p.scans:
            config = ProbeConfig.from_dict(scan.config)
            model = Problem.build(config, components()).initial_model()
            u, v = (t.detach().double().flatten().numpy() for t in model.parameters())
            grid = sorted(r.c for r in scan.runs)
            closed.append(uv_loss_catapult_c(u, v, grid))
            probe.append(scan.constants["c_loss"].value)
        agree = bool(np.all(np.abs(np.array(probe) - np.array(closed)) <= 0.1))
        agree_all &= agree
        rows.append(
            f"| {option(p, 'width')} | {len(p.scans)} | {fmt(p.aggregates['c_loss'])} | "
            f"{np.mean(closed):.3g} ± {np.std(closed):.2g} | {'yes' if agree else 'no'} | "
            f"{fmt(p.aggregates['c_max'])} |"
        )
    widest = points[-1]
    step = 2 ** x_step("uv")
    to_two = widest.aggregates["c_loss"].max <= 2 * step + 1e-9
    means = [p.aggregates["c_loss"].mean for p in points]
    shrinking = means[0] >= means[-1]
    to_four = abs(widest.aggregates["c_max"].mean - 4) <= 4 * (step - 1) + 1e-9
    return "\n".join(
        [
            "## 1. The uv model: c_loss -> 2 as the width grows, c_max -> 4",
            "",
            command("uv"),
            "",
            *rows,
            "",
            f"- The probe's c_loss equals the closed-form recursion's (same u, v, same grid) within "
            f"0.1 for every seed and width: {verdict(agree_all)}.",
            f"- c_loss approaches 2: at width {option(widest, 'width')} every seed's c_loss is the "
            f"first grid point above 2 ({2 * step:.3g}), and the mean does not grow with the width "
            f"({means[0]:.3g} at width {option(points[0], 'width')}): "
            f"{verdict(to_two and shrinking)}.",
            f"- c_max approaches 4 (the 10-step c_max of a linear-like model): "
            f"{verdict(to_four)} (mean {widest.aggregates['c_max'].mean:.3g} at the largest width).",
            "",
            figures("uv"),
        ]
    )


# -- claim 2 ---------------------------------------------------------------------------------
def claim_zero_last() -> str:
    points = points_of("fcn-zero-last")
    step = x_step("fcn-zero-last")
    values = [s.constants["c_loss"] for p in points for s in p.scans]
    ok = all(v.determined and abs(math.log2(v.value) - 1) <= step + 1e-9 for v in values)
    loss0 = [s.loss0 for p in points for s in p.scans]
    steps_off = [
        (
            option(p, "depth"),
            option(p, "width"),
            max(abs(math.log2(s.constants["c_loss"].value) - 1) / step for s in p.scans),
        )
        for p in points
    ]
    within_two = all(off <= 2 + 1e-9 for d, _, off in steps_off if d >= 4)
    labels = " | ".join(f"d={option(p, 'depth')}, w={option(p, 'width')}" for p in points)
    creep = [min(s.runs, key=lambda r: r.c).sharp_ratio_max - 1 for p in points for s in p.scans]
    eps_rows = [
        f"| {eps} | "
        + " | ".join(fmt(p.aggregates["c_sharp"]) for p in points_of("fcn-zero-last", eps))
        + " |"
        for eps in (0.05, 0.2)
    ]
    return "\n".join(
        [
            "## 2. fcn, last layer initialized to zero: c_loss = 2",
            "",
            command("fcn-zero-last"),
            "",
            constants_table(points),
            "",
            f"- L0 = 0.05 exactly (f0 = 0): measured {min(loss0):.6g} to {max(loss0):.6g}.",
            f"- c_loss = 2 within the grid step (|log2 c_loss - 1| <= {step}) for all "
            f"{len(values)} scans, every depth and width: {verdict(ok)}.",
            "- How far above 2, in grid steps (worst seed): "
            + ", ".join(f"d={d} w={w}: {off:.1f}" for d, w, off in steps_off)
            + f". Within two grid steps at depths 4 and 8: {verdict(within_two)}.",
            "- The paper's zero-init values: c_loss = 2.0 at every width, c_sharp 2.6-3.0, "
            "c_max 10-14 (CIFAR-10, d = 8).",
            "- With eps = 0 the sharpness exceeds lambda0 at every c tried (c_sharp is the first "
            "grid point): with a zero last layer the hidden layers' gradients start at zero and "
            f"the sharpness creeps up (at c = 1 by {min(creep):.1%} to {max(creep):.1%} over the "
            "10 steps). c_sharp with the paper's other threshold, and a larger one:",
            "",
            f"| eps | {labels} |",
            "|---|" + "---|" * len(points),
            *eps_rows,
            "",
            figures("fcn-zero-last"),
        ]
    )


# -- claim 3 ---------------------------------------------------------------------------------
def claim_he() -> str:
    points = points_of("fcn-he")
    scans = [s for p in points for s in p.scans]
    above_two = all(
        s.constants[n].value > 2
        for s in scans
        for n in ("c_loss", "c_sharp")
        if s.constants[n].determined
    )
    order_ok = [ordered(s) for s in scans]
    dw = np.array([option(p, "depth") / option(p, "width") for p in points])
    c_loss = np.array([p.aggregates["c_loss"].mean for p in points])
    c_sharp = np.array([p.aggregates["c_sharp"].mean for p in points])

    def rank_corr(x, y):
        keep = ~np.isnan(y)
        if keep.sum() < 3:
            return float("nan")
        rx, ry = np.argsort(np.argsort(x[keep])), np.argsort(np.argsort(y[keep]))
        return float(np.corrcoef(rx, ry)[0, 1])

    falls, fall_at_one = [], []
    for p in points:
        for s in p.scans:
            c_l = s.constants["c_loss"].value if s.constants["c_loss"].determined else math.inf
            falls += [r.sharp_ratio_max < 1 for r in s.runs if r.c < c_l and not r.diverged]
        ratio = []
        for s in p.scans:
            run = next(r for r in load_runs("fcn-he", s.scan_id) if r["c"] == 1.0)
            ratio.append(run["sharpness"][-1] / run["sharpness"][0])
        fall_at_one.append(float(np.mean(ratio)))
    fall_at_one = np.array(fall_at_one)
    by_dw = np.argsort(dw)
    rows = [
        "| depth | width | d/w | lambda_10 / lambda_0 at c = 1 (mean over seeds) |",
        "|---|---|---|---|",
    ]
    for i in by_dw:
        p = points[i]
        rows.append(
            f"| {option(p, 'depth')} | {option(p, 'width')} | {dw[i]:.3g} | {fall_at_one[i]:.3f} |"
        )
    corr_loss, corr_sharp = rank_corr(dw, c_loss), rank_corr(dw, c_sharp)
    corr_fall = rank_corr(dw, fall_at_one)
    return "\n".join(
        [
            "## 3. fcn at criticality (He, standard parametrization)",
            "",
            *([source_note("fcn-he"), ""] if source_note("fcn-he") else []),
            command("fcn-he"),
            "",
            constants_table(points),
            "",
            f"- c_loss and c_sharp above 2 wherever determined: {verdict(above_two)}.",
            f"- c_loss grows with d/w: rank correlation of mean c_loss with d/w = {corr_loss:.2f} "
            f"(c_sharp: {corr_sharp:.2f}): {verdict(corr_loss > 0)}.",
            f"- c_loss <= c_sharp <= c_barrier <= c_max in {sum(order_ok)} of {len(order_ok)} scans: "
            f"{verdict(all(order_ok))}.",
            f"- For c < c_loss the sharpness falls over the 10 steps (max_t lambda_t/lambda_0 < 1) in "
            f"{sum(falls)} of {len(falls)} runs: {verdict(all(falls))}.",
            f"- It falls more at larger d/w: rank correlation of lambda_10/lambda_0 at c = 1 with d/w "
            f"= {corr_fall:.2f}: {verdict(corr_fall < 0)}.",
            "",
            *rows,
            "",
            "The paper's values beside ours (theirs: CIFAR-10, d = 8, one seed; ours: Fashion-MNIST):",
            "",
            "| width | paper c_loss | paper c_sharp | paper c_max "
            "| ours (d = 8) c_loss | c_sharp | c_max |",
            "|---|---|---|---|---|---|---|",
            *[
                f"| {w} | {PAPER[w]['c_loss']} | {PAPER[w]['c_sharp']} | {PAPER[w]['c_max']} | "
                + " | ".join(fmt(p.aggregates[n]) for n in ("c_loss", "c_sharp", "c_max"))
                + " |"
                for p in points
                if option(p, "depth") == 8 and (w := option(p, "width")) in PAPER
            ],
            "",
            figures("fcn-he"),
        ]
    )


# -- claims 4 and 5 --------------------------------------------------------------------------
def simple(name: str, title: str, keys=("depth", "width"), note: str = "") -> str:
    if not (exists(name) or exported(name).exists()):
        return f"## {title}\n\n_not run_"
    points = points_of(name)
    scans = [s for p in points for s in p.scans]
    order_ok = [ordered(s) for s in scans]
    return "\n".join(
        [
            f"## {title}",
            "",
            *([source_note(name), ""] if source_note(name) else []),
            command(name),
            "",
            constants_table(points, keys),
            "",
            f"- c_loss <= c_sharp <= c_barrier <= c_max in {sum(order_ok)} of {len(order_ok)} scans.",
            *([note] if note else []),
            "",
            figures(name),
        ]
    )


def export(name: str) -> None:
    """The evidence in a small committed form: every scan's constants and every run's summary
    (the HDF5 files themselves are regenerated by ``make reproduce``)."""
    data = loaded(name)
    scans = []
    for scan in scan_summaries(data):
        runs = data["scans"][scan.scan_id]["runs"].values()
        scans.append(
            {
                "scan_id": scan.scan_id,
                "config": scan.config,
                "lambda0": scan.lambda0,
                "loss0": scan.loss0,
                "constants": {
                    k: {"value": None if math.isnan(v.value) else v.value, "status": v.status}
                    for k, v in scan.constants.items()
                },
                "runs": [
                    {
                        "c": r["c"],
                        "diverged": bool(r["diverged"]),
                        "loss_ratio": [
                            None if not np.isfinite(x) else x
                            for x in (r["loss"] / scan.loss0).tolist()
                        ],
                        "sharpness_ratio": [
                            None if not np.isfinite(x) else x
                            for x in (r["sharpness"] / scan.lambda0).tolist()
                        ],
                        "barrier_max_ratio": (
                            float(np.max(r["barrier_loss"]) / scan.loss0)
                            if r["barrier_loss"].size
                            else None
                        ),
                    }
                    for r in sorted(runs, key=lambda r: r["c"])
                ],
            }
        )
    folder = HERE / "data"
    folder.mkdir(exist_ok=True)
    (folder / f"{name}.json").write_text(json.dumps({"experiment": name, "scans": scans}))


def export_traces(name: str) -> None:
    """A trace file's evidence in committed form: each trace's configuration, regimes, EoS
    statistics and its measurements thinned to at most 200 rows."""
    traces = []
    for t in loaded(name).traces:
        rows = np.unique(np.linspace(0, len(t.measured_step) - 1, 200).astype(int))
        traces.append(
            {
                "trace_id": t.trace_id,
                "config": t.config,
                "c": t.c,
                "eta": t.eta,
                "regimes": t.regimes,
                "eos": t.eos,
                "diverged": t.diverged,
                "diverged_step": t.diverged_step,
                "steps_done": t.steps_done,
                "threshold_kind": t.threshold_kind,
                **{
                    column: [
                        None if not np.isfinite(x) else float(x)
                        for x in np.asarray(values, dtype=float)[rows]
                    ]
                    for column, values in (
                        ("measured_step", t.measured_step),
                        ("loss", t.loss),
                        ("sharpness", t.sharpness[:, 0]),
                        ("threshold", t.threshold),
                        ("eta_t", t.eta_t),
                    )
                },
            }
        )
    folder = HERE / "data"
    folder.mkdir(exist_ok=True)
    (folder / f"{name}.json").write_text(json.dumps({"experiment": name, "traces": traces}))


def main() -> None:
    for name in ALL:
        if not exists(name):
            continue
        (export_traces if "--trace" in ALL[name] else export)(name)
    parts = [
        "# Reproducing Kalra & Barkeshli (2023) with phasebench",
        "",
        "Generated by `make reproduce` (`results/reproduce/reproduce.py`, then this file's "
        "generator `report.py`) from the HDF5 files in `results/reproduce/`. Every number below "
        "is read from those files; each verdict is computed from them. The discussion at the "
        "end is written by hand.",
        "",
        (HERE / "setup.md").read_text().strip(),
        "",
        claim_uv(),
        "",
        claim_zero_last(),
        "",
        claim_he(),
        "",
        simple("myrtle", "4a. Myrtle CNN at two depths"),
        "",
        simple("fcn-xent", "4b. fcn with cross-entropy"),
        "",
        simple("fcn-sgd", "5. The control: plain SGD at d = 4, w = 128"),
        "",
        simple("fcn-momentum", "5a. Heavy-ball momentum (beta = 0.9)"),
        "",
        simple("fcn-adam", "5b. Adam"),
        "",
        simple("fcn-mup", "5c. muP initialization (output / width)"),
        "",
        (HERE / "discussion.md").read_text().strip(),
        "",
        "# Second edition: the paper's next checks, the later regimes, the new units",
        "",
        (HERE / "second.md").read_text().strip(),
        "",
        *[part for section in second.sections() for part in (section, "")],
        (HERE / "second-discussion.md").read_text().strip(),
        "",
    ]
    (HERE.parent / "REPORT.md").write_text("\n".join(parts))
    print(f"wrote {HERE.parent / 'REPORT.md'}")


if __name__ == "__main__":
    main()
