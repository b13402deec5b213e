"""The ``tensorboard`` logger: TensorBoard event files through ``torch.utils.tensorboard``.

Under ``log_dir`` (default ``<results folder>/tensorboard/<results stem>``) each scan is a
folder and each of its runs a run folder ``<scan>/c=<c>``, with the scalars ``loss``,
``batch_loss``, ``sharpness``, ``loss_ratio`` (L_t / L0), ``sharpness_ratio``
(lambda_t / lambda0), ``hvps`` and ``converged`` at step t = 0..T, and where the run measured
them ``sharpness_2`` ... ``sharpness_k``, ``layer_sharpness/<layer>``, ``smallest`` and
``critical_sharpness`` (``phasebench.results.tables.step_values``). The scan's own folder holds
``lambda0``, ``L0``, and each found constant (``c_loss``, ...) or its lower bound
(``c_max_lower_bound``) at step 0, with the configuration and every status as text. A trace
is a run folder ``trace <scan>/c=<c>`` with ``phasebench.results.tables.trace_values``'
scalars (``loss``, ``train_loss``, ``grad_norm``, ``sharpness``, ``eta_t``, ``threshold``,
``ratio``, and the opt-in ``sharpness_2`` ..., ``layer_sharpness/<layer>``, ``smallest``,
``critical_sharpness``) at each measured step, its regimes as text."""

from __future__ import annotations

import json
import math
from pathlib import Path

from phasebench.extras import require
from phasebench.results.tables import step_values, trace_values
from phasebench_builtins.loggers.naming import finite, parameters, run_name, scan_name

RATIOS = {"loss": "loss_ratio", "sharpness": "sharpness_ratio"}


def _folder(name: str) -> str:
    return name.replace("/", "_")


class TensorBoardLogger:
    def __init__(self, results: Path, log_dir: str | None = None) -> None:
        require("tensorboard", "tensorboard", "--logger tensorboard")
        results = Path(results)
        self.root = Path(log_dir) if log_dir else results.parent / "tensorboard" / results.stem
        # scan id -> folder, L0, lambda0, the names of its layers (per-layer sharpness)
        self._scans: dict[str, tuple[str, float, float, list[str]]] = {}

    @staticmethod
    def _writer(folder: Path):
        from torch.utils.tensorboard import SummaryWriter

        return SummaryWriter(log_dir=str(folder))

    def start(self, study) -> None:
        self.root.mkdir(parents=True, exist_ok=True)

    def log_scan(self, scan) -> None:
        folder = _folder(scan_name(scan.config))
        layers = list(getattr(scan, "layers", None) or [])
        self._scans[scan.scan_id] = (folder, float(scan.loss0), float(scan.lambda0), layers)
        writer = self._writer(self.root / folder)
        try:
            writer.add_text("config", json.dumps(parameters(scan.config), sort_keys=True), 0)
            for tag, value in (("lambda0", scan.lambda0), ("L0", scan.loss0)):
                if finite(value):
                    writer.add_scalar(tag, float(value), 0)
        finally:
            writer.close()

    def log_run(self, run) -> None:
        folder, loss0, lambda0, layers = self._scans[run.scan_id]
        reference = {"loss": loss0, "sharpness": lambda0}
        writer = self._writer(self.root / folder / run_name(run.c))
        try:
            for name, values in step_values(run, layers).items():
                for t, value in enumerate(values.tolist()):
                    value = float(value)
                    if not math.isfinite(value):
                        continue
                    writer.add_scalar(name, value, t)
                    if name in RATIOS and reference[name] > 0:
                        writer.add_scalar(RATIOS[name], value / reference[name], t)
            writer.add_scalar("eta", float(run.eta), 0)
            writer.add_scalar("diverged", float(run.diverged), 0)
        finally:
            writer.close()

    def log_trace(self, trace) -> None:
        folder = self.root / _folder(f"trace {scan_name(trace.config)}") / run_name(trace.c)
        writer = self._writer(folder)
        try:
            steps = [int(step) for step in trace.measured_step]
            for name, values in trace_values(trace).items():
                for step, value in zip(steps, values.tolist(), strict=True):
                    if math.isfinite(value):
                        writer.add_scalar(name, value, step)
            writer.add_text("regimes", json.dumps(trace.regimes), 0)
        finally:
            writer.close()

    def log_constants(self, scan, constants) -> None:
        folder = _folder(scan_name(scan.config))
        writer = self._writer(self.root / folder)
        try:
            for name, constant in constants.items():
                if constant.determined and finite(constant.value):
                    writer.add_scalar(name, float(constant.value), 0)
                elif finite(constant.lower_bound):
                    writer.add_scalar(f"{name}_lower_bound", float(constant.lower_bound), 0)
            statuses = {name: constant.status for name, constant in constants.items()}
            writer.add_text("constants", json.dumps(statuses, sort_keys=True), 0)
        finally:
            writer.close()

    def log_figure(self, path: Path) -> None:
        import matplotlib.image

        image = matplotlib.image.imread(str(path))
        writer = self._writer(self.root)
        try:
            writer.add_image(Path(path).stem, image[..., :3], 0, dataformats="HWC")
        finally:
            writer.close()

    def close(self) -> None:
        pass
