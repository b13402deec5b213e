"""An option added to a component after it shipped (``Option(since=...)``) renames none of its
earlier runs: it is left out of a configuration while it has its default, and the component
still receives it. Checked on the configurations of a file written by a7147a9."""

from __future__ import annotations

import dataclasses

import torch
from support import REPO

from phasebench import Option, kinds, plugins
from phasebench.config import COMPONENT_FIELDS, ProbeConfig
from phasebench.probe import study
from phasebench.probe.problem import Problem
from phasebench.results.reader import load

OLD_FILE = REPO / "tests" / "data" / "main-a7147a9.h5"


def _with_extra_model_option(components, option: Option):
    registry = components.registry("model")
    old = registry.get("fcn")
    registry.remove("fcn")
    registry.add(dataclasses.replace(old, declared=(*old.declared, option)))


def _rebuilt(components, stored: dict, **model_options) -> ProbeConfig:
    """The configuration a user gets today by asking for what ``stored`` describes."""
    names = {field: stored[field]["name"] for field in COMPONENT_FIELDS if stored.get(field)}
    given = {field: dict(stored[field]["options"]) for field in names}
    given["model"].update(model_options)
    protocol = {
        k: v
        for k, v in stored.items()
        if k not in COMPONENT_FIELDS and k in ProbeConfig.__dataclass_fields__
    }
    return study.template(components, study.Choices(names, given), **protocol)


def test_a_later_option_at_its_default_keeps_the_names_of_stored_runs():
    scans = load(OLD_FILE)["scans"]
    components = plugins.components()
    _with_extra_model_option(components, Option("gain", 1.0, "a later option", since="9.9"))
    for scan_id, scan in scans.items():
        assert _rebuilt(components, scan["config"]).scan_id == scan_id
        set_ = _rebuilt(components, scan["config"], gain=2.0)
        assert set_.scan_id != scan_id and set_.model.opts()["gain"] == 2.0


def test_without_since_the_same_option_would_rename_them():
    scan_id, scan = next(iter(load(OLD_FILE)["scans"].items()))
    components = plugins.components()
    _with_extra_model_option(components, Option("gain", 1.0, "a later option"))
    assert _rebuilt(components, scan["config"]).scan_id != scan_id


def test_the_component_still_receives_the_option_at_its_default(monkeypatch):
    components = plugins.components()
    received = {}
    registry = components.registry("model")
    fcn = registry.get("fcn")
    build = fcn.load()

    def recording(input_shape, num_outputs, *, gain, **options):
        received["gain"] = gain
        return build(input_shape, num_outputs, **options)

    registry.remove("fcn")
    registry.add(
        dataclasses.replace(
            fcn, target=recording, declared=(*fcn.declared, Option("gain", 1.0, since="9.9"))
        )
    )
    names = {kind.field: kind.default for kind in kinds.probe_kinds() if not kind.optional}
    names["dataset"] = "gaussian"
    config = study.template(
        components,
        study.Choices(names, {"model": {"depth": 2, "width": 4}}),
        batch_size=8,
        sharpness_examples=8,
        loss_examples=8,
    )
    assert "gain" not in config.model.opts()
    model = Problem.build(config, components).initial_model()
    assert received == {"gain": 1.0} and isinstance(model, torch.nn.Module)
