"""The Python API (issue 17): docs/api.md's worked example runs as written; live objects go
through the registries and only the local executor runs them; bad parameters are one line
before any file; ``phasebench.probe`` stays callable and ``import phasebench`` light."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from support import subprocess_env

import phasebench
from phasebench.errors import ParameterError, UsageError

DOC = Path(__file__).resolve().parents[1] / "docs" / "api.md"


def test_the_worked_example_of_docs_api_runs(monkeypatch, tmp_path):
    [example] = re.findall(r"## A worked example.*?```python\n(.*?)```", DOC.read_text(), re.S)
    monkeypatch.chdir(tmp_path)
    exec(compile(example, str(DOC), "exec"), {"__name__": "docs_api"})


def _net(input_shape, num_outputs):
    return torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(input_shape[-1], num_outputs))


TENSORS = (torch.randn(24, 3, generator=torch.Generator().manual_seed(1)), torch.arange(24) % 2)
TINY = dict(steps=1, batch_size=8, sharpness_examples=8, loss_examples=8, c=[2.0])


def test_live_objects_are_registered_components_of_the_session_only(tmp_path):
    result = phasebench.probe(model=_net, dataset=TENSORS, out=tmp_path / "p.h5", **TINY)
    [scan] = result.loaded["scans"].values()
    assert scan["config"]["model"]["name"].startswith("live-model-net-")
    assert scan["config"]["dataset"]["name"].startswith("live-dataset-tensors-")
    assert [run["c"] for run in result.runs] == [2.0]
    from phasebench import plugins

    assert not any(n.startswith("live-") for n in plugins.components().registry("model").names())
    figures = result.plot()
    assert figures and "data:image/png;base64," in figures._repr_html_()
    from phasebench.cli.rerun import stored_parameters

    with pytest.raises(UsageError, match="used a live object"):
        stored_parameters(result.loaded, result.path, next(iter(result.loaded["scans"])))


@pytest.mark.parametrize(
    ("call", "words"),
    [
        (lambda out: phasebench.probe(modle="fcn", out=out), "unknown parameter 'modle'"),
        (lambda out: phasebench.probe(axes={"steps": [1]}, out=out), "use phasebench.sweep"),
        (lambda out: phasebench.probe(model=3, out=out), "model must be a registered name"),
        (
            lambda out: phasebench.sweep(
                model=_net, dataset=TENSORS, executor="process", out=out, **TINY
            ),
            "a live object runs in this process only",
        ),
        (
            lambda out: phasebench.sweep(axes={"model.colour": [1]}, out=out, **TINY),
            "has no option 'colour'",
        ),
    ],
)
def test_bad_parameters_are_one_line_before_any_file(call, words, tmp_path):
    out = tmp_path / "never.h5"
    with pytest.raises((ParameterError, UsageError)) as caught:
        call(out)
    assert words in str(caught.value) and "\n" not in str(caught.value)
    assert not out.exists()


def test_probe_is_the_package_and_the_function_and_import_stays_light():
    import phasebench.probe.study  # noqa: F401 - importing a submodule keeps it callable

    assert callable(phasebench.probe) and phasebench.probe.study.plan
    code = (
        "import sys, phasebench\n"
        "phasebench.probe, phasebench.sweep\n"
        "import phasebench.api, phasebench.cli.rerun, phasebench.probe.parameters\n"
        "assert 'torch' not in sys.modules, 'torch was imported'\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], env=subprocess_env(), capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
