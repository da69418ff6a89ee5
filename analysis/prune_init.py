"""Tables and plots of the prune-init sweeps (analysis/prune_init_sweep.sh): error / test loss /
accuracy against sparsity for every score × selection, and the measured sketch error beside the
Drineas–Kannan–Mahoney value where it applies.

    /usr/bin/python3 analysis/prune_init.py runs/prune-init [PLOT_DIR (analysis/plots/prune-init)]

Prints markdown tables (the ones in experiments/prune-init.md) and writes one PNG per sweep.
Needs Debian's python3-h5py, pandas and matplotlib.
"""
import glob
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from runs import is_complete, load_runs  # noqa: E402

SCORES = ["random", "magnitude", "snip", "grasp", "synflow", "sketch"]
SELECTIONS = ["topk", "sample", "sample-rescale", "replace", "replace-rescale"]
SELECTION_TEXT = {
    "topk": "top-k",
    "sample": "sample w/o repl.",
    "sample-rescale": "sample w/o repl., 1/π",
    "replace": "sample with repl.",
    "replace-rescale": "sample with repl., 1/p",
}


def selection(row):
    if row["prune.select"] == "topk":
        return "topk"
    name = "replace" if row["prune.replace"] else "sample"
    return name + ("-rescale" if row["prune.rescale"] else "")


def load(out_dir, sweep):
    paths = [p for p in glob.glob(os.path.join(out_dir, sweep, "*")) if is_complete(p)]
    if not paths:
        return None
    df = load_runs(paths)
    df["selection"] = df.apply(selection, axis=1)
    df["score"] = df["prune.score"]
    df["sparsity"] = df["prune.sparsity"].astype(float)
    return df


def table(df, value, fmt, selections=SELECTIONS):
    """Markdown: one block of rows per selection, a row per score, a column per sparsity."""
    sparsities = sorted(df["sparsity"].unique())
    head = "| selection | score | " + " | ".join(f"{100 * s:g} %" for s in sparsities) + " |"
    lines = [head, "|" + "---|" * (2 + len(sparsities))]
    means = df.groupby(["selection", "score", "sparsity"])[value].mean()
    for sel in selections:
        for score in SCORES:
            cells = []
            for s in sparsities:
                v = means.get((sel, score, s), np.nan)
                cells.append("" if np.isnan(v) else fmt.format(v))
            lines.append(f"| {SELECTION_TEXT[sel]} | {score} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def plot(df, value, ylabel, title, path, logy=False, bound=None, selections=SELECTIONS):
    fig, axes = plt.subplots(1, len(selections), figsize=(3.6 * len(selections), 3.4),
                             sharey=True, squeeze=False)
    for ax, sel in zip(axes[0], selections):
        part = df[df["selection"] == sel]
        for i, score in enumerate(SCORES):
            s = part[part["score"] == score].groupby("sparsity")[value].mean()
            if len(s):
                ax.plot(1 - s.index, s.values, marker="o", ms=3, label=score, color=f"C{i}")
            if bound is not None and sel == "replace-rescale":
                b = part[part["score"] == score].groupby("sparsity")[bound].mean()
                ax.plot(1 - b.index, b.values, ls="--", color=f"C{i}", lw=1)
        ax.set_xscale("log")
        ax.invert_xaxis()
        if logy:
            ax.set_yscale("log")
        ax.set_title(SELECTION_TEXT[sel] + (" (dashed: DKM)" if bound is not None and
                                            sel == "replace-rescale" else ""), fontsize=9)
        ax.set_xlabel("density (1 − sparsity)")
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel(ylabel)
    axes[0][-1].legend(fontsize=7)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    print(f"\n![{title}]({path})")


def bound_table(df, err_col="sketch_error", bound_col="sketch_bound"):
    """Sampling with replacement and 1/p rescaling: mean measured error (over seeds) against the
    mean DKM value sqrt(E‖·‖²); and how many single runs came out below it."""
    part = df[df["selection"] == "replace-rescale"]
    g = part.groupby(["score", "sparsity"])
    rows = ["| score | sparsity | runs | mean error | mean DKM value | mean ≤ DKM | runs ≤ DKM |",
            "|---|---|---|---|---|---|---|"]
    below_all = True
    for (score, sp), grp in g:
        err, bnd = grp[err_col].mean(), grp[bound_col].mean()
        below = int((grp[err_col] <= grp[bound_col]).sum())
        below_all &= bool(err <= bnd)
        rows.append(f"| {score} | {100 * sp:g} % | {len(grp)} | {err:.4g} | {bnd:.4g} | "
                    f"{'yes' if err <= bnd else 'NO'} | {below}/{len(grp)} |")
    return "\n".join(rows), below_all


def main():
    out_dir = sys.argv[1] if len(sys.argv) > 1 else "runs/prune-init"
    plot_dir = sys.argv[2] if len(sys.argv) > 2 else "analysis/plots/prune-init"
    os.makedirs(plot_dir, exist_ok=True)

    d = load(out_dir, "synth-dense")
    if d is not None:
        print("\n## Synthetic least squares, dense training, init mask applied to w_T\n")
        print("Relative sketch error ‖X(m⊙w_T) − Xw_T‖ / ‖Xw_T‖ (mean over seeds):\n")
        print(table(d, "sketch_rel_error", "{:.3g}"))
        for when, err, bnd in [("after training (w_T)", "sketch_error", "sketch_bound"),
                               ("at initialization (w_0)", "init_sketch_error",
                                "init_sketch_bound")]:
            text, ok = bound_table(d, err, bnd)
            print(f"\nMeasured error against the DKM value {when}, sampling with replacement "
                  "and 1/p:\n")
            print(text)
            print(f"\nMean measured error below the DKM value everywhere: {ok}")
        print("\nTest loss (½ squared error) of m⊙w_T (not for rescaled masks: their losses "
              "overflow the fixed-point evaluation sum):\n")
        print(table(d, "test_loss", "{:.4g}", ["topk", "sample", "replace"]))
        d["rel_bound"] = d["sketch_bound"] / d["sketch_norm"]
        plot(d, "sketch_rel_error", "‖X(m⊙w_T) − Xw_T‖ / ‖Xw_T‖",
             "synthetic least squares: init mask applied to the trained weights",
             os.path.join(plot_dir, "synth_dense_error.png"), logy=True, bound="rel_bound")
    b = load(out_dir, "synth-bound")
    if b is not None:
        print("\n## Synthetic least squares: the DKM value against many masks of one run\n")
        print("run.seed = 1 (one w_0, one w_T); prune.mask_seed = 101..120 (20 masks sampled with "
              "replacement, rescaled by 1/p):\n")
        rows = ["| score | sparsity | masks | mean error | RMS error | DKM value | RMS / DKM | "
                "masks ≤ DKM |", "|---|---|---|---|---|---|---|---|"]
        for (score, sp), grp in b.groupby(["score", "sparsity"]):
            e, bnd = grp["sketch_error"], grp["sketch_bound"].mean()
            rms = float(np.sqrt((e ** 2).mean()))
            rows.append(f"| {score} | {100 * sp:g} % | {len(grp)} | {e.mean():.4g} | {rms:.4g} | "
                        f"{bnd:.4g} | {rms / bnd:.2f} | "
                        f"{int((e <= grp['sketch_bound']).sum())}/{len(grp)} |")
        print("\n".join(rows))
    m = load(out_dir, "synth-masked")
    if m is not None:
        print("\n## Synthetic least squares, masked training\n")
        print("Test loss (½ squared error) after training the masked model:\n")
        print(table(m, "test_loss", "{:.4g}"))
        plot(m, "test_loss", "test loss", "synthetic least squares: masked training",
             os.path.join(plot_dir, "synth_masked_loss.png"), logy=True)
    for sweep, title in [("softmax-dense", "softmax regression, init mask applied to w_T"),
                         ("softmax-masked", "softmax regression, masked training"),
                         ("lenet-global", "LeNet-300-100, masked training, global selection"),
                         ("lenet-layer", "LeNet-300-100, masked training, per-layer selection")]:
        f = load(out_dir, sweep)
        if f is None:
            continue
        sels = [s for s in SELECTIONS if s in set(f["selection"])]
        print(f"\n## Fashion-MNIST: {title}\n")
        print("Test accuracy (%):\n")
        f["acc"] = 100 * f["test_acc"]
        print(table(f, "acc", "{:.1f}", sels))
        if sweep == "softmax-dense":
            print("\nRelative sketch error of the logits ‖X(M⊙W)ᵀ − XWᵀ‖ / ‖XWᵀ‖:\n")
            print(table(f, "sketch_rel_error", "{:.3g}", sels))
            text, ok = bound_table(f)
            print("\nMeasured error against the DKM value (sampling with replacement, 1/p):\n")
            print(text)
            print(f"\nMean measured error below the DKM value everywhere: {ok}")
        plot(f, "acc", "test accuracy (%)", "Fashion-MNIST: " + title,
             os.path.join(plot_dir, sweep.replace("-", "_") + "_acc.png"), selections=sels)


if __name__ == "__main__":
    main()
