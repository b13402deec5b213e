"""``phasebench show FILE.h5``: the tables of a results file again, or its constants as JSON.
Reads the file only; never imports torch."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Any

import typer

from phasebench.cli.file_options import SharpEpsOverride, check_sharp_eps
from phasebench.cli.markup import literal

#: The commands this module adds (installed by the built-in commands plugin).
commands = typer.Typer()


def summary_json(path: Path, points, failures: dict[str, Any], sharp_eps: float | None) -> dict:
    """The constants of every scan and their aggregates per point, JSON-ready (nan -> null, by
    ``phasebench.results.codec``). Each run carries its phase (``analysis.phases.phase_of``)."""
    from phasebench.analysis.labels import point_label
    from phasebench.analysis.phases import phase_of
    from phasebench.results import codec

    return codec.plain(
        {
            "file": str(path),
            "sharp_eps": sharp_eps,  # null: each scan's recorded threshold, in its "sharp_eps"
            "points": [
                {
                    "point_id": point.point_id,
                    "label": point_label(point.config),
                    "config": point.config,
                    "lambda0": point.lambda0,
                    "loss0": point.loss0,
                    "constants": point.aggregates,
                    "scans": [
                        {
                            "scan_id": scan.scan_id,
                            "seed": scan.config["seed"],
                            "sgd_seed": scan.config["sgd_seed"],
                            "lambda0": scan.lambda0,
                            "lambda0_measured": scan.lambda0_measured,
                            "loss0": scan.loss0,
                            "complete": scan.complete,
                            "sharp_eps": scan.sharp_eps,
                            "constants_from": scan.source,
                            "constants": scan.constants,
                            "runs": [
                                {**asdict(run), "phase": phase_of(run, scan.sharp_eps)}
                                for run in scan.runs
                            ],
                        }
                        for scan in point.scans
                    ],
                }
                for point in points
            ],
            "failures": [
                {"task_id": task_id, "error": f.get("error"), "attempts": f.get("attempts")}
                for task_id, f in sorted(failures.items())
            ],
        }
    )


@commands.command("show")
def show(
    file: Annotated[Path, typer.Argument(help="A results file written by run or sweep.")],
    sharp_eps: SharpEpsOverride = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the constants and aggregates as JSON.")
    ] = False,
    all_scans: Annotated[
        bool, typer.Option("--all-scans", help="A phases table for every scan, not the first.")
    ] = False,
    as_config: Annotated[
        bool,
        typer.Option(
            "--config",
            help="Print a scan's configuration as a TOML file for run --config (docs/api.md).",
        ),
    ] = False,
    scan: Annotated[
        str | None,
        typer.Option(
            help="With --config: which scan (its id or a unique prefix).", show_default=False
        ),
    ] = None,
) -> None:
    """Show the critical constants of a results file (per seed and aggregated over seeds), as
    each scan stored them when it completed (recomputed only with --sharp-eps), and the phase
    of every c."""
    from rich.console import Console

    from phasebench.analysis.labels import point_label
    from phasebench.cli.tables import constants_table, phases_table
    from phasebench.cli.trace_display import trace_lines, trace_summary
    from phasebench.errors import UsageError
    from phasebench.results import codec, load
    from phasebench.results.summary import point_summaries, scan_summaries

    sharp_eps = check_sharp_eps(sharp_eps)
    loaded = load(file)
    if as_config:
        from phasebench.cli.rerun import config_text

        typer.echo(config_text(loaded, file, scan), nl=False)
        return
    if scan is not None:
        raise UsageError("--scan picks the scan of show --config; pass --config too")
    points = point_summaries(scan_summaries(loaded, sharp_eps))
    if as_json:
        summary = summary_json(file, points, loaded["failures"], sharp_eps)
        summary["traces"] = codec.plain([trace_summary(t) for t in loaded.traces])
        typer.echo(codec.dumps(summary, indent=2))
        return
    console = Console()
    if not points and not loaded.traces:
        typer.echo(f"{file}: no scans yet")
    for point in points:
        scans = point.scans if all_scans else point.scans[:1]
        for scan in scans:
            if scan.runs:
                console.print(f"[b]{literal(point_label(point.config))}[/b]", soft_wrap=True)
                console.print(phases_table(scan))
    if points:
        console.print(constants_table(points))
    for line in trace_lines(loaded.traces):
        console.print(line, soft_wrap=True, highlight=False)
    for task_id, failure in sorted(loaded["failures"].items()):
        console.print(
            f"[red]failed[/red] {task_id} after {failure.get('attempts')} attempt(s): "
            + literal(failure.get("error")),
            soft_wrap=True,
        )
