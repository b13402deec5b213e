"""From what the user typed to the list of scans: component specs with their full options
(defaults merged), every (point, seed, SGD seed), and what a results file already holds."""

from __future__ import annotations

import itertools
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from phasebench import kinds
from phasebench.config import ComponentSpec, ProbeConfig
from phasebench.errors import ParameterError
from phasebench.plugins import Components
from phasebench.probe.scan import Search
from phasebench.probe.task import ScanTask
from phasebench.results.schema import scan_record
from phasebench.results.summary import run_summaries

#: ProbeConfig field -> registry kind
FIELD_KINDS = {kind.field: kind.name for kind in kinds.probe_kinds()}


@dataclass(frozen=True)
class Choices:
    """Component names and the options given for each (before defaults)."""

    names: Mapping[str, str]
    options: Mapping[str, Mapping[str, Any]]


def template(components: Components, choices: Choices, **protocol: Any) -> ProbeConfig:
    """A ProbeConfig with every component's options complete; unknown names and options fail
    with one line (the registry's messages). The protocol's numbers are checked with the rest
    of the plan (``phasebench.probe.study.plan``). An optional kind (the schedule) left out of
    ``choices.names`` or given its default component is None: unset, and not hashed."""
    specs = {}
    for kind in kinds.probe_kinds():
        field_name, name = kind.field, choices.names.get(kind.field)
        if kind.optional and name in (None, kind.default):  # its default is what None means
            specs[field_name] = None
            continue
        registration = components.get(kind.name, name)
        given = choices.options.get(field_name, {})
        specs[field_name] = ComponentSpec.of(registration.name, registration.stored(given))
    return ProbeConfig(**specs, **protocol)


def expand(
    base: ProbeConfig,
    seeds: Sequence[int],
    sgd_seeds: Sequence[int],
    model_grid: Sequence[Mapping[str, Any]] = ({},),
) -> list[ProbeConfig]:
    """Every (model options, seed, SGD seed) of a sweep, as configurations."""
    out = []
    for model_options, seed, sgd_seed in itertools.product(model_grid, seeds, sgd_seeds):
        model = ComponentSpec.of(base.model.name, {**base.model.opts(), **model_options})
        out.append(replace(base, model=model, seed=int(seed), sgd_seed=int(sgd_seed)))
    return out


def start_of(scan_id: str, scan: Mapping[str, Any]):
    """The stored lambda0 and L0 of a scan (as ``load`` returns it): a resumed scan reuses them."""
    return scan_record(scan_id, scan)


def tasks_for(
    configs: Sequence[ProbeConfig],
    search: Search,
    path: Path,
    scans: Mapping[str, Any],
    resume: bool,
    data_dir: str | None = None,
) -> tuple[list[ScanTask], int]:
    """The scans still to run, and how many were skipped as complete (``resume``); ``scans``
    is what the results file at ``path`` holds (``load(path)["scans"]``)."""
    present = [c.scan_id for c in configs if c.scan_id in scans]
    if present and not resume:
        raise ParameterError(
            f"{path} already holds {len(present)} of these scans; pass resume to "
            "skip what is done, or another out",
            "resume",
            "out",
        )
    tasks, skipped = [], 0
    for config in configs:
        scan = scans.get(config.scan_id)
        if scan is None:
            tasks.append(ScanTask(config, search, data_dir))
        elif scan.get("complete"):
            skipped += 1
        else:
            tasks.append(
                ScanTask(
                    config,
                    search,
                    data_dir,
                    known_start=start_of(config.scan_id, scan),
                    done=run_summaries(scan),
                )
            )
    return tasks, skipped


#: What varies inside one study: a stored scan that differs from a planned one only here is
#: another part of the same study, not a different setting.
VARIED = frozenset(
    {"c", "seed", "sgd_seed", "device", "model.options.depth", "model.options.width"}
)


def differing_keys(a: Mapping[str, Any], b: Mapping[str, Any], prefix: str = "") -> list[str]:
    """The dotted keys whose values differ between two configuration dicts (a key missing on
    one side differs)."""
    out = []
    for key in sorted(set(a) | set(b)):
        name = f"{prefix}{key}"
        left, right = a.get(key, _MISSING), b.get(key, _MISSING)
        if isinstance(left, Mapping) and isinstance(right, Mapping):
            out += differing_keys(left, right, f"{name}.")
        elif left != right:
            out.append(name)
    return out


_MISSING = object()


def setting_drift(
    configs: Sequence[ProbeConfig], scans: Mapping[str, Any]
) -> tuple[int, list[str]]:
    """Stored scans that match no planned configuration even up to seeds, c and depth/width,
    and the keys in which the closest of them differs: ``(0, [])`` when every stored scan is
    part of this study. A component option added or changed since the file was written (an
    upgrade) makes a resumed study start over beside its old scans; this says why."""
    planned = [json.loads(json.dumps(c.to_dict())) for c in configs]  # tuples -> lists, as stored
    others, closest = 0, None
    for scan in scans.values():
        gaps = [[k for k in differing_keys(scan["config"], p) if k not in VARIED] for p in planned]
        gap = min(gaps, key=len)
        if gap:
            others += 1
            closest = gap if closest is None or len(gap) < len(closest) else closest
    return others, closest or []
