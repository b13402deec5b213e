"""A c-scan: every learning-rate constant tried for one initialization and one SGD seed.

``grid``: c = 2^x for x on the grid, in increasing order, stopping at the first divergence (the
paper's protocol). ``bisect``: a coarse grid (x step ``coarse_step``) up to the first
divergence, then, for each constant, bisection in x = log2 c between the last run below its
transition and the first above, until the bracket is narrower than ``tol``. The constants are
computed from the runs by the same rule in both modes (``critical_constants``), so bisection
reaches a tolerance t in about coarse + 4 log2(coarse_step / t) runs where the grid needs
range / t.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from phasebench.analysis import phases
from phasebench.analysis.phases import Constant, RunSummary, critical_constants
from phasebench.config import ProbeConfig
from phasebench.plugins import Components
from phasebench.probe import trajectory
from phasebench.probe.grid import Search
from phasebench.probe.problem import Problem
from phasebench.results.records import RunRecord, ScanRecord


@dataclass
class ScanOutcome:
    start: ScanRecord
    runs: list[RunRecord]  # the runs computed now
    summaries: list[RunSummary]  # every run of the scan, earlier ones included
    constants: dict[str, Constant]


def run_scan(
    config: ProbeConfig,
    search: Search,
    components: Components,
    *,
    data_dir: str | None = None,
    done: Mapping[str, RunSummary] | None = None,
    known_start: ScanRecord | None = None,
    on_start: Callable[[ScanRecord], None] | None = None,
    on_run: Callable[[RunRecord], None] | None = None,
    engine: str = "sequential",
) -> ScanOutcome:
    """Run one scan; ``done`` maps run ids already finished (resume) to their summaries.
    ``engine``: ``sequential`` (one c after another) or ``batched`` (a grid's values of c
    trained together, ``phasebench.probe.batched``; a bisect stays sequential): the same
    runs either way."""
    done = dict(done or {})
    problem = Problem.build(config, components, data_dir)
    begin = trajectory.start(problem, known_start)
    batched = None
    if engine == "batched" and search.mode == "grid":
        from phasebench.probe.batched import BatchedGrid

        left = [c for c in search.grid.cs() if config.with_c(c).run_id not in done]
        batched = BatchedGrid(problem, begin, left)
    if on_start is not None:  # before any run: a file killed mid-scan still has lambda0
        on_start(begin.record)
    computed: list[RunRecord] = []
    by_c: dict[float, RunSummary] = {}

    def evaluate(c: float) -> RunSummary:
        c = float(c)
        if c in by_c:
            return by_c[c]
        run_id = config.with_c(c).run_id
        if run_id in done:
            summary = done[run_id]
        else:
            if batched is not None:
                record = batched.run(c)
            else:
                record = trajectory.run(problem, begin, c)
            computed.append(record)
            if on_run is not None:
                on_run(record)
            summary = record.summary()
        by_c[c] = summary
        return summary

    if search.mode == "grid":
        for c in search.grid.cs():
            if evaluate(c).diverged:
                break
    else:
        _bisect(search, evaluate, by_c)
    summaries = sorted(by_c.values(), key=lambda s: s.c)
    constants = critical_constants(summaries, search.sharp_eps)
    return ScanOutcome(begin.record, computed, summaries, constants)


def _bisect(search: Search, evaluate: Callable[[float], RunSummary], by_c) -> None:
    grid = search.grid
    x = grid.x_min
    while x <= grid.x_max + 1e-12:
        if evaluate(2.0**x).diverged:
            break
        x = round(x + search.coarse_step, 10)
    for predicate in phases.transitions(search.sharp_eps).values():
        while True:
            runs = sorted(by_c.values(), key=lambda r: r.c)
            hit = next((i for i, r in enumerate(runs) if r.diverged or predicate(r)), None)
            if hit is None or hit == 0:
                break  # above the grid, or below its first point: nothing to bracket
            lo, hi = math.log2(runs[hit - 1].c), math.log2(runs[hit].c)
            if hi - lo <= search.tol:
                break
            middle = 2.0 ** round((lo + hi) / 2, 10)
            if middle in by_c:  # the bracket is as narrow as x's rounding allows
                break
            evaluate(middle)
