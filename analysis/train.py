"""Table of train runs: per setting (model, optimizer, learning rate), the final test accuracy and
loss as mean ± 95 % CI over seeds, and the accuracy difference paired by run.seed against the
baseline setting (--baseline KEY=VALUE, default train.optim=sgd).

    /usr/bin/python3 analysis/train.py SWEEP_OR_RUN_DIR... [--baseline train.optim=sgd]

Needs /usr/bin/python3 (h5py, pandas)."""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from runs import load_runs, run_dirs  # noqa: E402
from stats import cell, paired_diff  # noqa: E402

KEYS = ["model.spec", "train.optim", "train.lr"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("dirs", nargs="+")
    parser.add_argument("--baseline", default="train.optim=sgd")
    args = parser.parse_args()
    runs = load_runs(run_dirs(args.dirs))
    runs = runs[runs["experiment"] == "train"].copy()
    key, value = args.baseline.split("=", 1)
    base = runs[runs[key].astype(str) == value]
    print("| model | optimizer | lr | test acc %% (95 %% CI) | Δ acc vs %s (paired, points) | "
          "test loss | seeds |" % args.baseline)
    print("|---|---|---|---|---|---|---|")
    for setting, rows in runs.groupby(KEYS):
        same = base[(base[KEYS] == list(setting)).all(axis=1)]
        delta = "–" if len(same) else cell(paired_diff(rows, base, "test_acc"), 100, signed=True)
        print("| %s | %s | %g | %s | %s | %s | %d |" % (
            setting[0], setting[1], float(setting[2]), cell(rows["test_acc"], 100), delta,
            cell(rows["test_loss"], 1, 4), rows["run.seed"].nunique()))


if __name__ == "__main__":
    main()
