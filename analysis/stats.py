"""Statistics for experiment tables: the mean over seeds with its 95 % confidence interval
(Student t, n - 1 degrees of freedom), and differences paired by run.seed against a baseline.

    from stats import mean_ci, paired_diff, cell
    m, half, n = mean_ci(runs["test_acc"])        # mean ± half is the 95 % CI of the mean
    d = paired_diff(rows, baseline, "test_acc")   # per-seed differences (Series)
    cell(d, scale=100)                            # "1.23 ± 0.45" (percentage points)

No scipy on the machines: the t quantiles are tabulated.
"""
import math

# t_{0.975, df} for df = 1..30; beyond, the normal 1.96 is within 2 %.
_T975 = [12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179,
         2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064,
         2.060, 2.056, 2.052, 2.048, 2.045, 2.042]


def t975(df):
    return _T975[df - 1] if df <= len(_T975) else 1.96


def mean_ci(values):
    """(mean, half-width of the 95 % CI, n) of the non-missing values; half is nan for n < 2."""
    v = [float(x) for x in values if x == x]
    n = len(v)
    if n == 0:
        return math.nan, math.nan, 0
    mean = sum(v) / n
    if n < 2:
        return mean, math.nan, n
    sd = math.sqrt(sum((x - mean) ** 2 for x in v) / (n - 1))
    return mean, t975(n - 1) * sd / math.sqrt(n), n


def paired_diff(rows, baseline, metric, key="run.seed"):
    """metric of rows minus baseline's metric for the same key (seeds the baseline lacks drop)."""
    base = baseline.set_index(key)[metric]
    mine = rows.set_index(key)[metric]
    common = mine.index.intersection(base.index)
    return mine.loc[common] - base.loc[common]


def cell(values, scale=1.0, digits=2):
    """'mean ± half' of the 95 % CI, scaled (e.g. 100 for percent), or '' without values."""
    mean, half, n = mean_ci(values)
    if n == 0:
        return ""
    if n == 1:
        return "%.*f" % (digits, mean * scale)
    return "%.*f ± %.*f" % (digits, mean * scale, digits, half * scale)
