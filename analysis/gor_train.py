"""Tables of gor-train runs: mean ± std over seeds of the final metrics per setting.

    /usr/bin/python3 analysis/gor_train.py RUN_DIR...     (directories holding results.h5, or
                                                          parents of such directories)

A setting is (gor.adapt, adv.train, gor.method, gor.grouping, gor.lambda); grouping and λ are
left out where they mean nothing (grouping for so/none, λ for none). Prints one markdown table:
test accuracy, with adversarial training the PGD accuracy, each also as the paired difference
to `none` with the same seed (same initialization and data order, so most of the seed noise
cancels), and the final penalties. std is the sample standard deviation (n - 1) over run.seed.
Needs /usr/bin/python3 (h5py, pandas).
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from runs import load_runs, run_dirs  # noqa: E402
from stats import cell, paired_diff  # noqa: E402


def setting(row):
    method = row["gor.method"]
    name = {"none": "none", "so": "SO", "gor": "GOR " + row["gor.grouping"]}[method]
    if method != "none":
        name += ", λ = %g" % float(row["gor.lambda"])
    return name


def spread(values, scale=1.0, digits=1):
    """mean ± sample standard deviation over seeds."""
    return cell(values, scale, digits, spread="sd")


def paired(rows, baseline, metric):
    """metric − baseline's metric for the same run.seed, as a cell (percentage points)."""
    if rows["setting"].iloc[0] == "none":
        return "–"
    return spread(paired_diff(rows, baseline, metric), 100)


def main():
    runs = load_runs(run_dirs(sys.argv[1:]))
    runs = runs[runs["experiment"] == "gor-train"].copy()
    runs["setting"] = runs.apply(setting, axis=1)
    baseline = runs[runs["setting"] == "none"]
    adversarial = "pgd_acc" in runs and runs["pgd_acc"].notna().any()
    head = ["setting", "test acc %", "Δ vs none"]
    head += ["PGD acc %", "Δ vs none"] if adversarial else []
    head += ["penalty (its groups)", "SO penalty", "seeds"]
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    order = {"none": 0, "SO": 1, "GOR inter": 2, "GOR intra": 3}
    keyed = sorted(runs.groupby("setting"),
                   key=lambda kv: (order[kv[0].split(",")[0]], kv[0]))
    for name, rows in keyed:
        cells = [name, spread(rows["test_acc"], 100), paired(rows, baseline, "test_acc")]
        if adversarial:
            cells += [spread(rows["pgd_acc"], 100), paired(rows, baseline, "pgd_acc")]
        cells += [spread(rows["penalty"], 1, 3), spread(rows["so_penalty"], 1, 3),
                  str(rows["run.seed"].nunique())]
        print("| " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
