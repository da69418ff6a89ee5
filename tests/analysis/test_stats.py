"""analysis/stats.py: the 95 % CI of a mean and seed-paired differences on hand-worked cases."""
import math
import os
import sys

import pandas as pd

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "analysis"))
from stats import cell, mean_ci, paired_diff, t975  # noqa: E402


def test_mean_ci_of_three():
    mean, half, n = mean_ci([1.0, 2.0, 3.0])  # sd 1, t(0.975, 2) = 4.303
    assert (mean, n) == (2.0, 3)
    assert math.isclose(half, 4.303 / math.sqrt(3), rel_tol=1e-12)


def test_mean_ci_skips_missing_and_needs_two():
    assert mean_ci([float("nan"), 5.0])[:2][0] == 5.0
    assert math.isnan(mean_ci([5.0])[1])
    assert mean_ci([])[2] == 0


def test_t_quantiles():
    assert t975(1) == 12.706 and t975(4) == 2.776 and t975(1000) == 1.96


def test_paired_diff_matches_seeds():
    rows = pd.DataFrame({"run.seed": [1, 2, 3], "acc": [0.9, 0.8, 0.7]})
    base = pd.DataFrame({"run.seed": [3, 1], "acc": [0.5, 0.6]})
    d = paired_diff(rows, base, "acc").sort_index()
    assert list(d.index) == [1, 3] and [round(x, 12) for x in d] == [0.3, 0.2]


def test_cell_formats_percent():
    assert cell([0.5, 0.5], 100) == "50.00 ± 0.00"
    assert cell([0.25], 100, 1) == "25.0"
