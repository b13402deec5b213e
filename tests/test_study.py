"""The study pipeline from Python: plan once with the registries given, execute through an
executor, errors that name parameters; and the guards of a plan (issues 12 and 13)."""

from __future__ import annotations

import collections
import math
import os
import shutil
import subprocess
import sys
import types
from pathlib import Path

import pytest
from support import subprocess_env

from phasebench import hookimpl, plugins, registry
from phasebench.analysis.phases import RunSummary
from phasebench.errors import ParameterError, UsageError
from phasebench.probe import problem, study
from phasebench.probe.grid import MAX_GRID, Grid, Search
from phasebench.probe.scan import _bisect
from phasebench.results import load

SMALL = dict(
    steps=2, batch_size=32, sharpness_examples=64, loss_examples=64, divergence_threshold=1e5
)


def _extra_loss_plugin() -> types.ModuleType:
    """A plugin registering a loss ``mse2`` that the process-wide registry does not hold."""
    module = types.ModuleType("extra_loss_plugin")

    @hookimpl
    def register_losses(register):
        register("mse2", "phasebench_builtins.losses.mse:make", description="mse, renamed")

    module.register_losses = register_losses
    return module


def _names(**overrides) -> dict[str, str]:
    from phasebench import kinds

    return {kind.field: overrides.get(kind.field, kind.default) for kind in kinds.probe_kinds()}


def test_injected_components_go_all_the_way_and_the_global_registry_is_never_read(
    tmp_path, monkeypatch
):
    """main: template() accepted an injected loss, then preflight() looked it up in the global
    registry: 'unknown loss mse2'."""
    components = plugins.load_components(extra_plugins=[("extra", _extra_loss_plugin())])
    names = _names(loss="mse2")
    base = study.template(
        components, study.Choices(names, {"model": {"depth": 2, "width": 8}}), **SMALL
    )

    def no_global():
        raise AssertionError("the probe read the process-wide registry")

    monkeypatch.setattr(plugins, "components", no_global)
    planned = study.plan(
        study.expand(base, [0], [0]), Search(grid=Grid((1.0, 2.0))), tmp_path / "s.h5", components
    )
    outcome = study.execute(planned, components)
    assert (outcome.done, outcome.failed) == (1, 0)
    [scan] = load(tmp_path / "s.h5")["scans"].values()
    assert scan["complete"] and scan["config"]["loss"]["name"] == "mse2"
    assert len(scan["runs"]) == 2


def _counted(monkeypatch) -> collections.Counter:
    counts: collections.Counter = collections.Counter()

    def wrap(owners, name):
        original = getattr(owners[0], name)

        def counted(*args, **kwargs):
            counts[name] += 1
            return original(*args, **kwargs)

        for owner in owners:
            monkeypatch.setattr(owner, name, counted)

    wrap([plugins.Components], "get")
    wrap([registry.Registration], "options")
    wrap([problem, study], "preflight")  # wherever it is called from
    return counts


def test_a_plan_validates_each_distinct_configuration_once(tmp_path, monkeypatch):
    """main: the review's tiny run (2 scans) made 3 preflights and 56 registry look-ups."""
    from typer.testing import CliRunner

    from phasebench.cli.main import app

    counts = _counted(monkeypatch)
    args = ["run", "--depth", "2", "--width", "16", "--c", "1,2", "--steps", "2", "--seeds", "1"]
    args += ["--sgd-seeds", "2", "--sharpness-examples", "128", "--loss-examples", "256"]
    result = CliRunner().invoke(app, [*args, "--batch-size", "64", "--out", str(tmp_path / "t.h5")])
    assert result.exit_code == 0, result.output
    assert counts["preflight"] == 1
    # the CLI's options (7 kinds: the unset schedule's default too) and template (6), the plan
    # (6), the first build (6), each scan (6 each), the executor (1), and the estimator entry
    # point once per sharpness measurement (lambda0 once, then 2 steps x 2 c x 2 scans); main
    # made 56. The time estimate before the grid: one more build (6) and one warm-started
    # measurement (1); its lambda0 is the scans'
    assert counts["get"] <= 7 + 6 * 3 + 6 * 2 + 1 + (1 + 2 * 2 * 2) + (6 + 1)


@pytest.mark.parametrize(
    ("make", "parameter"),
    [
        (lambda: Grid(x_step=0.0), "x_step"),
        (lambda: Grid(x_min=1.0, x_max=0.0), "x_max"),
        (lambda: Grid(x_max=math.inf), "x_max"),
        (lambda: Grid(x_min=math.nan), "x_min"),
        (lambda: Grid(x_step=1e-9), "x_step"),
        (lambda: Grid((math.inf,)), "c"),
        (lambda: Search("newton"), "search"),
        (lambda: Search("bisect", tol=1e-12), "tol"),
        (lambda: Search("bisect", tol=math.nan), "tol"),
        (lambda: Search(sharp_eps=-1.0), "sharp_eps"),
    ],
)
def test_library_errors_name_the_parameter_not_a_flag(make, parameter):
    with pytest.raises(ParameterError) as caught:
        make()
    assert parameter in caught.value.parameters
    assert parameter in str(caught.value) and "--" not in str(caught.value)


def test_a_plan_names_batch_size_not_its_flag(tmp_path):
    components = plugins.components()
    base = study.template(
        components,
        study.Choices(_names(), {"model": {"depth": 2, "width": 8}}),
        **{**SMALL, "batch_size": 100_000},
    )
    with pytest.raises(ParameterError) as caught:
        study.plan([base], Search(), tmp_path / "x.h5", components)
    assert str(caught.value).startswith("batch_size 100000 is larger than the 6000 training")
    assert not (tmp_path / "x.h5").exists()


def test_a_grid_beyond_the_sane_count_is_refused_before_it_is_built():
    grid = Grid(x_step=6.0 / (MAX_GRID - 1))
    assert grid.count() == MAX_GRID
    with pytest.raises(ParameterError, match="more than 10000"):
        Grid(x_step=1e-9)


def test_bisection_stops_when_x_cannot_be_split_further():
    """main: a tolerance below x's rounding (1e-10) bisected the same point forever."""
    search = Search("bisect", Grid(x_min=0.0, x_max=3.0))
    object.__setattr__(search, "tol", 1e-12)  # past the check, as an old caller could
    by_c: dict[float, object] = {}
    calls = []

    def evaluate(c: float):
        calls.append(c)
        if len(calls) > 500:
            raise AssertionError("bisection does not stop")
        if c not in by_c:
            log = math.log2(c)
            by_c[c] = RunSummary(
                c=c,
                diverged=log > math.pi / 2,
                loss_ratio_max=0.5,
                sharp_ratio_max=0.5,
                barrier=False,
            )
        return by_c[c]

    _bisect(search, evaluate, by_c)
    assert len(calls) < 100


def test_the_bisect_tolerance_of_the_issue_is_refused_at_once(tmp_path):
    """main: `run --search bisect --bisect-tol 1e-12` looped forever at 100% CPU."""
    cmd = [sys.executable, "-m", "phasebench.cli.main", "run", "--search", "bisect"]
    cmd += ["--bisect-tol", "1e-12", "--out", str(tmp_path / "x.h5")]
    result = subprocess.run(
        cmd, capture_output=True, text=True, cwd=tmp_path, timeout=120, env=subprocess_env()
    )
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith("error: --bisect-tol must be a number from 1e-06 up")
    assert not (tmp_path / "x.h5").exists()


def test_a_file_deleted_mid_run_is_made_again_with_its_header(tmp_path, monkeypatch):
    """main: the writer re-created the file without its header, stranding the later runs."""
    from phasebench.results.writer import ResultsWriter

    out = tmp_path / "gone.h5"
    write_run = ResultsWriter.write_run
    deleted = []

    def write_then_delete(self, run):
        write_run(self, run)
        if not deleted:
            deleted.append(run.run_id)
            os.remove(self.path)

    monkeypatch.setattr(ResultsWriter, "write_run", write_then_delete)
    components = plugins.components()
    base = study.template(
        components, study.Choices(_names(), {"model": {"depth": 2, "width": 8}}), **SMALL
    )
    planned = study.plan([base], Search(grid=Grid((1.0, 2.0, 4.0))), out, components)
    outcome = study.execute(planned, components)
    assert outcome.recreated == 1
    loaded = load(out)  # a phasebench file again, header and all
    assert loaded["attrs"]["format"] == "phasebench-results"
    [scan] = loaded["scans"].values()
    assert scan["lambda0"] > 0 and scan["complete"]
    assert len(scan["runs"]) == 3  # the run written before the deletion, written again


def _read_only(folder: Path) -> None:
    """Make ``folder`` read-only for this process, root included (a read-only tmpfs)."""
    if os.geteuid() != 0:
        for path in [folder, *folder.iterdir()]:
            path.chmod(0o555)
        return
    files = {p.name: p.read_bytes() for p in folder.iterdir()}
    try:
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(folder)], check=True)
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("running as root and cannot mount a tmpfs to make a folder read-only")
    for name, data in files.items():
        (folder / name).write_bytes(data)
    subprocess.run(["mount", "-o", "remount,ro", str(folder)], check=True)


@pytest.fixture
def read_only_folder(tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    shutil.copy(Path(__file__).parent / "data" / "main-a7147a9.h5", folder / "old.h5")
    _read_only(folder)
    yield folder
    if os.geteuid() == 0:
        subprocess.run(["umount", str(folder)], check=False)
    else:
        for path in [folder, *folder.iterdir()]:
            path.chmod(0o755)


@pytest.mark.parametrize("name", ["new.h5", "old.h5"])
def test_a_read_only_out_is_refused_by_the_plan(tmp_path, read_only_folder, name):
    components = plugins.components()
    base = study.template(
        components, study.Choices(_names(), {"model": {"depth": 2, "width": 8}}), **SMALL
    )
    with pytest.raises(ParameterError, match="cannot write") as caught:
        study.plan([base], Search(), read_only_folder / name, components, resume=True)
    assert caught.value.parameters == ("out",)


def test_an_empty_study_is_refused(tmp_path):
    with pytest.raises(UsageError, match="the study is empty"):
        study.plan([], Search(), tmp_path / "x.h5", plugins.components())


def test_a_number_that_cannot_be_hashed_is_named_by_its_key():
    config = {"c": 1.0, "estimator": {"name": "mine", "options": {"beta": math.inf}}}
    with pytest.raises(ParameterError, match="estimator option beta must be a finite number"):
        problem.check_finite(config)
