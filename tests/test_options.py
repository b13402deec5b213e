"""Options declared once: phasebench.Option, the registry's checks, and every built-in
registration against the component that receives its options."""

from __future__ import annotations

import inspect
import json
import math

import pytest

from phasebench import Option, kinds, plugins
from phasebench.errors import PluginError, UsageError

WHERE = "model 'toy'"


def test_the_type_comes_from_the_default_and_values_are_checked():
    depth = Option("depth", 4, "layers", ge=1)
    assert depth.type is int and depth.check(8, WHERE) == 8
    assert depth.check(8.0, WHERE) == 8 and isinstance(depth.check(8.0, WHERE), int)
    for bad, words in ((0, "a positive integer, got 0"), (2.5, "got 2.5"), (True, "got True")):
        with pytest.raises(UsageError, match=f"model 'toy': depth must be .*{words}"):
            depth.check(bad, WHERE)
    rate = Option("tol", 1e-3, gt=0)
    assert rate.check(1, WHERE) == 1.0 and isinstance(rate.check(1, WHERE), float)
    for bad in (math.nan, math.inf, -1.0, 0.0):
        with pytest.raises(UsageError, match="tol must be a positive number"):
            rate.check(bad, WHERE)
    beta = Option("beta", 0.9, ge=0, lt=1)
    with pytest.raises(UsageError, match=r"beta must be in \[0, 1\), got 1.0"):
        beta.check(1.0, WHERE)


def test_choices_none_and_lists():
    norm = Option("norm", "none", choices=("none", "layer"))
    with pytest.raises(UsageError, match="unknown norm 'group'; choose one of: none, layer"):
        norm.check("group", WHERE)
    workers = Option("workers", None, type=int, ge=1)
    assert workers.check(None, WHERE) is None and workers.parse("none", "x") is None
    assert workers.parse("3", "x") == 3
    with pytest.raises(UsageError, match="workers must be a positive integer or none, got 0"):
        workers.check(0, WHERE)
    betas = Option("betas", [0.9, 0.999])
    assert betas.check((0.5, 0.6), WHERE) == [0.5, 0.6]
    assert betas.parse("0.8,0.9", "x") == [0.8, 0.9] and betas.parse("[0.7, 0.8]", "x") == [
        0.7,
        0.8,
    ]
    anything = Option("extra", None)
    assert anything.parse('{"a": 1}', "x") == {"a": 1} and anything.parse("word", "x") == "word"


def test_command_line_text_is_converted_by_the_declared_type():
    assert Option("bias", False).parse("yes", "x") is True
    assert Option("bias", False).parse("0", "x") is False
    with pytest.raises(UsageError, match="bias must be true or false, got 'maybe'"):
        Option("bias", False).parse("maybe", "model 'fcn'")
    with pytest.raises(UsageError, match="width must be a positive integer, got 'wide'"):
        Option("width", 128, ge=1).parse("wide", "model 'fcn'")
    with pytest.raises(UsageError, match="tol must be a positive number, got nan"):
        Option("tol", 1e-3, gt=0).parse("nan", "estimator 'power'")


def test_a_bad_declaration_is_a_plugin_error():
    with pytest.raises(PluginError, match="identifier"):
        Option("not a name", 1)
    with pytest.raises(PluginError, match="its default: depth must be a positive integer"):
        Option("depth", 0, ge=1)
    with pytest.raises(PluginError, match="type must be one of"):
        Option("shape", (1, 2), type=tuple)
    with pytest.raises(PluginError, match="the default must be JSON"):
        Option("layout", {"fn": object()})


LEGACY = """
from phasebench import Option, hookimpl

@hookimpl
def register_models(register):
    register("legacy-net", "x:build", description="older form", defaults={"width": 8})
    register("typed-net", "x:build", description="newer form",
             options=[Option("width", 8, "units", ge=1)])
    register("both-net", "x:build", defaults={"width": 8}, options=[Option("width", 8)])
"""


def test_registrations_take_options_or_the_older_defaults_not_both(add_entry_points, plugin_module):
    plugin_module("legacy_plugin", LEGACY)
    add_entry_points(("legacy", "legacy_plugin"))
    loaded = plugins.load_components(env={})
    [failure] = loaded.failures  # both-net: the whole plugin is refused, nothing half-registered
    assert "not both" in failure.error
    assert "legacy-net" not in loaded.registry("model")
    plugin_module("legacy_plugin", LEGACY.replace('    register("both-net"', '    # ("both-net"'))
    loaded = plugins.load_components(env={})
    legacy, typed = loaded.get("model", "legacy-net"), loaded.get("model", "typed-net")
    assert legacy.defaults == typed.defaults == {"width": 8}
    assert legacy.options({"width": 16}) == {"width": 16}
    with pytest.raises(UsageError, match="model 'typed-net': width must be a positive integer"):
        typed.options({"width": 0})
    with pytest.raises(UsageError, match="model 'legacy-net': width must be an integer"):
        legacy.options({"width": "wide"})
    described = typed.describe()
    assert described["options"] == [
        {"name": "width", "default": 8, "type": "int", "help": "units", "ge": 1}
    ]
    json.dumps(described)


BUILTINS = plugins.load_components(env={"PHASEBENCH_LOAD_PLUGINS": ""})
TAKING_OPTIONS = [
    (kind.name, registration.name)
    for kind in kinds.KINDS
    if kind.receives is not None
    for registration in BUILTINS.registry(kind.name)
]


@pytest.mark.parametrize(
    ("kind", "name"), TAKING_OPTIONS, ids=[f"{k}-{n}" for k, n in TAKING_OPTIONS]
)
def test_every_registration_declares_exactly_what_its_component_receives(kind, name):
    """The component takes its kind's arguments, then exactly the declared options by keyword;
    a default in its signature would be a second declaration, so it must agree (or be absent)."""
    registration = BUILTINS.get(kind, name)
    parameters = inspect.signature(registration.load()).parameters
    fixed = kinds.get(kind).receives
    assert list(parameters)[: len(fixed)] == list(fixed), f"{kind} {name}: {list(parameters)}"
    rest = {k: p for k, p in list(parameters.items())[len(fixed) :]}
    takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in rest.values())
    named = {k: p for k, p in rest.items() if p.kind is not inspect.Parameter.VAR_KEYWORD}
    declared = registration.defaults
    if not takes_any:
        assert set(named) == set(declared), f"{kind} {name}: declares {sorted(declared)}"
    for option, parameter in named.items():
        assert option in declared, f"{kind} {name}: {option!r} is not declared"
        if parameter.default is not inspect.Parameter.empty:
            assert parameter.default == declared[option], (
                f"{kind} {name}: {option} defaults to {parameter.default!r} in the signature "
                f"but {declared[option]!r} in the registration"
            )


def test_every_builtin_option_says_what_it_is():
    """phasebench list shows one line of help for every option a built-in declares."""
    missing = [
        f"{registration.kind} {registration.name}: {option.name}"
        for kind in kinds.KINDS
        for registration in BUILTINS.registry(kind.name)
        for option in registration.declared
        if not option.help
    ]
    assert not missing, missing
