"""Plugin loading: built-ins through entry points, robustness, environment switches."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from phasebench import plugins
from phasebench.errors import PluginError, UnknownComponentError, UsageError
from phasebench.registry import KINDS

GOOD = """
from phasebench import hookimpl

@hookimpl
def register_models(register):
    register("toy-net", "toy_impl:build", description="a toy", defaults={"width": 4})
"""


def test_builtins_come_from_the_phasebench_distribution_entry_points():
    loaded = plugins.load_components(env={})
    builtins = [p for p in loaded.plugins if p.builtin]
    assert {p.distribution for p in builtins} == {"phasebench"}
    assert {p.name for p in builtins} >= {"builtin-losses", "builtin-models", "builtin-estimators"}
    assert loaded.failures == []
    assert loaded.get("loss", "mse").plugin == "builtin-losses"


def test_a_plugin_that_fails_to_import_is_reported_and_the_rest_keep_working(
    add_entry_points, plugin_module
):
    plugin_module("broken_plugin", "raise ImportError('no module named shiny_dependency')\n")
    plugin_module("good_plugin", GOOD)
    add_entry_points(("broken", "broken_plugin"), ("good", "good_plugin"))
    loaded = plugins.load_components(env={})
    [failure] = loaded.failures
    assert failure.name == "broken"
    assert "shiny_dependency" in failure.error and "ImportError" in failure.error
    assert "toy-net" in loaded.registry("model")
    assert "mse" in loaded.registry("loss")


def test_strict_mode_turns_load_failures_into_errors(add_entry_points, plugin_module):
    plugin_module("broken_plugin", "raise RuntimeError('boom')\n")
    add_entry_points(("broken", "broken_plugin"))
    with pytest.raises(PluginError, match="broken.*boom"):
        plugins.load_components(env={"PHASEBENCH_STRICT_PLUGINS": "1"})


def test_a_hook_that_raises_is_a_failure_not_a_crash(add_entry_points, plugin_module):
    plugin_module(
        "raising_plugin",
        """
        from phasebench import hookimpl

        @hookimpl
        def register_losses(register):
            raise ValueError("bad config")
        """,
    )
    add_entry_points(("raising", "raising_plugin"))
    loaded = plugins.load_components(env={})
    [failure] = loaded.failures
    assert "register_losses raised ValueError: bad config" in failure.error
    assert "raising" not in {p.name for p in loaded.plugins}


def test_a_misspelled_hook_is_refused(add_entry_points, plugin_module):
    plugin_module(
        "typo_plugin",
        """
        from phasebench import hookimpl

        @hookimpl
        def register_model(register):
            pass
        """,
    )
    add_entry_points(("typo", "typo_plugin"))
    loaded = plugins.load_components(env={})
    [failure] = loaded.failures
    assert "unknown hook 'register_model'" in failure.error


def test_two_plugins_registering_the_same_name_fail_the_second_naming_both(
    add_entry_points, plugin_module
):
    """The clash disables the second plugin only: everything else keeps working, and
    ``phasebench plugins`` names both parties (strict mode makes it an error)."""
    plugin_module("good_plugin", GOOD)
    plugin_module("twin_plugin", GOOD)
    add_entry_points(("good", "good_plugin"), ("twin", "twin_plugin"))
    loaded = plugins.load_components(env={})
    [failure] = loaded.failures
    assert failure.name == "twin"
    assert "'toy-net' is registered twice" in failure.error and "'good'" in failure.error
    assert loaded.get("model", "toy-net").plugin == "good"
    assert "mse" in loaded.registry("loss")
    with pytest.raises(PluginError, match="'toy-net' is registered twice.*'good'.*'twin'"):
        plugins.load_components(env={"PHASEBENCH_STRICT_PLUGINS": "1"})


def test_a_plugin_cannot_shadow_a_builtin_name(add_entry_points, plugin_module):
    plugin_module(
        "shadow_plugin",
        """
        from phasebench import hookimpl

        @hookimpl
        def register_losses(register):
            register("mse", "shadow:make", description="another mse")
        """,
    )
    add_entry_points(("shadow", "shadow_plugin"))
    loaded = plugins.load_components(env={})
    [failure] = loaded.failures
    assert re.search("'mse' is registered twice.*builtin-losses.*shadow", failure.error)
    assert loaded.get("loss", "mse").plugin == "builtin-losses"


def test_a_hook_that_raises_registers_nothing(add_entry_points, plugin_module):
    """Its earlier register() calls are rolled back, in this hook and the plugin's others."""
    plugin_module(
        "half_plugin",
        """
        from phasebench import hookimpl

        @hookimpl
        def register_losses(register):
            register("half-loss", "half:make", description="registered before the raise")

        @hookimpl
        def register_models(register):
            register("half", "half:build", description="registered before the raise")
            raise RuntimeError("broken after one registration")
        """,
    )
    add_entry_points(("half", "half_plugin"))
    loaded = plugins.load_components(env={})
    [failure] = loaded.failures
    assert "register_models raised RuntimeError: broken after one" in failure.error
    assert "half" not in loaded.registry("model")
    assert "half-loss" not in loaded.registry("loss")
    assert "half" not in {p.name for p in loaded.plugins}


def test_disable_load_only_and_empty_load_only(add_entry_points, plugin_module):
    plugin_module("good_plugin", GOOD)
    add_entry_points(("good", "good_plugin"))
    assert "toy-net" in plugins.load_components(env={}).registry("model")
    disabled = plugins.load_components(env={"PHASEBENCH_DISABLE_PLUGINS": "good"})
    assert "toy-net" not in disabled.registry("model")
    only_builtins = plugins.load_components(env={"PHASEBENCH_LOAD_PLUGINS": ""})
    assert "toy-net" not in only_builtins.registry("model")
    assert "mse" in only_builtins.registry("loss")
    only_good = plugins.load_components(env={"PHASEBENCH_LOAD_PLUGINS": "good"})
    assert "toy-net" in only_good.registry("model")
    no_losses = plugins.load_components(env={"PHASEBENCH_DISABLE_PLUGINS": "builtin-losses"})
    assert len(no_losses.registry("loss")) == 0


def test_unknown_names_say_what_is_close_and_what_exists():
    loaded = plugins.load_components(env={})
    with pytest.raises(UnknownComponentError) as info:
        loaded.get("loss", "mes")
    message = str(info.value)
    assert message.startswith("unknown loss 'mes'; did you mean 'mse'?")
    assert "available: mse, xent" in message
    assert "\n" not in message


def test_options_merge_defaults_and_reject_unknown_ones(add_entry_points, plugin_module):
    plugin_module("good_plugin", GOOD)
    add_entry_points(("good", "good_plugin"))
    registration = plugins.load_components(env={}).get("model", "toy-net")
    assert registration.options({}) == {"width": 4}
    assert registration.options({"width": 9}) == {"width": 9}
    with pytest.raises(UsageError, match="has no option 'depht'; its options are: width"):
        registration.options({"depht": 3})


def test_a_lazy_reference_that_does_not_resolve_is_a_plugin_error(add_entry_points, plugin_module):
    plugin_module("good_plugin", GOOD)
    add_entry_points(("good", "good_plugin"))
    registration = plugins.load_components(env={}).get("model", "toy-net")
    with pytest.raises(PluginError, match="toy_impl:build.*cannot be loaded"):
        registration.load()


def test_every_kind_has_a_hook():
    from phasebench import hookspecs

    for hook in KINDS.values():
        assert callable(getattr(hookspecs, hook))


def test_loading_and_listing_never_import_torch():
    code = (
        "import sys; from phasebench import plugins; c = plugins.components();"
        "[r.describe() for k in c.registries for r in c.registry(k)];"
        "assert 'torch' not in sys.modules, 'torch imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_a_malformed_lazy_reference_disables_only_its_plugin(add_entry_points, plugin_module):
    """Issue 13 #10: one bad reference used to make every command exit 3."""
    plugin_module(
        "colonless_plugin",
        """
        from phasebench import hookimpl

        @hookimpl
        def register_models(register):
            register("colonless", "no_colon_reference", description="no module:attr")
        """,
    )
    add_entry_points(("colonless", "colonless_plugin"))
    loaded = plugins.load_components(env={})
    [failure] = loaded.failures
    assert failure.name == "colonless" and "'package.module:attr'" in failure.error
    assert "colonless" not in loaded.registry("model") and "fcn" in loaded.registry("model")
    assert "colonless" not in {p.name for p in loaded.plugins}
