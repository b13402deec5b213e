"""The schedule kind: the built-in schedules' learning rates, their conformance (and a broken
one's failure), bad input refused before any file, run ids unchanged without a schedule, and
the probe training at eta_t (the uv model against its recursion with a per-step eta)."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest
import torch
from probe_support import config as probe_config
from probe_support import uv_config
from support import REPO
from typer.testing import CliRunner

from phasebench import Option, hookimpl
from phasebench.cli.main import app
from phasebench.config import ComponentSpec, ProbeConfig
from phasebench.errors import UsageError
from phasebench.plugins import components, load_components
from phasebench.probe import trajectory
from phasebench.probe.plan import Choices, template
from phasebench.probe.problem import Problem, preflight
from phasebench.probe.schedule import learning_rates, set_learning_rate
from phasebench.results import load
from phasebench.testing import ConformanceError, check_component, check_schedule

STEPS = 100
ETA, LAMBDA0 = 0.5, 4.0


def schedule(name: str, **given):
    registration = components().get("schedule", name)
    return registration.load()(ETA, LAMBDA0, STEPS, **registration.options(given))


def test_constant_is_the_target_at_every_step():
    eta_at = schedule("constant")
    assert [eta_at(t) for t in (1, 50, 100)] == [ETA] * 3


def test_linear_warmup_goes_from_init_c_to_the_target_then_stays():
    eta_at = schedule("linear", warmup_steps=10, init_c=0.2)
    start = 0.2 / LAMBDA0
    assert eta_at(1) == pytest.approx(start + (ETA - start) / 10)
    assert eta_at(5) == pytest.approx(start + (ETA - start) / 2)
    assert eta_at(10) == eta_at(11) == eta_at(100) == ETA
    whole = schedule("linear", init_c=0.2)  # warmup_steps none: the whole run
    assert whole(50) == pytest.approx(start + (ETA - start) / 2) and whole(100) == ETA


def test_polynomial_warmup_follows_its_power():
    eta_at = schedule("polynomial", warmup_steps=10, init_c=0.2, power=3.0)
    start = 0.2 / LAMBDA0
    assert eta_at(5) == pytest.approx(start + (ETA - start) * 0.5**3)
    assert eta_at(10) == ETA
    linear = schedule("polynomial", warmup_steps=10, init_c=0.2, power=1.0)
    assert linear(7) == pytest.approx(schedule("linear", warmup_steps=10, init_c=0.2)(7))


def test_cosine_decays_after_warmup_to_final_c_or_a_fraction():
    eta_at = schedule("cosine", warmup_steps=20, init_c=0.2, final_c=0.4)
    assert eta_at(20) == ETA
    assert eta_at(60) == pytest.approx(0.1 + (ETA - 0.1) * 0.5)  # half way: the mean
    assert eta_at(100) == pytest.approx(0.4 / LAMBDA0)
    fraction = schedule("cosine", final_fraction=0.1)
    assert fraction(100) == pytest.approx(0.1 * ETA) and fraction(1) < ETA
    values = [fraction(t) for t in range(1, 101)]
    assert values == sorted(values, reverse=True)


def test_a_warmup_longer_than_the_run_is_one_usage_error():
    with pytest.raises(UsageError, match="warmup_steps 200 is longer than the run"):
        schedule("linear", warmup_steps=200)


@pytest.mark.parametrize("name", ["constant", "linear", "polynomial", "cosine"])
def test_the_built_in_schedules_conform(name):
    assert check_component("schedule", name) == "passed"


def test_the_check_catches_what_a_schedule_must_not_do():
    with pytest.raises(ConformanceError, match="finite"):
        check_schedule(lambda eta, lambda0, steps: lambda t: math.nan)
    with pytest.raises(ConformanceError, match="double"):
        check_schedule(lambda eta, lambda0, steps: lambda t: 0.1)  # ignores the target
    calls = iter(range(10**6))
    with pytest.raises(ConformanceError, match="deterministic"):
        check_schedule(lambda eta, lambda0, steps: lambda t: eta * (1 + next(calls)))


class StepDecay:
    """A plugin's own schedule, registered through the hook like any third-party one."""

    @staticmethod
    @hookimpl
    def register_schedules(register):
        register(
            "step-decay",
            lambda eta, lambda0, steps, *, every: lambda t: eta * 0.5 ** ((t - 1) // every),
            description="halve eta every `every` steps",
            options=[Option("every", 10, "steps between halvings", ge=1)],
        )


def test_a_plugin_registers_a_schedule_through_register_schedules():
    found = load_components(
        env={"PHASEBENCH_LOAD_PLUGINS": "mine"}, extra_plugins=[("mine", StepDecay)]
    )
    registration = found.get("schedule", "step-decay")
    assert registration.plugin == "mine"
    assert check_component("schedule", "step-decay", found, options={"every": 3}) == "passed"
    eta_at = registration.load()(1.0, 1.0, 20, **registration.options({"every": 5}))
    assert [eta_at(t) for t in (1, 5, 6, 11)] == [1.0, 1.0, 0.5, 0.25]


# -- the configuration ------------------------------------------------------------------------
def names(**given: str) -> dict[str, str]:
    return {
        "model": "fcn",
        "dataset": "fashion-mnist-subset",
        "init": "he",
        "loss": "mse",
        "optimizer": "sgd",
        "estimator": "lanczos",
        **given,
    }


def test_no_schedule_and_constant_are_the_same_run_and_a_schedule_renames_it():
    found = components()
    plain = template(found, Choices(names(), {}))
    constant = template(found, Choices(names(schedule="constant"), {}))
    warm = template(found, Choices(names(schedule="linear"), {"schedule": {"warmup_steps": 5}}))
    assert plain.schedule is None and constant == plain
    assert "schedule" not in plain.hashed()
    assert warm.run_id != plain.run_id and warm.scan_id != plain.scan_id
    assert warm.schedule == ComponentSpec.of("linear", {"warmup_steps": 5, "init_c": 0.01})
    assert ProbeConfig.from_json(warm.to_json()) == warm


def test_stored_runs_of_a7147a9_keep_their_ids():
    loaded = load(REPO / "tests" / "data" / "main-a7147a9.h5")
    for scan_id, scan in loaded["scans"].items():
        assert ProbeConfig.from_dict(scan["config"]).scan_id == scan_id
        for run_id, run in scan["runs"].items():
            assert ProbeConfig.from_dict(run["config"]).run_id == run_id


def test_preflight_refuses_a_warmup_longer_than_the_steps():
    bad = probe_config(
        "fcn",
        {"depth": 2, "width": 8},
        steps=10,
    )
    bad = ProbeConfig.from_dict(
        {
            **bad.to_dict(),
            "schedule": {"name": "linear", "options": {"warmup_steps": 11, "init_c": 0.1}},
        }
    )
    with pytest.raises(UsageError, match="warmup_steps 11 is longer than the run"):
        preflight(bad, components())


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (
            ["--schedule", "linear", "--warmup-steps", "20"],
            "warmup_steps 20 is longer than the run",
        ),
        (["--schedule", "nope"], "unknown schedule 'nope'"),
        (["--schedule", "polynomial", "--init-c", "0"], "init_c must be a positive number"),
        (["--schedule", "cosine", "--opt", "schedule.init_c=-1"], "init_c must be a positive"),
    ],
)
def test_bad_schedules_are_one_line_and_exit_2_before_any_file(tmp_path, args, words):
    out = tmp_path / "never.h5"
    result = CliRunner().invoke(app, ["run", *args, "--out", str(out)])
    assert result.exit_code == 2, result.output
    assert words in result.output and len(result.output.strip().splitlines()) == 1
    assert not out.exists()


# -- the probe at eta_t ---------------------------------------------------------------------
@pytest.fixture
def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_the_probe_trains_the_uv_model_at_each_steps_eta_t(_one_thread):
    plain = uv_config(width=16, seed=0, barrier_points=2)
    lanczos = components().get("estimator", "lanczos").options({"tol": 1e-3})
    plain = replace(plain, estimator=ComponentSpec.of("lanczos", lanczos))
    warm = ProbeConfig.from_dict(
        {
            **plain.to_dict(),
            "schedule": {"name": "linear", "options": {"warmup_steps": 6, "init_c": 0.5}},
        }
    )
    problem = Problem.build(warm, components())
    model = problem.initial_model()
    u, v = (p.detach().double().flatten().numpy() for p in model.parameters())
    n = len(u)
    begin = trajectory.start(problem)
    run = trajectory.run(problem, begin, 3.0)
    lambda0 = begin.record.lambda0
    expected = [
        0.5 / lambda0 + (3.0 / lambda0 - 0.5 / lambda0) * min(t, 6) / 6 for t in range(1, 11)
    ]
    np.testing.assert_allclose(run.eta_t, expected, rtol=1e-12)
    assert run.eta == pytest.approx(3.0 / lambda0)
    # the uv recursion with a per-step eta (theory.uv_recursion's, eta -> eta_t)
    f, lam = float(v @ u) / math.sqrt(n), float(u @ u + v @ v) / n
    losses = [f * f / 2]
    for eta in run.eta_t:
        f, lam = (1 - eta * lam + eta**2 * f**2 / n) * f, lam + (eta * f**2 / n) * (eta * lam - 4)
        losses.append(f * f / 2)
    np.testing.assert_allclose(run.loss, losses, rtol=1e-8)
    constant = trajectory.run(Problem.build(plain, components()), begin, 3.0)
    np.testing.assert_allclose(constant.eta_t, np.full(10, constant.eta))
    assert not np.allclose(constant.loss, run.loss)


def test_set_learning_rate_reaches_every_group_and_constant_needs_no_schedule():
    params = [torch.nn.Parameter(torch.zeros(2)), torch.nn.Parameter(torch.zeros(3))]
    optimizer = torch.optim.SGD([{"params": params[:1]}, {"params": params[1:]}], lr=1.0)
    set_learning_rate(optimizer, 0.25)
    assert [g["lr"] for g in optimizer.param_groups] == [0.25, 0.25]
    problem = Problem.build(uv_config(width=8), components())
    eta_at = learning_rates(problem, 0.3, 2.0, 10)
    assert [eta_at(t) for t in (1, 10)] == [0.3, 0.3]


def test_files_before_schedules_read_eta_throughout():
    from phasebench.results import run_record

    loaded = load(REPO / "tests" / "data" / "main-a7147a9.h5")
    scan_id, scan = next(iter(loaded["scans"].items()))
    run_id, run = next(iter(scan["runs"].items()))
    record = run_record(run_id, scan_id, run)
    assert record.eta_t.shape == record.batch_loss.shape
    assert np.all(record.eta_t == record.eta)
