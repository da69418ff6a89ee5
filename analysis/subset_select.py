"""Tables and plot of the subset-select grid (experiments/subset-select.md): test accuracy against
budget for every selector, mean ± std over seeds (--ci: mean ± the 95 % t-interval), for the linear classifier on the features
(test_acc) and the MLP on the pixels (mlp_test_acc); the norm criterion paired by seed against
its base selector; classes covered. Reads every complete cell of the sweep directories given
(sweeps/subset-select.ini planned and run with `ranklab sweep run SWEEP_DIR --all`; a folder of
run directories is read the same way); ProbCover runs with subset.purity other than 0.95 are
labelled with it, e.g. "probcover (purity 0.5)". With --seedless, the linear-classifier rows of
the seed-independent selectors (SEEDLESS: no random draw in their selection nor in the linear
classifier, so every seed gives the same bits) that ran for fewer seeds than the others are
copied to the missing seeds (marked "1 run" in the tables), so they pair with every seed.

    /usr/bin/python3 analysis/subset_select.py [--ci] [--seedless] [--plot PLOT.png] [SWEEP_DIR ...]

Prints markdown tables; writes the plot (default analysis/plots/subset-select/accuracy.png).
SWEEP_DIR defaults to runs/subset-select.
"""
import argparse
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from runs import is_complete, read_rows, read_run, run_dirs  # noqa: E402
from stats import cell, mean_ci  # noqa: E402

SELECTORS = ["random", "norm", "norm-gs", "norm-gs-sampled", "kcenter", "kcenter-norm",
             "typiclust", "typiclust-norm", "probcover", "probcover-norm"]
PAIRS = [("norm", "random"), ("norm-gs", "random"), ("norm-gs-sampled", "random"),
         ("norm-gs-sampled", "norm-gs"),
         ("kcenter-norm", "kcenter"), ("typiclust-norm", "typiclust"),
         ("probcover-norm", "probcover")]
CLASSIFIERS = [("test_acc", "linear on features"), ("mlp_test_acc", "MLP on pixels")]
SPREAD = {"sd": "std", "ci": "95 % t-interval"}
SEEDLESS = ["norm-gs", "kcenter-norm"]
COPIED = set()  # selectors whose rows were copied to other seeds (--seedless)


def label(run):
    sel = run["subset.selector"]
    if sel.startswith("probcover") and float(run["subset.purity"]) != 0.95:
        sel += f" (purity {float(run['subset.purity']):g})"
    return sel


def copy_seedless(df):
    """Copy each SEEDLESS selector's rows of its first seed to the seeds it lacks (linear
    classifier only: the MLP's initialization depends on the seed)."""
    seeds = sorted(df["seed"].unique())
    extra = []
    for sel in SEEDLESS:
        mine = df[df["selector"] == sel]
        if mine.empty:
            continue
        first = mine[mine["seed"] == mine["seed"].min()]
        for seed in seeds:
            if seed not in set(mine["seed"]):
                copy = first.copy()
                copy["seed"] = seed
                copy["mlp_test_acc"] = float("nan")
                extra.append(copy)
                COPIED.add(sel)
    return pd.concat([df] + extra, ignore_index=True) if extra else df


def load(sweeps):
    rows = []
    for path in run_dirs(sweeps):
        if not is_complete(path):
            continue
        run = read_run(path)
        wide = read_rows(path)
        wide["selector"] = label(run)
        wide["seed"] = int(run["run.seed"])
        rows.append(wide)
    if not rows:
        sys.exit(f"subset_select.py: no complete subset-select run under {' '.join(sweeps)}\n"
                 "HINT: give the sweep directories (`ranklab sweep status DIR` shows what ran)")
    df = pd.concat(rows, ignore_index=True)
    for sel in sorted(df["selector"].unique()):
        if sel not in SELECTORS:
            SELECTORS.append(sel)
            if sel.startswith("probcover-norm"):
                PAIRS.append((sel, sel.replace("probcover-norm", "probcover")))
    return df


def table(df, metric, spread):
    budgets = sorted(df["budget"].unique().astype(int))
    print("| selector (seeds) | " + " | ".join(f"B={b}" for b in budgets) + " |")
    print("|---" * (len(budgets) + 1) + "|")
    for sel in SELECTORS:
        part = df[df["selector"] == sel]
        if part.empty or part[metric].isna().all():
            continue
        cells = []
        for b in budgets:
            values = part[part["budget"] == b][metric]
            cells.append(cell(values[:1] if sel in COPIED else values, 100, 1, spread=spread))
        runs = "1 run" if sel in COPIED else part["seed"].nunique()
        print(f"| {sel} ({runs}) | " + " | ".join(cells) + " |")
    print()


def paired(df, metric, spread):
    budgets = sorted(df["budget"].unique().astype(int))
    print(f"Norm criterion minus its base, paired by seed ({metric}; mean ± {SPREAD[spread]} of "
          "the difference in points, [seeds better / seeds]):\n")
    print("| pair | " + " | ".join(f"B={b}" for b in budgets) + " |")
    print("|---" * (len(budgets) + 1) + "|")
    for a, b0 in PAIRS:
        x = df[df["selector"] == a].set_index(["seed", "budget"])[metric]
        y = df[df["selector"] == b0].set_index(["seed", "budget"])[metric]
        d = (100 * (x - y)).dropna()
        if d.empty:
            continue
        cells = []
        for b in budgets:
            v = d.xs(b, level="budget") if b in d.index.get_level_values("budget") else []
            cells.append(cell(v, 1, 1, spread=spread, signed=True) + f" [{(v > 0).sum()}/{len(v)}]"
                         if len(v) > 0 else "")
        print(f"| {a} − {b0} | " + " | ".join(cells) + " |")
    print()


def covered(df):
    budgets = sorted(df["budget"].unique().astype(int))[:3]
    print("Classes covered (mean over seeds), B = " + ", ".join(map(str, budgets)) + ": " +
          "; ".join(f"{sel} " + ", ".join(
              f"{df[(df['selector'] == sel) & (df['budget'] == b)]['classes_covered'].mean():.1f}"
              for b in budgets) for sel in SELECTORS if (df["selector"] == sel).any()))
    print()


def color(sel):
    """One hue per base selector (its norm variant dashed in the same hue)."""
    family = sel.replace("-norm", "").replace("norm-gs", "gs")
    hues = {"random": 0, "norm": 0, "gs": 7, "gs-sampled": 8, "kcenter": 1, "typiclust": 2,
            "probcover": 3}
    base = family.split(" ")[0]
    return plt.cm.tab10(4 if base == "probcover" and "purity" in sel else hues.get(base, 5))


def plot(df, path, spread):
    metrics = [(m, t) for m, t in CLASSIFIERS if df[m].notna().any()]
    fig, axes = plt.subplots(1, len(metrics), figsize=(6.5 * len(metrics), 4.8), squeeze=False)
    for ax, (metric, title) in zip(axes[0], metrics):
        for sel in SELECTORS:
            part = df[df["selector"] == sel].groupby("budget")[metric]
            if part.count().sum() == 0:
                continue
            mean = 100 * part.mean()
            if spread == "ci":
                bar = 100 * part.apply(lambda v: mean_ci(v)[1]).fillna(0)
            else:
                bar = 100 * part.std(ddof=1).fillna(0)
            style = "--" if "norm" in sel else "-"
            ax.errorbar(mean.index, mean.values, yerr=bar.values, label=sel, ls=style,
                        marker="o", ms=3, capsize=2, color=color(sel))
        ax.set_xscale("log")
        ax.set_xlabel("budget B (labelled examples)")
        ax.set_ylabel(f"test accuracy (%), mean ± {SPREAD[spread]} over seeds")
        ax.set_title(f"Fashion-MNIST, {title}")
        ax.grid(alpha=0.3)
    axes[0][-1].legend(fontsize=8)
    fig.tight_layout()
    os.makedirs(os.path.dirname(path), exist_ok=True)
    fig.savefig(path, dpi=120)
    print(f"plot: {path}")


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("dirs", nargs="*", metavar="SWEEP_DIR", default=["runs/subset-select"],
                        help="sweep directories or folders of runs (default runs/subset-select)")
    parser.add_argument("--ci", action="store_true",
                        help="± the 95 %% t-interval's half-width instead of the sample std")
    parser.add_argument("--seedless", action="store_true",
                        help="copy the seed-independent selectors' single run to every seed")
    parser.add_argument("--plot", default="analysis/plots/subset-select/accuracy.png",
                        metavar="PLOT.png", help="where to write the plot (%(default)s)")
    args = parser.parse_args()
    out, spread, seedless = args.plot, "ci" if args.ci else "sd", args.seedless
    df = load(args.dirs)
    if seedless:
        df = copy_seedless(df)
    for metric, title in CLASSIFIERS:
        if df[metric].notna().any():
            print(f"### {title} ({metric}), test accuracy %, mean ± {SPREAD[spread]} over seeds\n")
            table(df, metric, spread)
            paired(df, metric, spread)
    covered(df)
    plot(df, out, spread)


if __name__ == "__main__":
    main()
