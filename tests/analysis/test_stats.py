"""analysis/stats.py: the 95 % CI of a mean (t and bootstrap), its text and seed-paired
differences against a baseline on hand-worked cases; the t quantiles against the density
integrated numerically."""
import math

import numpy as np
import pandas as pd
import pytest
from conftest import t975 as t975_integrated

from stats import (Interval, bootstrap_ci, cell, interval_text, mean_ci, paired_diff,
                   paired_summary, summarize, t975)


def test_mean_ci_of_three():
    mean, half, n = mean_ci([1.0, 2.0, 3.0])  # sd 1, t(0.975, 2) = 4.302653
    assert (mean, n) == (2.0, 3)
    assert math.isclose(half, 4.302653 / math.sqrt(3), rel_tol=1e-12)


def test_mean_ci_skips_missing_and_needs_two():
    assert mean_ci([float("nan"), 5.0])[:2][0] == 5.0
    assert math.isnan(mean_ci([5.0])[1])
    assert mean_ci([])[2] == 0


@pytest.mark.parametrize("df", [1, 2, 3, 4, 9, 29, 30, 31, 40, 60, 120, 1000])
def test_t_quantiles(df):
    assert math.isclose(t975(df), t975_integrated(df), rel_tol=1e-6)


def test_bootstrap_is_reproducible_and_holds_the_mean():
    values = [0.81, 0.84, 0.79, 0.88, 0.83]
    iv = bootstrap_ci(values)
    assert iv == bootstrap_ci(values) and iv.n == 5
    assert iv.low < iv.mean < iv.high and iv.mean == pytest.approx(np.mean(values))
    # the documented procedure: PCG64 seeded 0, 10000 resamples, percentiles 2.5 and 97.5
    draws = np.random.default_rng(0).integers(0, 5, size=(10000, 5))
    low, high = np.percentile(np.array(values)[draws].mean(axis=1), [2.5, 97.5])
    assert (iv.low, iv.high) == (low, high)
    assert math.isnan(bootstrap_ci([0.5]).low) and bootstrap_ci([]).n == 0


def test_interval_text():
    assert interval_text(Interval(0.5, 0.4, 0.6, 3), "t", 100, 1) == "50.0 ± 10.0"
    assert interval_text(Interval(0.5, 0.45, 0.6, 3), "bootstrap", 100, 1) == "50.0 [45.0, 60.0]"
    assert interval_text(Interval(0.02, -0.01, 0.05, 3), "t", 100, 1, True) == "+2.0 ± 3.0"
    assert interval_text(Interval(0.5, math.nan, math.nan, 1), "t") == "0.50"
    assert interval_text(Interval(math.nan, math.nan, math.nan, 0), "t") == ""


def test_summary_and_paired_summary_on_a_grid():
    # two methods x two noise rates x three seeds; the baseline differs in the noise rate only
    obs = pd.DataFrame([{"mode": m, "rate": r, "run.seed": s,
                         "acc": 0.5 + 0.1 * (m == "mw") + 0.01 * s - r + (0.001 * s * s if m ==
                                                                              "mw" else 0)}
                        for m in ("uniform", "mw") for r in (0.0, 0.4) for s in (1, 2, 3)])
    s = summarize(obs, ["mode", "rate"], "acc")
    assert list(s["n"]) == [3, 3, 3, 3]
    paired = paired_summary(obs, ["mode", "rate"], "acc", {"mode": "uniform"}, ["run.seed"])
    assert list(paired["mode"]) == ["mw", "mw"] and list(paired["rate"]) == [0.0, 0.4]
    diffs = [0.1 + 0.001 * s * s for s in (1, 2, 3)]  # the same at both rates
    for row in paired.itertuples():
        mean, half, n = mean_ci(diffs)
        assert (row.n, row.mean) == (3, pytest.approx(mean))
        assert row.high - row.mean == pytest.approx(half)


def test_paired_summary_refuses_two_runs_of_a_seed():
    obs = pd.DataFrame({"mode": ["a", "a", "b"], "run.seed": [1, 1, 1], "acc": [1.0, 2.0, 3.0]})
    with pytest.raises(ValueError, match="two runs with the same run.seed"):
        paired_summary(obs, ["mode"], "acc", {"mode": "a"}, ["run.seed"])


def test_paired_diff_matches_seeds():
    rows = pd.DataFrame({"run.seed": [1, 2, 3], "acc": [0.9, 0.8, 0.7]})
    base = pd.DataFrame({"run.seed": [3, 1], "acc": [0.5, 0.6]})
    d = paired_diff(rows, base, "acc").sort_index()
    assert list(d.index) == [1, 3] and [round(x, 12) for x in d] == [0.3, 0.2]


def test_cell_formats_percent():
    assert cell([0.5, 0.5], 100) == "50.00 ± 0.00"
    assert cell([0.25], 100, 1) == "25.0"
    assert cell([0.1, 0.3], 100, 1, spread="sd", signed=True) == "+20.0 ± 14.1"
