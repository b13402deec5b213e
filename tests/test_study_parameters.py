"""The study parameters named once (issue 17): axes over any field, component or option, the
checks that refuse a bad axis in one line, seeds, the TOML text that configuration files and
``show --config`` share, and the parameters of a stored scan. No probe runs here."""

from __future__ import annotations

import math
import sys

import pytest

from phasebench import plugins
from phasebench.cli.toml_text import dumps
from phasebench.errors import ParameterError, UsageError
from phasebench.probe import parameters, study

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

SMALL = {"steps": 1, "batch_size": 8, "sharpness_examples": 16, "loss_examples": 16}


def params(**given):
    return {**parameters.defaults(), **SMALL, **given}


def test_depth_and_width_axes_name_the_runs_the_sweep_always_named():
    """--depths/--widths are now the axes model.depth/model.width: the same configurations,
    in the same order, as the model grid they replace (no stored run is renamed)."""
    components = plugins.components()
    given = params(model_options={"activation": "tanh"}, seeds=2)
    swept = parameters.configs(
        components, {**given, "axes": {"model.depth": [2, 3], "model.width": [4, 8]}}
    )
    base = study.template(
        components,
        study.Choices(
            {f: given[f] for f in parameters.COMPONENTS}, {"model": {"activation": "tanh"}}
        ),
        **{name: given[name] for name in parameters.PROTOCOL},
    )
    grid = [{"depth": d, "width": w} for d in (2, 3) for w in (4, 8)]
    assert [c.run_id for c in swept] == [c.run_id for c in study.expand(base, [0, 1], [0], grid)]


def test_an_axis_varies_a_field_a_component_or_an_option():
    axes = {"batch_size": [8, 16], "init": ["he", "zero-last"], "model.width": [4]}
    configs = parameters.configs(plugins.components(), params(axes=axes))
    values = parameters.axis_values(configs, list(axes))
    assert values == [
        {"batch_size": b, "init": i, "model.width": 4} for b in (8, 16) for i in ("he", "zero-last")
    ]
    assert len({c.point_id for c in configs}) == 4


@pytest.mark.parametrize(
    ("axes", "words"),
    [
        ({"batch_siz": [8]}, "unknown axis 'batch_siz'; did you mean 'batch_size'?"),
        ({"seed": [1]}, "unknown axis 'seed'"),  # seeds have their own parameter
        ({"model.": [1]}, "unknown axis 'model.'"),
        ({"batch_size": []}, "axis batch_size has no values"),
        ({"batch_size": "8,16"}, "give a list of values"),
        ({"batch_size": [8.5]}, "batch_size must be an integer, got 8.5"),
        ({"model.colour": [1]}, "model 'fcn' has no option 'colour'"),
        ({"model.width": [-1]}, "width must be a positive integer"),
        ({"optimizer": ["sgdd"]}, "unknown optimizer 'sgdd'"),
    ],
)
def test_a_bad_axis_is_one_line(axes, words):
    with pytest.raises(UsageError, match=None) as caught:
        parameters.configs(plugins.components(), params(axes=axes))
    assert words in str(caught.value) and "\n" not in str(caught.value)


def test_seeds_are_a_count_or_a_list():
    assert parameters.seed_list(3) == (0, 1, 2)
    assert parameters.seed_list([5, 0]) == (5, 0)
    for bad in (0, [1, 1], [-1], "3", [], [1.5], True):
        with pytest.raises(ParameterError):
            parameters.seed_list(bad)


def test_unknown_parameters_name_the_closest():
    with pytest.raises(ParameterError, match="did you mean 'batch_size'"):
        parameters.check_known(["batchsize"], parameters.NAMES)


def test_toml_text_reads_back_to_the_same_values():
    data = {
        "model": "fcn",
        "c": [1.0, 2.0**0.1, 1e-05, 1e16, 3.0],
        "seeds": [0, 5],
        "flag": False,
        "quote": 'a "b" \\ c\n\x7f é',
        "skipped": None,
        "model_options": {"width": 64, "nested": {"a": [1, 2]}, "rows": [{"x": 1}], "none": None},
        "empty_options": {},
        "odd key": 1,
    }
    read = tomllib.loads(dumps(data))
    expected = {k: v for k, v in data.items() if k not in ("skipped", "empty_options")}
    expected["model_options"] = {k: v for k, v in data["model_options"].items() if v is not None}
    assert read == expected
    assert math.isnan(tomllib.loads(dumps({"x": math.nan}))["x"])


def test_a_stored_scan_gives_the_parameters_that_make_it_again():
    [config] = parameters.configs(plugins.components(), params(c=[1.0], seeds=[3], sgd_seeds=[2]))
    scan = {
        "config": config.to_dict(),
        "runs": {"r1": {"c": 2.0}, "r0": {"c": 1.0}},
        "sharp_eps": 0.1,
    }
    again = parameters.of_scan(scan)
    assert again["c"] == [1.0, 2.0] and again["seeds"] == [3] and again["sharp_eps"] == 0.1
    assert "device" not in again  # where it ran is this machine's business
    [rebuilt] = parameters.configs(plugins.components(), {**parameters.defaults(), **again})
    assert rebuilt.scan_id == config.scan_id
