"""The ``mlflow`` logger: MLflow runs through ``mlflow.tracking.MlflowClient``.

One MLflow run per scan (one initialization and SGD seed: the configuration as params,
lambda0 and L0 as metrics, then its constants: each found one as a metric, an above-grid one
as ``<name>_lower_bound``, every status as a tag ``<name>.status``), and nested in it one
run per c (params: the configuration and c; metrics ``loss``, ``batch_loss``, ``sharpness``,
``hvps``, ``converged`` at step t = 0..T, and where the run measured them ``sharpness_2`` ...,
``layer_sharpness/<layer>``, ``smallest``, ``critical_sharpness``
(``phasebench.results.tables.step_values``), then ``eta``, ``diverged``, ``diverged_step``).
Tags ``phasebench.scan_id``, ``phasebench.run_id``, ``phasebench.point_id`` and
``phasebench.results`` tie each back to the HDF5 file; a resumed study adds its runs to the
scan's existing MLflow run. Figures (``phasebench plot --logger mlflow``) are artifacts of a
run named after the results file. A trace is a run of its own (tag ``phasebench.trace_id``;
params: the configuration and c; metrics: ``phasebench.results.tables.trace_values`` at each
measured step, the EoS statistics ``eos_mean``, ``eos_spread``, and each regime's start as
``<regime>_start``). A metric name keeps the characters MLflow allows (letters, digits,
``_-./`` and spaces); any other (the parentheses of the layer ``(root)``) becomes ``_``
(``metric_key``).

By default the runs go to ``sqlite:///<results folder>/mlflow.db`` with artifacts in
``<results folder>/mlartifacts`` (``mlflow ui --backend-store-uri sqlite:///mlflow.db`` there
shows them); ``tracking_uri`` names any other store or server.
"""

from __future__ import annotations

import math
import re
import time
from pathlib import Path

from phasebench.extras import require
from phasebench.results.tables import step_values, trace_values
from phasebench_builtins.loggers.naming import finite, parameters, run_name, scan_name

PARENT = "mlflow.parentRunId"
MAX_METRICS, MAX_PARAMS = 1000, 100  # MLflow's limits per log_batch call (tags: 100)
#: A character MLflow does not allow in a metric's name.
NOT_IN_KEYS = re.compile(r"[^\w\-./ ]")


def metric_key(name: str) -> str:
    """``name`` as an MLflow metric name (``layer_sharpness/(root)`` ->
    ``layer_sharpness/_root_``)."""
    return NOT_IN_KEYS.sub("_", name)


class MlflowLogger:
    def __init__(
        self, results: Path, tracking_uri: str | None = None, experiment: str = "phasebench"
    ) -> None:
        require("mlflow", "mlflow", "--logger mlflow")
        results = Path(results).resolve()
        self.results = results
        self.artifacts = None
        if tracking_uri is None:
            tracking_uri = f"sqlite:///{results.parent / 'mlflow.db'}"
            self.artifacts = (results.parent / "mlartifacts").as_uri()
        self.tracking_uri = tracking_uri
        self.experiment = experiment
        self.client = None
        self.experiment_id = ""
        self._parents: dict[str, str] = {}  # scan id -> its MLflow run
        self._layers: dict[str, list[str]] = {}  # scan id -> its layers' names
        self._open: set[str] = set()  # scans whose MLflow run is not terminated yet
        self._figures = ""

    def start(self, study) -> None:
        from mlflow.tracking import MlflowClient

        self.client = MlflowClient(tracking_uri=self.tracking_uri)
        found = self.client.get_experiment_by_name(self.experiment)
        if found is None:
            self.experiment_id = self.client.create_experiment(
                self.experiment, artifact_location=self.artifacts
            )
        else:
            self.experiment_id = found.experiment_id

    def _tags(self, **ids: str) -> dict[str, str]:
        return {
            "phasebench.results": str(self.results),
            **{f"phasebench.{k}": v for k, v in ids.items()},
        }

    def _batch(self, run_id: str, metrics=(), params=None, tags=None) -> None:
        from mlflow.entities import Metric, Param, RunTag

        now = int(time.time() * 1000)
        metrics = [Metric(k, float(v), now, int(step)) for k, v, step in metrics if finite(v)]
        params = [Param(k, str(v)[:6000]) for k, v in (params or {}).items()]
        tags = [RunTag(k, str(v)) for k, v in (tags or {}).items()]
        for i in range(0, len(params), MAX_PARAMS):
            self.client.log_batch(run_id, params=params[i : i + MAX_PARAMS])
        if tags:
            self.client.log_batch(run_id, tags=tags)
        for i in range(0, len(metrics), MAX_METRICS):
            self.client.log_batch(run_id, metrics=metrics[i : i + MAX_METRICS])

    def _existing(self, scan_id: str) -> str | None:
        runs = self.client.search_runs(
            [self.experiment_id],
            filter_string=f"tags.`phasebench.scan_id` = '{scan_id}' and "
            "tags.`phasebench.record` = 'scan'",
            max_results=1,
        )
        return runs[0].info.run_id if runs else None

    def log_scan(self, scan) -> None:
        self._layers[scan.scan_id] = list(getattr(scan, "layers", None) or [])
        existing = self._existing(scan.scan_id)
        if existing is not None:  # a resumed study: its runs join the scan's MLflow run
            self._parents[scan.scan_id] = existing
            self.client.update_run(existing, status="RUNNING")
            self._open.add(scan.scan_id)
            return
        tags = self._tags(record="scan", scan_id=scan.scan_id, point_id=scan.point_id)
        run = self.client.create_run(self.experiment_id, tags=tags, run_name=scan_name(scan.config))
        self._parents[scan.scan_id] = run.info.run_id
        self._open.add(scan.scan_id)
        metrics = [("lambda0", scan.lambda0, 0), ("L0", scan.loss0, 0)]
        self._batch(run.info.run_id, metrics, parameters(scan.config))

    def log_run(self, run) -> None:
        parent = self._parents[run.scan_id]
        tags = self._tags(record="run", run_id=run.run_id, scan_id=run.scan_id)
        tags[PARENT] = parent
        child = self.client.create_run(self.experiment_id, tags=tags, run_name=run_name(run.c))
        metrics = [
            (metric_key(name), value, t)
            for name, values in step_values(run, self._layers.get(run.scan_id)).items()
            for t, value in enumerate(values.astype(float).tolist())
        ]
        metrics += [
            ("eta", run.eta, 0),
            ("diverged", float(run.diverged), 0),
            ("diverged_step", run.diverged_step, 0),
        ]
        params = {**parameters(run.config), "c": run.c}
        self._batch(child.info.run_id, metrics, params)
        self.client.set_terminated(child.info.run_id, status="FINISHED")

    def log_trace(self, trace) -> None:
        tags = self._tags(record="trace", trace_id=trace.trace_id, scan_id=trace.scan_id)
        name = f"trace {scan_name(trace.config)} {run_name(trace.c)}"
        run = self.client.create_run(self.experiment_id, tags=tags, run_name=name)
        steps = [int(step) for step in trace.measured_step]
        metrics = [
            (metric_key(key), value, step)
            for key, values in trace_values(trace).items()
            for step, value in zip(steps, values.tolist(), strict=True)
        ]
        metrics += [(f"eos_{k}", trace.eos.get(k, math.nan), 0) for k in ("mean", "spread")]
        metrics += [(f"{r['name']}_start", r["start"], 0) for r in trace.regimes]
        self._batch(run.info.run_id, metrics, {**parameters(trace.config), "c": trace.c})
        status = "FAILED" if trace.diverged else "FINISHED"
        self.client.set_terminated(run.info.run_id, status=status)

    def log_constants(self, scan, constants) -> None:
        parent = self._parents[scan.scan_id]
        metrics, tags = [], {}
        for name, constant in constants.items():
            tags[f"{name}.status"] = constant.status
            if constant.determined:
                metrics.append((name, constant.value, 0))
            elif not math.isnan(constant.lower_bound):
                metrics.append((f"{name}_lower_bound", constant.lower_bound, 0))
        self._batch(parent, metrics, tags=tags)
        self.client.set_terminated(parent, status="FINISHED")
        self._open.discard(scan.scan_id)

    def log_figure(self, path: Path) -> None:
        if not self._figures:
            tags = self._tags(record="figures")
            name = f"figures of {self.results.name}"
            self._figures = self.client.create_run(
                self.experiment_id, tags=tags, run_name=name
            ).info.run_id
        self.client.log_artifact(self._figures, str(path))

    def close(self) -> None:
        if self.client is None:
            return
        for scan_id in sorted(self._open):  # scans this study did not complete (a failed task)
            self.client.set_terminated(self._parents[scan_id], status="FAILED")
        self._open.clear()
        if self._figures:
            self.client.set_terminated(self._figures, status="FINISHED")
            self._figures = ""
