"""Tables of gor-train runs: mean ± 95 % t-interval (or ± std) over seeds of the final metrics
per setting.

    /usr/bin/python3 analysis/gor_train.py [--spread ci|sd] RUN_DIR...
        (directories holding results.h5, or parents of such directories)

A setting is (gor.adapt, adv.train, gor.method, gor.grouping, gor.lambda); grouping and λ are
left out where they mean nothing (grouping for so/none, λ for none). Prints one markdown table:
test accuracy, with adversarial training the PGD accuracy, each also as the paired difference
to `none` with the same seed (same initialization and data order, so most of the seed noise
cancels), and the final penalties. --spread ci (the default) gives the half-width of the 95 %
t-interval over run.seed, sd the sample standard deviation (n - 1).
Needs /usr/bin/python3 (h5py, pandas).
"""
import argparse
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


def paired(rows, baseline, metric, spread):
    """metric − baseline's metric for the same run.seed, as a cell (percentage points)."""
    if rows["setting"].iloc[0] == "none":
        return "–"
    return cell(paired_diff(rows, baseline, metric), 100, 1, spread)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("dirs", nargs="+", metavar="RUN_DIR")
    parser.add_argument("--spread", choices=["ci", "sd"], default="ci",
                        help="± the 95 %% t-interval's half-width (ci) or the sample std (sd)")
    args = parser.parse_args()
    runs = load_runs(run_dirs(args.dirs))
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
        cells = [name, cell(rows["test_acc"], 100, 1, args.spread),
                 paired(rows, baseline, "test_acc", args.spread)]
        if adversarial:
            cells += [cell(rows["pgd_acc"], 100, 1, args.spread),
                      paired(rows, baseline, "pgd_acc", args.spread)]
        cells += [cell(rows["penalty"], 1, 3, args.spread),
                  cell(rows["so_penalty"], 1, 3, args.spread),
                  str(rows["run.seed"].nunique())]
        print("| " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
