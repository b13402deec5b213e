"""ProbeConfig: frozen, serializable, and a stable hash that names the run."""

from __future__ import annotations

import dataclasses
import pickle

import pytest
from hypothesis import given
from hypothesis import strategies as st

from phasebench.config import ComponentSpec, ProbeConfig


def make(**overrides) -> ProbeConfig:
    base = dict(
        model=ComponentSpec.of("fcn", {"depth": 4, "width": 64, "activation": "relu"}),
        dataset=ComponentSpec.of("fashion-mnist-subset"),
        init=ComponentSpec.of("he"),
        loss=ComponentSpec.of("mse"),
        optimizer=ComponentSpec.of("sgd"),
        estimator=ComponentSpec.of("lanczos", {"tol": 1e-4}),
        c=2.0,
    )
    base.update(overrides)
    return ProbeConfig(**base)


def test_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        make().c = 3.0


def test_round_trips_through_json_and_pickle():
    config = make()
    assert ProbeConfig.from_json(config.to_json()) == config
    assert pickle.loads(pickle.dumps(config)) == config
    assert ProbeConfig.from_json(config.to_json()).run_id == config.run_id


def test_hash_is_stable_across_processes_and_option_order():
    a = make(model=ComponentSpec.of("fcn", {"width": 64, "depth": 4, "activation": "relu"}))
    b = make()
    assert a.run_id == b.run_id
    # Pinned: a change of the hashing scheme must be deliberate, since it breaks --resume of
    # every results file written before it.
    assert (a.run_id, a.scan_id) == ("4bd931e4da5eca75", "f92afb39fbaa0ff7")
    assert a.run_id == ProbeConfig.from_dict(a.to_dict()).run_id


def test_every_experimental_field_changes_the_hash_but_device_does_not():
    config = make()
    assert make(c=2.1).run_id != config.run_id
    assert make(seed=1).run_id != config.run_id
    assert make(sgd_seed=1).run_id != config.run_id
    assert make(dtype="float64").run_id != config.run_id
    assert make(estimator=ComponentSpec.of("power")).run_id != config.run_id
    assert make(device="cuda").run_id == config.run_id


def test_scan_id_ignores_c_only():
    assert make(c=1.0).scan_id == make(c=8.0).scan_id
    assert make(c=1.0).scan_id != make(c=1.0, seed=3).scan_id
    assert make(c=1.0).scan_id != make(c=1.0).run_id


@given(
    width=st.integers(1, 4096),
    depth=st.integers(1, 64),
    c=st.floats(0.01, 100, allow_nan=False),
    seed=st.integers(0, 2**31),
)
def test_distinct_configurations_get_distinct_ids(width, depth, c, seed):
    config = make(model=ComponentSpec.of("fcn", {"width": width, "depth": depth}), c=c, seed=seed)
    other = make(
        model=ComponentSpec.of("fcn", {"width": width + 1, "depth": depth}), c=c, seed=seed
    )
    assert config.run_id != other.run_id
    assert ProbeConfig.from_json(config.to_json()).run_id == config.run_id


def test_component_label():
    assert ComponentSpec.of("fcn", {"width": 8, "depth": 2}).label() == "fcn(depth=2,width=8)"
    assert ComponentSpec.of("mse").label() == "mse"


def test_a_stored_configuration_of_an_older_version_reads_with_its_missing_fields_at_default():
    """A file written before ``sharpness_batch`` (or any later field) existed ran with the
    default, so its configuration compares equal to today's (plots group such points)."""
    import json

    from phasebench.config import with_defaults

    today = json.loads(make().to_json())
    older = {k: v for k, v in today.items() if k not in ("sharpness_batch", "density_steps")}
    assert with_defaults(older) == today
    assert with_defaults(today) == today
    changed = {**older, "c": 3.0}
    assert with_defaults(changed) != today  # a stored value is never replaced
