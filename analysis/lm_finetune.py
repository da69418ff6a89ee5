"""The lm-finetune table: per arm, mean ± 95 % t-interval over seeds of the start and final test
accuracy and loss, the paired difference of the final accuracy to zero-shot (same seed: the same
test set; the training set is the seed's), queries, and the memory of the arm (peak and its
updates, MB) with its ratio to the first-order LoRA arm's, and the mean wall time of a run; arms
with adapters on other matrices than q, v (ft.lora_targets) as rows of their own, with their
paired difference to the same arm on q, v; then ZOQO's paired difference to fp32 ZO-SignSGD.

    /usr/bin/python3 analysis/lm_finetune.py [--spread ci|sd] RUN_OR_SWEEP_DIR...

Needs /usr/bin/python3 (h5py, pandas).
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from runs import load_runs, run_dirs  # noqa: E402
from stats import cell, mean_ci, paired_diff  # noqa: E402

ORDER = ["zeroshot", "lora", "mezo", "sign", "zoqo8", "zoqo4", "qat8", "qat4"]
DEFAULT_TARGETS = "q,v"  # ft.lora_targets' default


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("dirs", nargs="+", metavar="RUN_DIR")
    parser.add_argument("--spread", choices=["ci", "sd"], default="ci")
    args = parser.parse_args()
    runs = load_runs(run_dirs(args.dirs))
    runs = runs[runs["experiment"] == "lm-finetune"].copy()
    arm = lambda row: row["ft.arm"]
    runs["peak_mb"] = runs.apply(lambda r: r["peak_mb_" + arm(r)], axis=1)
    runs["update_mb"] = runs.apply(lambda r: r["update_mb_" + arm(r)], axis=1)
    # adapters on other matrices than q, v (ft.lora_targets, absent from runs made before it)
    targets = runs["ft.lora_targets"] if "ft.lora_targets" in runs else None
    runs["targets"] = targets.fillna(DEFAULT_TARGETS) if targets is not None else DEFAULT_TARGETS
    others = runs[runs["targets"] != DEFAULT_TARGETS]
    runs = runs[runs["targets"] == DEFAULT_TARGETS]
    zero = runs[runs["ft.arm"] == "zeroshot"]
    lora_update = mean_ci(runs[runs["ft.arm"] == "lora"]["update_mb"])[0]
    head = ["arm", "start acc %", "final acc %", "Δ vs zero-shot (pp)", "final loss", "queries",
            "trainable bytes", "peak MB", "update MB", "update / lora", "wall s", "seeds"]
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))

    def print_row(label, rows, zeroshot):
        delta = "–" if zeroshot else cell(
            paired_diff(rows, zero, "test_acc"), 100, 1, args.spread, signed=True)
        update = mean_ci(rows["update_mb"])[0]
        print("| " + " | ".join([
            label, cell(rows["start_acc"], 100, 1, args.spread),
            cell(rows["test_acc"], 100, 1, args.spread), delta,
            cell(rows["test_loss"], 1, 2, args.spread), "%.0f" % rows["queries"].iloc[0],
            "%.0f" % rows["trainable_bytes"].iloc[0], cell(rows["peak_mb"], 1, 1, args.spread),
            cell(rows["update_mb"], 1, 1, args.spread), "%.2f" % (update / lora_update),
            "%.0f" % rows["wall_seconds"].mean(), str(rows["run.seed"].nunique())]) + " |")

    for name in ORDER:
        rows = runs[runs["ft.arm"] == name]
        if not rows.empty:
            print_row(name, rows, name == "zeroshot")
    for (name, where), rows in others.groupby(["ft.arm", "targets"]):
        print_row("%s on %s" % (name, where), rows, False)
    for (name, where), rows in others.groupby(["ft.arm", "targets"]):
        same = runs[runs["ft.arm"] == name]
        if not same.empty:
            print("\n%s on %s − on %s (paired by seed): final acc %s pp, final loss %s" % (
                name, where, DEFAULT_TARGETS,
                cell(paired_diff(rows, same, "test_acc"), 100, 1, args.spread, signed=True),
                cell(paired_diff(rows, same, "test_loss"), 1, 2, args.spread, signed=True)))
    sign = runs[runs["ft.arm"] == "sign"]
    for name in ("zoqo8", "zoqo4"):
        rows = runs[runs["ft.arm"] == name]
        if rows.empty or sign.empty:
            continue
        print("\n%s − sign (paired by seed): final acc %s pp, final loss %s" % (
            name, cell(paired_diff(rows, sign, "test_acc"), 100, 1, args.spread, signed=True),
            cell(paired_diff(rows, sign, "test_loss"), 1, 2, args.spread, signed=True)))


if __name__ == "__main__":
    main()
