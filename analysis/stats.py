"""Statistics for experiment tables, the one place they are computed: the mean over seeds with its
95 % confidence interval (Student t with n - 1 degrees of freedom, or a percentile bootstrap over
the seeds with a fixed RNG seed, so a report is the same every time it is made), the sample
standard deviation where a table shows the spread instead, and differences paired by run.seed
against a baseline setting.

    from stats import mean_ci, interval, paired_diff, cell
    m, half, n = mean_ci(runs["test_acc"])          # mean ± half is the 95 % t-interval
    iv = interval(values, "bootstrap")              # Interval(mean, low, high, n)
    d = paired_diff(rows, baseline, "test_acc")     # per-seed differences (Series)
    cell(d, scale=100)                              # "1.23 ± 0.45" (percentage points)
    summarize(obs, ["train.optim"], "test_acc")     # a row per setting: mean, low, high, n
    interval_text(iv, "bootstrap", 100, 1)          # "88.2 [87.9, 88.6]"
    paired_summary(obs, keys, "test_acc", {"train.optim": "sgd"}, ["run.seed"])

No scipy on the machines: the t quantiles are tabulated up to 30 degrees of freedom and come from
a Cornish-Fisher expansion beyond (relative error below 1e-6 there).
"""
import math
from collections import namedtuple

import numpy as np
import pandas as pd

# t_{0.975, df} for df = 1..30.
_T975 = [12.706205, 4.302653, 3.182446, 2.776445, 2.570582, 2.446912, 2.364624, 2.306004,
         2.262157, 2.228139, 2.200985, 2.178813, 2.160369, 2.144787, 2.131450, 2.119905,
         2.109816, 2.100922, 2.093024, 2.085963, 2.079614, 2.073873, 2.068658, 2.063899,
         2.059539, 2.055529, 2.051831, 2.048407, 2.045230, 2.042272]
_Z975 = 1.959963984540054
BOOTSTRAP_RESAMPLES = 10000
BOOTSTRAP_SEED = 0

Interval = namedtuple("Interval", "mean low high n")
Interval.__doc__ = "A mean over n values and its 95 % interval [low, high] (nan for n < 2)."


def t975(df):
    """The 0.975 quantile of Student's t with df degrees of freedom."""
    if df <= len(_T975):
        return _T975[df - 1]
    z = _Z975
    return (z + (z ** 3 + z) / (4 * df) + (5 * z ** 5 + 16 * z ** 3 + 3 * z) / (96 * df ** 2)
            + (3 * z ** 7 + 19 * z ** 5 + 17 * z ** 3 - 15 * z) / (384 * df ** 3))


def _present(values):
    return np.array([float(x) for x in values if x == x], dtype=float)


def mean_ci(values):
    """(mean, half-width of the 95 % t-interval, n) of the non-missing values; half is nan for
    n < 2."""
    v = _present(values)
    n = len(v)
    if n == 0:
        return math.nan, math.nan, 0
    if n < 2:
        return v[0], math.nan, n
    return v.mean(), t975(n - 1) * v.std(ddof=1) / math.sqrt(n), n


def bootstrap_ci(values, resamples=BOOTSTRAP_RESAMPLES, seed=BOOTSTRAP_SEED):
    """Interval of the mean of the non-missing values from the 2.5 and 97.5 percentiles of the
    means of `resamples` resamples with replacement, drawn by numpy's PCG64 seeded with `seed`
    (so the same values give the same interval)."""
    v = _present(values)
    n = len(v)
    if n < 2:
        return Interval(v[0] if n else math.nan, math.nan, math.nan, n)
    draws = np.random.default_rng(seed).integers(0, n, size=(resamples, n))
    low, high = np.percentile(v[draws].mean(axis=1), [2.5, 97.5])
    return Interval(v.mean(), low, high, n)


def interval(values, method="t", resamples=BOOTSTRAP_RESAMPLES):
    """The mean and its 95 % interval: method "t" (Student t) or "bootstrap" (percentile)."""
    if method == "bootstrap":
        return bootstrap_ci(values, resamples)
    mean, half, n = mean_ci(values)
    return Interval(mean, mean - half, mean + half, n)


def describe_interval(method="t", resamples=BOOTSTRAP_RESAMPLES, over="seeds"):
    """What an interval of `interval(values, method)` is, for a caption."""
    if method == "bootstrap":
        return (f"95 % percentile bootstrap interval of the mean over the n {over} "
                f"({resamples} resamples of the {over} with replacement, RNG seed "
                f"{BOOTSTRAP_SEED})")
    return f"95 % t-interval of the mean over the n {over} (Student t, n − 1 degrees of freedom)"


def mean_sd(values):
    """(mean, sample standard deviation (n - 1), n) of the non-missing values."""
    v = _present(values)
    n = len(v)
    if n == 0:
        return math.nan, math.nan, 0
    return v.mean(), v.std(ddof=1) if n > 1 else math.nan, n


def mean_se(values):
    """(mean, standard error of the mean) of the non-missing values."""
    v = _present(values)
    return v.mean(), v.std(ddof=1) / math.sqrt(len(v))


def paired_diff(rows, baseline, metric, key="run.seed"):
    """metric of rows minus baseline's metric for the same key (a column or a list of columns;
    keys the baseline lacks drop)."""
    base = baseline.set_index(key)[metric]
    mine = rows.set_index(key)[metric]
    common = mine.index.intersection(base.index)
    return mine.loc[common] - base.loc[common]


def interval_text(iv, method="t", scale=1.0, digits=2, signed=False):
    """An Interval (stats.interval) as 'mean ± half' (t) or 'mean [low, high]' (bootstrap),
    scaled; the mean alone for one value, '' for none; signed puts + on positive means."""
    if iv.n == 0 or math.isnan(iv.mean):
        return ""
    fmt = "%+.*f" if signed else "%.*f"
    text = fmt % (digits, iv.mean * scale)
    if iv.n < 2 or math.isnan(iv.low):
        return text
    if method == "bootstrap":
        return text + " [%s, %s]" % (fmt % (digits, iv.low * scale),
                                     fmt % (digits, iv.high * scale))
    return text + " ± %.*f" % (digits, (iv.high - iv.low) / 2 * scale)


def cell(values, scale=1.0, digits=2, spread="ci", signed=False):
    """'mean ± half' of the 95 % t-interval (spread "ci") or 'mean ± sample std' (spread "sd"),
    scaled (e.g. 100 for percent); the mean alone for one value, '' for none; signed puts + on
    positive means."""
    mean, half, n = (mean_ci if spread == "ci" else mean_sd)(values)
    return interval_text(Interval(mean, mean - half, mean + half, n), "t", scale, digits, signed)


def groups(df, keys):
    """(values of keys as a tuple, rows) per combination present; all rows if keys is empty."""
    if not keys:
        return [((), df)]
    by = keys if len(keys) > 1 else keys[0]
    return [(k if isinstance(k, tuple) else (k,), g)
            for k, g in df.groupby(by, sort=True, dropna=False, observed=True)]


def summarize(obs, keys, metric, method="t", resamples=BOOTSTRAP_RESAMPLES):
    """One row per combination of keys in obs: the keys, mean, low, high and n of metric."""
    rows = [dict(zip(keys, k), **interval(g[metric], method, resamples)._asdict())
            for k, g in groups(obs, keys)]
    return pd.DataFrame(rows, columns=list(keys) + list(Interval._fields))


def matches(column, text):
    """Which entries of a config column equal a value given as text (numbers compared as
    numbers, true/false as booleans)."""
    if column.dtype == bool or column.dtype.kind in "iuf":
        value = {"true": 1.0, "false": 0.0}.get(text.lower(), None)
        try:
            value = float(text) if value is None else value
        except ValueError:
            return pd.Series(False, index=column.index)
        return np.isclose(column.astype(float), value, rtol=1e-9, atol=0)
    return column.astype(str) == text


def baseline_rows(obs, baseline):
    """The rows of the baseline setting: those matching every KEY: VALUE text of baseline."""
    mask = pd.Series(True, index=obs.index)
    for key, text in baseline.items():
        mask &= matches(obs[key], text)
    return obs[mask]


def paired_summary(obs, keys, metric, baseline, pair_on, method="t",
                   resamples=BOOTSTRAP_RESAMPLES):
    """Per combination of keys: metric minus the baseline's for the same pair_on values (seeds),
    mean, low, high and n (pairs) of those differences. A combination is compared with the
    baseline rows that share its values of the keys on which the baseline rows differ (for a
    grid: the same budget, noise rate, ...); the baseline's own rows are left out."""
    base = baseline_rows(obs, baseline)
    along = [k for k in keys if k not in baseline and base[k].nunique(dropna=False) > 1]
    own = set(base.index)
    rows = []
    for k, g in groups(obs, keys):
        if own.issuperset(g.index):
            continue
        values = dict(zip(keys, k))
        mine = base
        for key in along:
            mine = mine[mine[key] == values[key]]
        for part, name in ((mine, f"the baseline {baseline}"), (g, "the setting")):
            if part.duplicated(pair_on).any():
                raise ValueError(f"{name} has two runs with the same {', '.join(pair_on)} "
                                 f"at {values}")
        diff = paired_diff(g, mine, metric, pair_on)
        rows.append(dict(values, **interval(diff, method, resamples)._asdict()))
    return pd.DataFrame(rows, columns=list(keys) + list(Interval._fields))
