"""The ``logger`` kind: the driver tells each logger every scan, run and set of constants once,
after it is in the HDF5 file; a logger that raises is reported once and dropped while the study
loses nothing; ``--logger`` on the CLI with its options; and the real libraries read back what
the built-ins wrote (MLflow through ``MlflowClient``, TensorBoard through its event reader)."""

from __future__ import annotations

import json
import math
import shutil
import sys
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from phasebench import kinds, plugins
from phasebench.cli.main import app
from phasebench.probe import study
from phasebench.probe.grid import Grid
from phasebench.probe.loggers import Loggers, StudyInfo, replay
from phasebench.results import load
from phasebench.results.tables import step_values
from phasebench.testing import ConformanceError, check_plugin
from phasebench.testing.loggers import _write_png

DATA = Path(__file__).parent / "data"
FULL = DATA / "main-a7147a9.h5"  # real results: two complete scans, seed 0 diverges at c = 100
SMALL = dict(
    steps=2,
    batch_size=32,
    sharpness_examples=64,
    loss_examples=64,
    divergence_threshold=1e5,
    barrier_points=5,
)
TINY_RUN = [
    "run", "--depth", "2", "--width", "8", "--c", "1,1000", "--steps", "2",
    "--sharpness-examples", "64", "--loss-examples", "64", "--batch-size", "32",
]  # fmt: skip
runner = CliRunner()
torch.set_num_threads(1)


class Recording:
    """A logger that keeps every call; ``fail_in`` names a call that raises."""

    def __init__(self, fail_in: str | None = None) -> None:
        self.calls: list[tuple[str, object]] = []
        self.fail_in = fail_in

    def _note(self, call: str, value: object) -> None:
        self.calls.append((call, value))
        if call == self.fail_in:
            raise ConnectionError("tracking server down\nsecond line never shown")

    def start(self, info):
        self._note("start", info)

    def log_scan(self, scan):
        self._note("log_scan", scan.scan_id)

    def log_run(self, run):
        self._note("log_run", run.run_id)

    def log_constants(self, scan, constants):
        self._note("log_constants", (scan.scan_id, {n: c.status for n, c in constants.items()}))

    def log_figure(self, path):
        self._note("log_figure", path)

    def close(self):
        self._note("close", None)

    def names(self, call: str) -> list:
        return [value for name, value in self.calls if name == call]


def _tiny_study(tmp_path, seeds=(0,)):
    components = plugins.components()
    names = {kind.field: kind.default for kind in kinds.probe_kinds()}
    base = study.template(
        components, study.Choices(names, {"model": {"depth": 2, "width": 8}}), **SMALL
    )
    search = study.Search(grid=Grid(values=(1.0, 1000.0)))
    planned = study.plan(
        study.expand(base, list(seeds), [0]), search, tmp_path / "p.h5", components
    )
    return components, planned


def test_the_driver_tells_every_logger_each_record_once_after_it_is_written(tmp_path):
    components, planned = _tiny_study(tmp_path)
    seen_in_file = []

    class Checking(Recording):
        def log_run(self, run):  # the run is in the HDF5 file before any logger hears of it
            seen_in_file.append(run.run_id in load(planned.out)["scans"][run.scan_id]["runs"])
            super().log_run(run)

    first, second = Checking(), Recording()
    loggers = Loggers([("first", first), ("second", second)])
    outcome = study.execute(planned, components, loggers=loggers)
    loaded = load(outcome.path)
    (scan_id,) = loaded["scans"]
    runs = loaded["scans"][scan_id]["runs"]
    for logger in (first, second):
        calls = [name for name, _ in logger.calls]
        assert calls == ["start", "log_scan", "log_run", "log_run", "log_constants", "close"]
        assert sorted(logger.names("log_run")) == sorted(runs)  # once each, the file's ids
        assert logger.names("log_scan") == [scan_id]
        info = logger.names("start")[0]
        assert isinstance(info, StudyInfo) and info.results == planned.out and info.scans == 1
        stored = loaded["scans"][scan_id]["constants"]
        assert logger.names("log_constants") == [
            (scan_id, {n: c["status"] for n, c in stored.items()})
        ]
    assert seen_in_file == [True, True] and not loggers.failures


@pytest.mark.parametrize("fail_in", ["start", "log_run", "log_constants"])
def test_a_failing_logger_is_reported_once_and_the_study_loses_nothing(tmp_path, fail_in):
    components, planned = _tiny_study(tmp_path)
    broken, healthy = Recording(fail_in=fail_in), Recording()
    lines = []
    loggers = Loggers([("broken", broken), ("healthy", healthy)], report=lines.append)
    outcome = study.execute(planned, components, loggers=loggers)
    assert outcome.done == 1 and outcome.failed == 0
    assert len(lines) == 1 and lines == loggers.failures
    assert lines[0].startswith(f"logger 'broken' failed in {fail_in} (ConnectionError: ")
    assert "second line" not in lines[0] and "results file has everything" in lines[0]
    # not called again after the failure, but closed
    names = [name for name, _ in broken.calls]
    assert names[names.index(fail_in) + 1 :] == ["close"]
    loaded = load(outcome.path)
    (scan,) = loaded["scans"].values()
    assert scan["complete"] and len(scan["runs"]) == 2  # the file has everything
    assert len(healthy.names("log_run")) == 2 and healthy.names("close") == [None]


def test_replay_tells_loggers_what_a_file_holds_in_study_order():
    logger = Recording()
    replay(FULL, Loggers([("rec", logger)]))
    loaded = load(FULL)
    assert logger.names("log_scan") == list(loaded["scans"])
    assert len(logger.names("log_run")) == 8 and len(logger.names("log_constants")) == 2
    assert [n for n, _ in logger.calls][0] == "start" and logger.calls[-1] == ("close", None)


def test_jsonl_logger_writes_one_line_per_record(tmp_path):
    result = runner.invoke(app, [*TINY_RUN, "--out", str(tmp_path / "p.h5"), "--logger", "jsonl"])
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in (tmp_path / "p.jsonl").read_text().splitlines()]
    assert [line["record"] for line in lines] == [
        "start", "scan", "run", "run", "constants", "end"
    ]  # fmt: skip
    loaded = load(tmp_path / "p.h5")
    ((scan_id, scan),) = loaded["scans"].items()
    runs = {line["run_id"]: line for line in lines if line["record"] == "run"}
    assert set(runs) == set(scan["runs"])
    for run_id, run in scan["runs"].items():
        expected = [None if not math.isfinite(v) else v for v in run["loss"].tolist()]
        assert runs[run_id]["loss"] == expected
    assert lines[4]["constants"] == scan["constants"]


def test_plot_hands_its_figures_to_the_loggers(tmp_path, monkeypatch):
    """The wiring only: the figures themselves are test_show_cli's (drawing them costs
    seconds), so plot_file here writes two small PNGs."""
    import phasebench.plotting

    pngs = [tmp_path / "trajectories.png", tmp_path / "phases.png"]

    def plot_file(path, out_dir=None, sharp_eps=None, all_scans=False, **options):
        assert Path(path) == copy
        for png in pngs:
            _write_png(png)
        return pngs

    copy = tmp_path / "probe.h5"
    shutil.copy(FULL, copy)
    monkeypatch.setattr(phasebench.plotting, "plot_file", plot_file)
    result = runner.invoke(app, ["plot", str(copy), "--logger", "jsonl"])
    assert result.exit_code == 0, result.output
    assert result.output.split() == [str(p) for p in pngs]
    lines = [json.loads(line) for line in (tmp_path / "probe.jsonl").read_text().splitlines()]
    assert [line["record"] for line in lines] == ["start", "figure", "figure", "end"]
    assert [line["path"] for line in lines[1:-1]] == [str(p) for p in pngs]


def test_cli_logger_errors_are_one_line_before_any_file(tmp_path, monkeypatch):
    out = tmp_path / "p.h5"
    cases = [
        (["--logger", "nope"], "nope"),
        (["--logger", "jsonl", "--log-dir", "x"], "no chosen component takes --log-dir"),
        (
            ["--logger", "jsonl", "--opt", "logger.jsonl.colour=red"],
            "colour",
        ),
    ]
    for args, message in cases:
        result = runner.invoke(app, [*TINY_RUN, "--out", str(out), *args])
        assert result.exit_code == 2 and message in result.output, result.output
        assert len(result.output.strip().splitlines()) == 1
    monkeypatch.setitem(sys.modules, "mlflow", None)  # as if the extra were not installed
    result = runner.invoke(app, [*TINY_RUN, "--out", str(out), "--logger", "mlflow"])
    assert result.exit_code == 2 and "pip install 'phasebench[mlflow]'" in result.output
    assert list(tmp_path.iterdir()) == []


def test_logger_options_route_by_the_component_option_syntax(tmp_path):
    where = tmp_path / "elsewhere.jsonl"
    result = runner.invoke(
        app,
        [*TINY_RUN, "--out", str(tmp_path / "p.h5"), "--logger", "jsonl", "--path", str(where)],
    )
    assert result.exit_code == 0, result.output
    assert where.exists() and not (tmp_path / "p.jsonl").exists()


LOGGER_PLUGIN = """
from phasebench import Option, hookimpl


class Printer:
    def __init__(self, results, prefix="pb"):
        self.path = results.with_suffix(".txt")
        self.prefix = prefix

    def _say(self, text):
        with open(self.path, "a") as f:
            f.write(f"{self.prefix} {text}\\n")

    def start(self, study):
        self._say("start")

    def log_scan(self, scan):
        self._say(f"scan {scan.scan_id}")

    def log_run(self, run):
        self._say(f"run {run.run_id} c={run.c}")

    def log_constants(self, scan, constants):
        self._say(f"constants {sorted(constants)}")

    def log_figure(self, path):
        self._say(f"figure {path}")

    def close(self):
        self._say("close")


@hookimpl
def register_loggers(register):
    register("printer", Printer, description="lines of text", options=[Option("prefix", "pb")])
"""


def test_a_plugins_logger_passes_its_check_and_runs_with_its_options(
    tmp_path, plugin_module, add_entry_points
):
    name = plugin_module("printer_logger", LOGGER_PLUGIN)
    report = check_plugin(name)
    assert report.ok and [(r.kind, r.name, r.status) for r in report.results] == [
        ("logger", "printer", "passed")
    ], str(report)
    add_entry_points(("printer-plugin", name))
    out = tmp_path / "p.h5"
    args = [*TINY_RUN, "--out", str(out), "--logger", "printer", "--prefix", "xy"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    lines = (tmp_path / "p.txt").read_text().splitlines()
    assert lines[0] == "xy start" and lines[-1] == "xy close" and len(lines) == 6


def test_a_logger_missing_a_call_fails_its_check_and_one_that_raises_too():
    class Raising(Recording):
        def __init__(self, results):
            super().__init__(fail_in="log_run")

    from phasebench.testing.loggers import check_logger

    with pytest.raises(ConformanceError, match="log_run raised ConnectionError"):
        check_logger(Raising, {}, "logger 'raising'")

    class NoFigure(Recording):
        def __init__(self, results):
            super().__init__()

        log_figure = None

    with pytest.raises(ConformanceError, match="has no log_figure"):
        check_logger(NoFigure, {}, "logger 'nofigure'")

    class Littering(Recording):
        def __init__(self, results):
            super().__init__()

        def close(self):
            Path("litter.txt").write_text("x")

    with pytest.raises(ConformanceError, match="wrote litter.txt into the current folder"):
        check_logger(Littering, {}, "logger 'littering'")


# -- the real libraries -------------------------------------------------------------------
def test_mlflow_runs_read_back_with_mlflows_client(tmp_path, monkeypatch):
    """The real MLflow, on its file store (fast; the default sqlite store, which migrates its
    schema for seconds, is the slow test below)."""
    pytest.importorskip("mlflow")
    from mlflow.tracking import MlflowClient

    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    uri = (tmp_path / "mlruns").as_uri()
    replay(FULL, plugins_loggers({"mlflow": {"tracking_uri": uri}}, FULL))
    client = MlflowClient(tracking_uri=uri)
    _assert_mlflow_holds(client, load(FULL))
    figure = tmp_path / "phases.png"
    _write_png(figure)
    loggers = plugins_loggers({"mlflow": {"tracking_uri": uri}}, FULL)
    loggers.start(StudyInfo(FULL))
    loggers.log_figure(figure)
    loggers.close()
    (run,) = client.search_runs(
        [client.get_experiment_by_name("phasebench").experiment_id],
        filter_string="tags.`phasebench.record` = 'figures'",
    )
    assert [a.path for a in client.list_artifacts(run.info.run_id)] == ["phases.png"]


def plugins_loggers(chosen, results):
    from phasebench.probe.loggers import build

    failures = []
    loggers = build(plugins.components(), chosen, results, report=failures.append)
    loggers.report = lambda line: pytest.fail(line)
    return loggers


def _assert_mlflow_holds(client, loaded, experiment="phasebench"):
    exp = client.get_experiment_by_name(experiment)
    runs = client.search_runs([exp.experiment_id], max_results=1000)
    scans = {
        r.data.tags["phasebench.scan_id"]: r
        for r in runs
        if r.data.tags.get("phasebench.record") == "scan"
    }
    children = {
        r.data.tags["phasebench.run_id"]: r
        for r in runs
        if r.data.tags.get("phasebench.record") == "run"
    }
    assert set(scans) == set(loaded["scans"])
    for scan_id, scan in loaded["scans"].items():
        parent = scans[scan_id]
        assert parent.info.status == "FINISHED"
        assert parent.data.params["model.depth"] == "2" and parent.data.params["seed"] == str(
            scan["seed"]
        )
        assert parent.data.metrics["lambda0"] == pytest.approx(scan["lambda0"])
        for name, constant in scan["constants"].items():
            assert parent.data.tags[f"{name}.status"] == constant["status"]
            if constant["status"] == "found":
                assert parent.data.metrics[name] == constant["value"]
        for run_id, run in scan["runs"].items():
            child = children[run_id]
            assert child.data.tags["mlflow.parentRunId"] == parent.info.run_id
            assert float(child.data.params["c"]) == run["c"]
            history = client.get_metric_history(child.info.run_id, "sharpness")
            got = {m.step: m.value for m in history}
            expected = {t: v for t, v in enumerate(run["sharpness"].tolist()) if math.isfinite(v)}
            assert got == pytest.approx(expected)
            assert child.data.metrics["diverged"] == float(run["diverged"])


def test_tensorboard_scalars_read_back_with_tensorboards_event_reader(tmp_path):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    log_dir = tmp_path / "tb"
    replay(FULL, plugins_loggers({"tensorboard": {"log_dir": str(log_dir)}}, FULL))
    loaded = load(FULL)
    folders = {p.parent.relative_to(log_dir).as_posix() for p in log_dir.rglob("events.out.*")}
    assert len(folders) == 2 + 8  # a folder per scan and one per run
    for scan in loaded["scans"].values():
        (scan_folder,) = [f for f in folders if f.endswith(f"seed {scan['seed']} sgd 0")]
        events = EventAccumulator(str(log_dir / scan_folder))
        events.Reload()
        assert events.Scalars("lambda0")[0].value == pytest.approx(scan["lambda0"])
        for run in scan["runs"].values():
            events = EventAccumulator(str(log_dir / scan_folder / f"c={run['c']:.4g}"))
            events.Reload()
            for name, values in step_values(run).items():
                got = {e.step: e.value for e in events.Scalars(name)}
                want = {t: float(v) for t, v in enumerate(values.tolist()) if math.isfinite(v)}
                assert got == pytest.approx(want, rel=1e-6), name


@pytest.mark.slow  # MLflow's sqlite store migrates its schema for seconds
def test_run_logger_mlflow_default_store_reads_back(tmp_path):
    pytest.importorskip("mlflow")
    from mlflow.tracking import MlflowClient

    out = tmp_path / "p.h5"
    result = runner.invoke(app, [*TINY_RUN, "--out", str(out), "--logger", "mlflow"])
    assert result.exit_code == 0, result.output
    client = MlflowClient(tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}")
    _assert_mlflow_holds(client, load(out))
    assert not any(Path.cwd().glob("mlruns"))


@pytest.mark.slow  # worker processes start for seconds
def test_a_process_executor_sweep_is_logged_by_the_driver_once_per_run(tmp_path):
    out = tmp_path / "s.h5"
    args = [*TINY_RUN[1:], "--seeds", "2", "--out", str(out), "--logger", "jsonl"]
    result = runner.invoke(app, ["sweep", *args, "--executor", "process", "--workers", "2"])
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in (tmp_path / "s.jsonl").read_text().splitlines()]
    run_ids = [line["run_id"] for line in lines if line["record"] == "run"]
    stored = [rid for scan in load(out)["scans"].values() for rid in scan["runs"]]
    assert sorted(run_ids) == sorted(stored) and len(set(run_ids)) == len(run_ids)


def test_a_trace_is_logged_once_by_the_driver_and_reads_back_from_each_tracker(
    tmp_path, monkeypatch
):
    """``phasebench trace --logger ...``: each finished trace reaches every tracker once, after
    it is in the file: a jsonl line, TensorBoard scalars by measured step, an MLflow run."""
    pytest.importorskip("mlflow")
    pytest.importorskip("tensorboard")
    from mlflow.tracking import MlflowClient
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from phasebench.results.tables import trace_values

    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    uri = (tmp_path / "mlruns").as_uri()
    out = tmp_path / "t.h5"
    args = ["trace", "--model", "uv", "--width", "16", "--dataset", "single-example", "--y", "2"]
    args += ["--init", "lecun", "--dtype", "float64", "--batch-size", "full", "--c", "1"]
    args += ["--sharpness-examples", "1", "--loss-examples", "1", "--steps", "30", "--every"]
    args += ["5", "--out", str(out), "--logger", "jsonl", "--logger", "tensorboard"]
    args += ["--logger", "mlflow", "--tracking-uri", uri]
    done = CliRunner().invoke(app, args)
    assert done.exit_code == 0, done.output
    (trace,) = load(out).traces
    lines = [json.loads(line) for line in out.with_suffix(".jsonl").read_text().splitlines()]
    assert [line["record"] for line in lines] == ["start", "trace", "end"]
    assert lines[1]["trace_id"] == trace.trace_id and lines[1]["loss"] == trace.loss.tolist()
    (folder,) = {p.parent for p in (tmp_path / "tensorboard").rglob("events.out.*")}
    events = EventAccumulator(str(folder))
    events.Reload()
    steps = trace.measured_step.tolist()
    for name, values in trace_values(trace).items():
        got = {e.step: e.value for e in events.Scalars(name)}
        assert got == pytest.approx(dict(zip(steps, values.tolist(), strict=True)), rel=1e-6), name
    client = MlflowClient(tracking_uri=uri)
    (run,) = client.search_runs([client.get_experiment_by_name("phasebench").experiment_id])
    assert run.data.tags["phasebench.trace_id"] == trace.trace_id
    history = {m.step: m.value for m in client.get_metric_history(run.info.run_id, "sharpness")}
    assert history == pytest.approx(dict(zip(steps, trace.sharpness[:, 0].tolist(), strict=True)))


def test_the_opt_in_curvature_series_reach_every_logger(tmp_path, monkeypatch):
    """A run and a trace with --per-layer --smallest --critical --top-k 2: step_values and
    trace_values name each series (sharpness_2, layer_sharpness/<layer>, smallest,
    critical_sharpness), the jsonl lines hold the stored arrays, and TensorBoard's event reader
    and MLflow's client read every series back (each where installed)."""
    from phasebench.results.tables import LAYER_SERIES, trace_values

    curvature = ["--per-layer", "--smallest", "--critical", "--top-k", "2", "--dtype", "float64"]
    trackers = ["--logger", "jsonl"]
    have = {name: _installed(name) for name in ("tensorboard", "mlflow")}
    if have["tensorboard"]:
        trackers += ["--logger", "tensorboard"]
    if have["mlflow"]:
        monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
        trackers += ["--logger", "mlflow", "--tracking-uri", (tmp_path / "mlruns").as_uri()]
    run_out, trace_out = tmp_path / "r.h5", tmp_path / "t.h5"
    fcn = ["--model", "fcn", "--depth", "2", "--width", "8", "--dataset", "gaussian"]
    fcn += ["--n-train", "32", "--dim", "4", "--sharpness-examples", "32", "--loss-examples", "32"]
    fcn += ["--batch-size", "full", "--c", "1", "--tol", "1e-6", *curvature, *trackers]
    done = runner.invoke(app, ["run", *fcn, "--steps", "2", "--out", str(run_out)])
    assert done.exit_code == 0, done.output
    done = runner.invoke(
        app, ["trace", *fcn, "--steps", "4", "--every", "2", "--out", str(trace_out)]
    )
    assert done.exit_code == 0, done.output

    (scan,) = load(run_out)["scans"].values()
    (run,) = scan["runs"].values()
    runs = step_values(run, scan["layers"])
    (trace,) = load(trace_out).traces
    traces = trace_values(trace)
    layers = [LAYER_SERIES + name for name in scan["layers"]]
    assert len(layers) == 2 and trace.layers == scan["layers"]
    new = {"sharpness_2", *layers, "smallest", "critical_sharpness"}
    assert new <= set(runs) and new <= set(traces)
    assert runs["sharpness_2"].tolist() == run["sharpness_top_k"][:, 1].tolist()
    assert runs[layers[1]].tolist() == run["layer_sharpness"][:, 1].tolist()
    assert runs["smallest"].tolist() == run["smallest"].tolist()
    assert traces["critical_sharpness"].tolist() == trace.critical_sharpness.tolist()
    assert traces[layers[0]].tolist() == trace.layer_sharpness[:, 0].tolist()
    assert traces["sharpness_2"].tolist() == trace.sharpness[:, 1].tolist()
    assert not {"sharpness_2", "smallest"} & set(step_values({**run, "sharpness_top_k": (),
                                                              "smallest": ()}))  # fmt: skip

    for out, record in ((run_out, run), (trace_out, trace)):
        lines = [json.loads(line) for line in out.with_suffix(".jsonl").read_text().splitlines()]
        (line,) = [line for line in lines if line["record"] in ("run", "trace")]
        for name in ("layer_sharpness", "smallest", "critical_sharpness"):
            stored = record[name] if isinstance(record, dict) else getattr(record, name)
            assert line[name] == stored.tolist(), name
    assert lines[1]["sharpness"] == trace.sharpness.tolist()  # the trace's (M, k) top-k

    expected = {"run": (runs, range(len(run["loss"]))), "trace": (traces, trace.measured_step)}
    if have["tensorboard"]:
        from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

        for kind, (series, steps) in expected.items():
            root = tmp_path / "tensorboard" / ("r" if kind == "run" else "t")
            (folder,) = {p.parent for p in root.rglob("events.out.*") if "c=" in p.parent.name}
            events = EventAccumulator(str(folder))
            events.Reload()
            for name in new:
                got = {e.step: e.value for e in events.Scalars(name)}
                want = dict(zip(map(int, steps), series[name].tolist(), strict=True))
                assert got == pytest.approx(want, rel=1e-6), (kind, name)
    if have["mlflow"]:
        from mlflow.tracking import MlflowClient

        from phasebench_builtins.loggers.mlflow_tracker import metric_key

        client = MlflowClient(tracking_uri=(tmp_path / "mlruns").as_uri())
        found = client.search_runs([client.get_experiment_by_name("phasebench").experiment_id])
        by = {r.data.tags["phasebench.record"]: r.info.run_id for r in found}
        for kind, (series, steps) in expected.items():
            for name in new:
                history = client.get_metric_history(by[kind], metric_key(name))
                want = dict(zip(map(int, steps), series[name].tolist(), strict=True))
                assert {m.step: m.value for m in history} == pytest.approx(want), (kind, name)


def _installed(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None
