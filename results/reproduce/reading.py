"""What the report's sections share: where the files are, reading them, and the table, verdict,
figure and command formats. ``report.py`` (the first edition's claims) and ``second.py`` (the
second edition's) both read through these."""

from __future__ import annotations

import functools
import json
import math
import os
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
#: where the HDF5 files are (a test points it at a fresh run of the sweeps)
DATA = Path(os.environ.get("PHASEBENCH_REPRODUCE_DATA", HERE))
sys.path.insert(0, str(HERE))

from experiments import EXPERIMENTS, SECOND  # noqa: E402

from phasebench.analysis.phases import Constant, RunSummary  # noqa: E402
from phasebench.config import ProbeConfig  # noqa: E402
from phasebench.probe.constants import NAMES  # noqa: E402
from phasebench.probe.summary import (  # noqa: E402
    PointSummary,
    ScanSummary,
    point_summaries,
    scan_summaries,
)
from phasebench.results import load  # noqa: E402

#: every experiment of both editions, by name
ALL = {**EXPERIMENTS, **SECOND}


def exists(name: str) -> bool:
    return (DATA / f"{name}.h5").exists()


def exported(name: str) -> Path:
    """The committed summary of an experiment's last full run (``report.export``)."""
    return HERE / "data" / f"{name}.json"


#: experiments whose section was read from their committed export, not from an HDF5 file
FROM_EXPORT: set[str] = set()


@functools.cache
def _export(name: str) -> dict:
    return json.loads(exported(name).read_text())


def _largest(values) -> float:
    finite = [v for v in values if v is not None]
    return max(finite) if finite else math.nan


def from_export(name: str) -> list[ScanSummary]:
    """The scans of an experiment as its committed export has them (constants, L_t / L_0 and
    lambda_t / lambda_0 per run): what a section reads when this run did not regenerate the
    HDF5 file."""
    scans = []
    for s in _export(name)["scans"]:
        runs = [
            RunSummary(
                c=r["c"],
                diverged=r["diverged"],
                loss_ratio_max=_largest(r["loss_ratio"][1:]),
                sharp_ratio_max=_largest(r["sharpness_ratio"][1:]),
                barrier=(r["barrier_max_ratio"] or 0.0) > 1.0,
            )
            for r in s["runs"]
        ]
        largest = max((r.c for r in runs), default=math.nan)
        scans.append(
            ScanSummary(
                scan_id=s["scan_id"],
                point_id=ProbeConfig.from_dict(s["config"]).point_id,
                config=s["config"],
                lambda0=s["lambda0"],
                loss0=s["loss0"],
                constants={n: Constant.from_dict(v, largest) for n, v in s["constants"].items()},
                runs=runs,
                complete=True,
                sharp_eps=0.0,
            )
        )
    return scans


def source_note(name: str) -> str:
    """One line where a section was read from the committed export instead of its file."""
    if name not in FROM_EXPORT:
        return ""
    return (
        f"_Read from `results/reproduce/data/{name}.json`, the committed summary of this "
        "experiment's last full run: `make reproduce` did not regenerate its HDF5 file this "
        "time (the run was stopped for time), so its figures are that run's too._"
    )


_LOADED: dict[str, object] = {}


def loaded(name: str):
    """An experiment's results file, read once per process (reading a large file verifies
    every group's checksum: seconds to minutes)."""
    if name not in _LOADED:
        _LOADED[name] = load(DATA / f"{name}.h5")
    return _LOADED[name]


def points_of(name: str, sharp_eps: float = 0.0) -> list[PointSummary]:
    if not exists(name) and sharp_eps == 0.0 and exported(name).exists():
        FROM_EXPORT.add(name)
        return point_summaries(from_export(name))
    return point_summaries(scan_summaries(loaded(name), sharp_eps))


def option(point: PointSummary, key: str):
    return point.config["model"]["options"].get(key)


def fmt(a) -> str:
    if a.n == 0:
        return "undetermined"
    text = f"{a.mean:.3g} ± {a.std:.2g} [{a.min:.3g}, {a.max:.3g}]"
    return text if a.n == a.of else f"{text} ({a.n}/{a.of} seeds)"


def constants_table(points: list[PointSummary], keys=("depth", "width")) -> str:
    head = [*keys, "d/w" if "depth" in keys else None, "seeds", "lambda0", "L0", *NAMES]
    head = [h for h in head if h]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for p in points:
        cells = [str(option(p, k)) for k in keys]
        if "depth" in keys:
            cells.append(f"{option(p, 'depth') / option(p, 'width'):.3g}")
        cells += [str(len(p.scans)), fmt(p.lambda0), fmt(p.loss0)]
        cells += [fmt(p.aggregates[n]) for n in NAMES]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def ordered(scan: ScanSummary) -> bool:
    values = [scan.constants[n].value for n in NAMES]
    known = [v for v in values if not math.isnan(v)]
    return known == sorted(known)


def verdict(ok: bool) -> str:
    return "**holds**" if ok else "**does not hold**"


def figures(name: str) -> str:
    folder = HERE / "figures" / name
    if not folder.exists():
        return "_(figures not generated)_"
    return "\n".join(
        f"![{png.stem}](reproduce/figures/{name}/{png.name})"
        for png in sorted(folder.glob("*.png"))
    )


def command(name: str) -> str:
    args = " ".join(ALL[name])
    out = f"results/reproduce/{name}.h5"
    return (
        f"```bash\nphasebench sweep {args} \\\n    --executor process --workers 2 --out {out}\n```"
    )


def x_step(name: str) -> float:
    """The resolution of an experiment's constants in x = log2 c: its grid's --x-step, or for
    a model whose CPU defaults bisect (resnet; the command gives no grid) the tolerance they
    bisect to."""
    args = ALL[name]
    if "--x-step" in args:
        return float(args[args.index("--x-step") + 1])
    from phasebench.plugins import components

    model = components().get("model", args[args.index("--model") + 1])
    return float(dict(model.cpu_defaults)["bisect_tol"])


def load_runs(name: str, scan_id: str) -> list[dict]:
    """The runs of a scan, each with its c and ``sharpness`` (lambda_t); from a committed export
    (``from_export``) ``sharpness`` is lambda_t / lambda0, which every ratio read here is
    unchanged by."""
    if name in FROM_EXPORT or (not exists(name) and exported(name).exists()):
        FROM_EXPORT.add(name)
        for scan in _export(name)["scans"]:
            if scan["scan_id"] == scan_id:
                return [
                    {
                        "c": r["c"],
                        "sharpness": np.array(
                            [math.nan if x is None else x for x in r["sharpness_ratio"]]
                        ),
                    }
                    for r in scan["runs"]
                ]
        raise KeyError(f"{name}: no scan {scan_id} in {exported(name)}")
    return list(loaded(name)["scans"][scan_id]["runs"].values())
