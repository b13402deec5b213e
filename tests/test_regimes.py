"""The regime labels on synthetic trajectories whose regimes are known by construction: each
regime alone, all four, none, with minibatch-like noise, with the oscillation at the edge of
stability, and under a warmup that moves the threshold. numpy only (docs/regimes.md)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from phasebench.analysis.regimes import (
    EARLY_TRANSIENT,
    EDGE_OF_STABILITY,
    PROGRESSIVE_SHARPENING,
    SATURATION,
    Regime,
    Regimes,
    Rules,
    label,
)

STEPS = np.arange(0, 5001, 20)
T = STEPS.astype(float)
THRESHOLD = np.full(T.size, 2.0)  # 2 / eta at eta = 1
#: where the synthetic regimes of ``four_regimes`` change (steps)
SATURATION_FROM, SHARPENING_FROM = 120, 800
#: the sharpening reaches the band's lower edge (r = 0.8) here and the threshold here
EOS_BAND_AT = SHARPENING_FROM * (1.6 / 0.3) ** (1 / 1.67)
EOS_AT = SHARPENING_FROM * (2.0 / 0.3) ** (1 / 1.67)


def flip(n: int, high: float = 1.12, low: float = 0.9) -> np.ndarray:
    """The period-2 oscillation of the sharpness around the threshold at the edge of stability."""
    return np.where(np.arange(n) % 2 == 0, high, low)


def four_regimes() -> np.ndarray:
    """A fall from 1 to 0.3 within ~100 steps, flat to step 800, a power-law rise t^1.67 up to
    the threshold 2, then the period-2 flip around it."""
    falling = 0.3 + 0.7 * np.exp(-T / 30)
    rising = 0.3 * (np.maximum(T, SHARPENING_FROM) / SHARPENING_FROM) ** 1.67
    sharp = np.where(T < SHARPENING_FROM, falling, rising)
    return np.where(sharp >= 2.0, 2.0 * flip(T.size), sharp)


def loss_curve() -> np.ndarray:
    return 1.0 / (1.0 + T / 50)


def names(regimes: Regimes) -> list[str]:
    return [r.name for r in regimes.regimes]


def dex(a: float, b: float) -> float:
    """Distance of two steps on the log axis, in decades."""
    return abs(math.log10(1 + a) - math.log10(1 + b))


def assert_tiles(regimes: Regimes) -> None:
    """Regimes are in time order and do not overlap."""
    for before, after in zip(regimes.regimes, regimes.regimes[1:], strict=False):
        assert before.start <= before.end < after.start


# -- each regime alone -----------------------------------------------------------------------
def test_a_flat_sharpness_below_the_threshold_is_saturation_from_the_start():
    found = label(STEPS, np.full(T.size, 0.3), THRESHOLD, loss_curve())
    assert found.to_dicts() == [{"name": SATURATION, "start": 0, "end": 5000}]
    assert found.eos == {}


def test_a_steady_power_law_rise_below_the_threshold_is_progressive_sharpening():
    sharp = 0.05 * (1 + T) ** 0.5  # reaches 3.5, the threshold is 20
    found = label(STEPS, sharp, np.full(T.size, 20.0), loss_curve())
    assert found.to_dicts() == [{"name": PROGRESSIVE_SHARPENING, "start": 0, "end": 5000}]


def test_a_sharpness_at_the_threshold_throughout_is_the_edge_of_stability():
    found = label(STEPS, 2.0 * flip(T.size), THRESHOLD, loss_curve())
    assert found.to_dicts() == [{"name": EDGE_OF_STABILITY, "start": 0, "end": 5000}]
    expected = flip(T.size)
    assert found.eos["measurements"] == T.size
    assert found.eos["mean"] == pytest.approx(expected.mean())
    assert found.eos["spread"] == pytest.approx(expected.std())
    assert (found.eos["start"], found.eos["end"]) == (0, 5000)


def test_a_catapult_that_then_diverges_is_only_an_early_transient():
    steps = np.arange(0, 101)
    t = steps.astype(float)
    sharp = 0.3 + 0.7 * np.exp(-t / 10)
    loss = 1.0 + 3.0 * t * np.exp(-t / 4)  # the loss rises above L0 and comes back
    loss[40:] = np.nan  # then diverges: nothing after it is a measurement
    sharp[40:] = np.nan
    found = label(steps, sharp, np.full(t.size, 2.0), loss)
    assert found.to_dicts() == [{"name": EARLY_TRANSIENT, "start": 0, "end": 39}]


# -- all four, and the same under noise ------------------------------------------------------
def check_four(found: Regimes, tolerance: float) -> None:
    assert names(found) == [EARLY_TRANSIENT, SATURATION, PROGRESSIVE_SHARPENING, EDGE_OF_STABILITY]
    assert_tiles(found)
    transient, saturation, sharpening, eos = found.regimes
    assert transient.start == 0 and eos.end == 5000
    assert dex(saturation.start, SATURATION_FROM) < tolerance
    assert dex(sharpening.start, SHARPENING_FROM) < tolerance
    assert dex(eos.start, EOS_BAND_AT) < tolerance
    assert found.eos["start"] == eos.start and found.eos["end"] == 5000
    assert found.eos["mean"] == pytest.approx(1.0, abs=0.05)
    # gaps between regimes, if any, are short
    covered = sum(r.end - r.start for r in found.regimes)
    assert covered > 0.9 * 5000


def test_all_four_regimes_in_order_with_their_starts():
    check_four(label(STEPS, four_regimes(), THRESHOLD, loss_curve()), tolerance=0.1)


@pytest.mark.parametrize("seed", range(5))
def test_minibatch_noise_moves_no_regime_far(seed):
    rng = np.random.default_rng(seed)
    noisy = four_regimes() * np.exp(0.1 * rng.standard_normal(T.size))
    loss = loss_curve() * np.exp(0.1 * rng.standard_normal(T.size))
    check_four(label(STEPS, noisy, THRESHOLD, loss), tolerance=0.15)


def test_heavy_noise_on_a_flat_sharpness_is_not_sharpening():
    rng = np.random.default_rng(7)
    noisy = 0.3 * np.exp(0.2 * rng.standard_normal(T.size))
    found = label(STEPS, noisy, THRESHOLD)
    assert PROGRESSIVE_SHARPENING not in names(found)
    assert EDGE_OF_STABILITY not in names(found)
    assert found.first(SATURATION) is not None
    assert sum(r.end - r.start for r in found.regimes if r.name == SATURATION) > 0.8 * 5000


# -- none ------------------------------------------------------------------------------------
def test_a_numerically_zero_sharpness_has_no_regime():
    assert label(STEPS, np.full(T.size, 1e-9), THRESHOLD).to_dicts() == []


def test_a_trajectory_of_nan_has_no_regime():
    found = label(STEPS, np.full(T.size, np.nan), THRESHOLD, np.full(T.size, np.nan))
    assert found.to_dicts() == [] and found.eos == {}


def test_a_run_diverged_after_three_measurements_has_no_regime():
    sharp = np.full(T.size, np.nan)
    sharp[:3] = [1.0, 1.5, 3.0]
    assert label(STEPS, sharp, THRESHOLD).to_dicts() == []


def test_unconverged_measurements_are_never_labelled():
    found = label(STEPS, 2.0 * flip(T.size), THRESHOLD, converged=np.zeros(T.size, bool))
    assert found.to_dicts() == [] and found.eos == {}


def test_unconverged_and_infinite_measurements_are_left_out():
    rng = np.random.default_rng(3)
    sharp = four_regimes()
    converged = rng.random(T.size) > 0.2
    garbage = sharp.copy()
    garbage[~converged] = 1e3  # what an estimator that did not converge might return
    garbage[5::37] = np.inf
    converged[5::37] = True
    clean = label(STEPS[converged], sharp[converged], THRESHOLD[converged], loss_curve()[converged])
    found = label(STEPS, garbage, THRESHOLD, loss_curve(), converged)
    assert names(found) == names(clean)
    for a, b in zip(found.regimes, clean.regimes, strict=True):
        assert dex(a.start, b.start) < 0.15


def test_an_undefined_threshold_has_no_edge_of_stability():
    # Adam before its curvature is defined: the threshold is nan; a flat sharpness saturates
    found = label(STEPS, 2.0 * flip(T.size), np.full(T.size, np.nan))
    assert EDGE_OF_STABILITY not in names(found) and found.eos == {}


# -- the oscillation at the edge of stability ------------------------------------------------
def test_a_large_period_two_flip_stays_one_edge_of_stability():
    sharp = 2.0 * flip(T.size, high=1.35, low=0.75)
    found = label(STEPS, sharp, THRESHOLD)
    assert names(found) == [EDGE_OF_STABILITY]
    assert found.eos["mean"] == pytest.approx(flip(T.size, high=1.35, low=0.75).mean())


def test_an_irregular_oscillation_with_catapult_spikes_stays_one_edge_of_stability():
    rng = np.random.default_rng(11)
    ratio = np.exp(0.12 * rng.standard_normal(T.size))
    spikes = rng.random(T.size) < 0.08
    ratio[spikes] *= rng.uniform(1.5, 2.5, spikes.sum())  # self-stabilizing overshoots
    ratio[rng.random(T.size) < 0.05] *= 0.4  # and the drops after them
    found = label(STEPS, 2.0 * ratio, THRESHOLD)
    assert names(found) == [EDGE_OF_STABILITY]
    assert found.eos["mean"] == pytest.approx(ratio.mean())
    assert found.eos["spread"] == pytest.approx(ratio.std())


def test_a_level_hovering_at_the_band_edge_does_not_flicker():
    rng = np.random.default_rng(5)
    sharp = 2.0 * 0.78 * np.exp(0.15 * rng.standard_normal(T.size))
    found = label(STEPS, sharp, THRESHOLD)
    assert len(found.regimes) <= 2  # it may start saturated; it then stays at the edge


# -- thresholds that change: a warmup --------------------------------------------------------
def test_a_warmup_brings_the_threshold_down_onto_a_flat_sharpness():
    # eta_t rises linearly from 0.1 to 1 over 1000 steps: the threshold 2/eta_t falls from 20
    # to 2; the sharpness (3) is flat until the threshold reaches it, then follows it down
    eta = np.minimum(0.1 + 0.9 * T / 1000, 1.0)
    threshold = 2.0 / eta
    sharp = np.where(threshold > 3.0, 3.0, threshold * flip(T.size))
    found = label(STEPS, sharp, threshold, loss_curve())
    assert names(found) == [SATURATION, EDGE_OF_STABILITY]
    saturation, eos = found.regimes
    band_at = (2.0 / (3.0 / 0.8) - 0.1) / 0.9 * 1000  # r = 0.8: the band's lower edge
    assert saturation.start == 0 and dex(eos.start, band_at) < 0.1
    assert found.eos["mean"] == pytest.approx(1.0, abs=0.05)


def test_a_cosine_decay_lifts_the_threshold_off_the_sharpness():
    # at the edge of stability until eta decays: the threshold rises away from a sharpness that
    # no longer follows it, which ends the edge of stability
    eta = np.where(T < 2000, 1.0, 0.5 * (1 + np.cos(np.pi * (T - 2000) / 3000)) * 0.9 + 0.1)
    threshold = 2.0 / eta
    sharp = 2.0 * flip(T.size)
    found = label(STEPS, sharp, threshold)
    eos = found.first(EDGE_OF_STABILITY)
    assert eos is not None and eos.start == 0
    # it ends where 2 / eta_t reaches 2 / 0.7 (r = 0.7, the band it stays in)
    ends_at = 2000 + 3000 / np.pi * np.arccos((0.7 - 0.1) / 0.45 - 1)
    assert dex(eos.end, ends_at) < 0.1
    assert found.regimes[-1].name == SATURATION


# -- the records ---------------------------------------------------------------------------
def test_regimes_round_trip_through_their_stored_form():
    found = label(STEPS, four_regimes(), THRESHOLD, loss_curve())
    again = Regimes.from_dicts(found.to_dicts(), found.eos)
    assert again == found
    assert all(isinstance(v, int) for r in found.to_dicts() for v in (r["start"], r["end"]))
    assert found.first(SATURATION) == found.regimes[1]
    assert Regimes().first(SATURATION) is None


def test_the_top_eigenvalue_is_column_zero():
    topk = np.stack([four_regimes(), 0.5 * four_regimes()], axis=1)
    assert label(STEPS, topk, THRESHOLD) == label(STEPS, four_regimes(), THRESHOLD)


def test_mismatched_lengths_are_a_value_error():
    with pytest.raises(ValueError, match="threshold has 3 measurements"):
        label(STEPS, four_regimes(), [2.0, 2.0, 2.0])


def test_the_rules_are_parameters():
    strict = Rules(eos_enter=(0.95, 1.05), eos_stay=(0.9, 1.1))
    sharp = 2.0 * 0.85 * (1 + 0.05 * (-1.0) ** np.arange(T.size))  # oscillating at 0.85
    assert names(label(STEPS, sharp, THRESHOLD)) == [EDGE_OF_STABILITY]
    assert names(label(STEPS, sharp, THRESHOLD, rules=strict)) == [SATURATION]
    assert Regime("saturation", 1, 2).to_dict() == {"name": "saturation", "start": 1, "end": 2}


def test_a_run_at_rest_below_the_threshold_is_not_at_the_edge_of_stability():
    """Gradient descent that has converged at lambda = 0.89 * 2 / eta sits still: r does not
    move and the loss falls to zero. That is saturation; the same level with the sharpness
    oscillating, or the loss rising now and then, is the edge of stability."""
    sharp = np.full(T.size, 2.0 * 0.89)
    loss = 10.0 * np.exp(-T / 2000.0)
    assert names(label(STEPS, sharp, THRESHOLD, loss=loss)) == [SATURATION]
    bumpy = loss * (1 + 0.2 * (np.arange(T.size) % 7 == 0))
    assert names(label(STEPS, sharp, THRESHOLD, loss=bumpy)) == [EDGE_OF_STABILITY]
