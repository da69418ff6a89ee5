"""Tables and plots of the prune-init sweeps (sweeps/prune-init-NAME.ini, each planned into
OUT_DIR/NAME and run with `ranklab sweep run OUT_DIR/NAME --all`): error / test loss / accuracy
against sparsity for every score × selection, and the measured sketch error beside the
Drineas–Kannan–Mahoney value where it applies.

    /usr/bin/python3 analysis/prune_init.py runs/prune-init [PLOT_DIR (analysis/plots/prune-init)]

Prints markdown tables (the ones in experiments/prune-init.md) and writes one PNG per table, plus
the convergence of the mean and RMS sketch error over masks towards the DKM value for the cells
of `synth-bound` with many masks (bound_convergence.png). Cells with several seeds show
mean ± sample standard deviation over seeds (LeNet, as first reported) or mean ± the half-width of
the 95 % t-interval over seeds with differences paired by seed (the regime sweeps `synth-gd`,
`synth-lazy` and the CNN sweep `cnn`). Sweeps not run (yet) are left out; cells not complete are
not read.
Needs Debian's python3-h5py, pandas and matplotlib.
"""
import argparse
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from runs import is_complete, load_runs, read_arrays, run_dirs  # noqa: E402
from stats import cell, mean_ci, mean_sd, mean_se, paired_summary  # noqa: E402

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


def load(out_dir, sweeps, where=None):
    """The complete cells of the sweep directories OUT_DIR/NAME for NAME in sweeps whose config
    has the values in where (e.g. {"prune.train": "dense"}); None if there are none."""
    paths = [p for p in run_dirs([os.path.join(out_dir, s) for s in sweeps]) if is_complete(p)]
    if not paths:
        return None
    df = load_runs(paths)
    for key, value in (where or {}).items():
        df = df[df[key] == value]
    if df.empty:
        return None
    df = df.copy()
    df["selection"] = df.apply(selection, axis=1)
    df["score"] = df["prune.score"]
    df["sparsity"] = df["prune.sparsity"].astype(float)
    return df


def table(df, value, fmt, selections=SELECTIONS, spread=None, column="sparsity",
          column_text=lambda s: f"{100 * s:g} %"):
    """Markdown: one block of rows per selection, a row per score, a column per value of
    `column` (sparsity); spread "sd": mean ± sample standard deviation over the runs of a cell
    (seeds), "ci": mean ± half-width of the 95 % t-interval over them."""
    columns = sorted(df[column].unique())
    head = "| selection | score | " + " | ".join(column_text(c) for c in columns) + " |"
    lines = [head, "|" + "---|" * (2 + len(columns))]
    runs = dict(list(df.groupby(["selection", "score", column])[value]))
    for sel in selections:
        for score in SCORES:
            cells = []
            for c in columns:
                v, sd, _ = (mean_ci if spread == "ci" else mean_sd)(runs.get((sel, score, c), []))
                text = "" if np.isnan(v) else fmt.format(v)
                if spread and not np.isnan(sd):
                    text += " ± " + fmt.format(sd)
                cells.append(text)
            if any(cells):
                lines.append(f"| {SELECTION_TEXT[sel]} | {score} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def paired_table(df, value, baseline, digits=2, scale=1.0, column="sparsity",
                 column_text=lambda s: f"{100 * s:g} %"):
    """Markdown: value minus the baseline setting's value for the same run.seed (and the same
    values of the other keys: selection, score, column), mean ± half-width of the 95 %
    t-interval of the paired differences; a row per selection x score that is not the
    baseline."""
    keys = ["selection", "score", column]
    d = paired_summary(df, keys, value, baseline, ["run.seed"])
    columns = sorted(df[column].unique())
    head = "| selection | score | " + " | ".join(column_text(c) for c in columns) + " |"
    lines = [head, "|" + "---|" * (2 + len(columns))]
    for sel, score in [(sel, score) for sel in SELECTIONS for score in SCORES]:
        g = d[(d["selection"] == sel) & (d["score"] == score)]
        if g.empty:
            continue
        texts = []
        for c in columns:
            r = g[g[column] == c]
            if r.empty or r["n"].iloc[0] == 0:
                texts.append("")
                continue
            r = r.iloc[0]
            half = (r["high"] - r["low"]) / 2 * scale
            texts.append(f"{r['mean'] * scale:+.{digits}f}" +
                         ("" if np.isnan(half) else f" ± {half:.{digits}f}"))
        lines.append(f"| {SELECTION_TEXT[sel]} | {score} | " + " | ".join(texts) + " |")
    return "\n".join(lines)


def plot(df, value, ylabel, title, path, logy=False, bound=None, selections=SELECTIONS,
         spread=None):
    """One panel per selection, a line per score against density; spread "sd": a band of
    ± one sample standard deviation over the runs (seeds) of each point, "ci": the 95 %
    t-interval of their mean."""
    fig, axes = plt.subplots(1, len(selections), figsize=(3.6 * len(selections), 3.4),
                             sharey=True, squeeze=False)
    for ax, sel in zip(axes[0], selections):
        part = df[df["selection"] == sel]
        for i, score in enumerate(SCORES):
            g = part[part["score"] == score].groupby("sparsity")[value]
            s = g.mean()
            if len(s):
                ax.plot(1 - s.index, s.values, marker="o", ms=3, label=score, color=f"C{i}")
            if len(s) and spread:
                sd = g.apply(lambda v: (mean_ci if spread == "ci" else mean_sd)(v)[1]).fillna(0)
                ax.fill_between(1 - s.index, s - sd, s + sd, color=f"C{i}", alpha=0.12, lw=0)
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
    mean DKM value sqrt(E‖·‖²); and how many single runs came out below it. An infinite DKM value
    (some weight on a non-zero column has p = 0) is a bound that does not apply: marked so and
    left out of the overall verdict (the count of cells where the mean is below it)."""
    part = df[df["selection"] == "replace-rescale"]
    g = part.groupby(["score", "sparsity"])
    rows = ["| score | sparsity | runs | mean error | mean DKM value | mean ≤ DKM | runs ≤ DKM |",
            "|---|---|---|---|---|---|---|"]
    below, finite = 0, 0
    for (score, sp), grp in g:
        err, bnd = grp[err_col].mean(), grp[bound_col].mean()
        if not np.isfinite(bnd):
            rows.append(f"| {score} | {100 * sp:g} % | {len(grp)} | {err:.4g} | ∞ | "
                        "does not apply (p = 0) | |")
            continue
        finite += 1
        below += bool(err <= bnd)
        runs_below = int((grp[err_col] <= grp[bound_col]).sum())
        rows.append(f"| {score} | {100 * sp:g} % | {len(grp)} | {err:.4g} | {bnd:.4g} | "
                    f"{'yes' if err <= bnd else 'NO'} | {runs_below}/{len(grp)} |")
    return "\n".join(rows), f"{below} of {finite} cells"


def bound_terms(b):
    """The pieces of the DKM formula for the synth-bound runs (one run.seed, dense training):
    |w_0| (the magnitude score), ‖X_k‖ (sketch score / magnitude score) and w_T, recovered as
    params / mask over the runs that kept weight k (the mask stores the 1/(s p) factor); None
    if a piece is missing (a score not run, or a weight kept by no mask)."""
    cells = {score: g["path"].iloc[0] for score, g in b.groupby("score")}
    if "magnitude" not in cells or "sketch" not in cells:
        return None
    (w0,) = read_arrays(cells["magnitude"], ["scores"])
    (sk,) = read_arrays(cells["sketch"], ["scores"])
    w_t = np.full(len(w0), np.nan)
    for path in b["path"]:
        mask, params = read_arrays(path, ["mask", "params"])
        kept = mask > 0
        w_t[kept] = params[kept] / mask[kept]
    spec = b["model.spec"].iloc[0]  # mlp:D-1: D weights, then the bias
    if not (spec.startswith("mlp:") and spec.endswith("-1") and spec.count("-") == 1):
        return None
    n = int(spec[4:-2])
    if np.isnan(w_t[:n]).any():
        return None
    return w0[:n], sk[:n] / w0[:n], w_t[:n]


def seen_share(w, xnorm, score, draws, masks):
    """The expected fraction of E‖e‖² that `masks` masks of `draws` draws each typically see.
    One draw of weight k (probability p_k) adds z = X_k w_k / p_k, and E‖e‖² is (E‖z‖² −
    ‖Xw‖²)/s with E‖z‖² = Σ_k ‖X_k‖² w_k² / p_k: the part of that sum from the largest ‖z‖²
    whose total probability is below 1/(masks·draws) is typically absent from the masks drawn
    (and rarely, when present, far too large): a heavy tail makes the mean of ‖e‖² over masks
    fall short of DKM² by about that part."""
    p = score / score.sum()
    c = xnorm ** 2 * w ** 2 / p  # contribution of k to E‖z‖²; ‖z‖² = c_k / p_k
    order = np.argsort(-c / p)
    rare = order[np.cumsum(p[order]) < 1 / (masks * draws)]
    return 1 - c[rare].sum() / c.sum()


def bound_masks_table(b, terms):
    """synth-bound cells: ‖e‖ / DKM per mask after training (w_T) and at initialization (w_0):
    mean (± SE), RMS, mean of the square (± SE; the identity says 1; beside it the part of DKM²
    that this many masks typically see, see seen_share), masks at or below DKM."""
    typ = "" if terms is None else " (typical)"
    rows = [f"| score | sparsity | masks | DKM (w_T) | w_T: mean r | w_T: RMS r | "
            f"w_T: mean r²{typ} | w_T: masks r ≤ 1 | w_0: mean r | w_0: RMS r | "
            f"w_0: mean r²{typ} |",
            "|---|---|---|---|---|---|---|---|---|---|---|"]
    for (score, sp), g in b.groupby(["score", "sparsity"]):
        cells = []
        for err, bnd in [("sketch_error", "sketch_bound"), ("init_sketch_error",
                                                           "init_sketch_bound")]:
            r = (g[err] / g[bnd]).to_numpy()
            (m, m_se), (q, q_se) = mean_se(r), mean_se(r ** 2)
            typical = ""
            if terms is not None and score != "random":  # random: p changes with the mask
                w0, xnorm, w_t = terms
                n = len(w0)
                (scores,) = read_arrays(g["path"].iloc[0], ["scores"])
                share = seen_share(w_t if err == "sketch_error" else w0, xnorm, scores[:n],
                                   g["draws"].iloc[0], len(g))
                typical = f" ({share:.2f})"
            cells += [f"{m:.2f} ± {m_se:.2f}", f"{np.sqrt(q):.2f}",
                      f"{q:.2f} ± {q_se:.2f}{typical}"]
            if err == "sketch_error":
                cells.append(f"{int((r <= 1).sum())}/{len(r)}")
        rows.append(f"| {score} | {100 * sp:g} % | {len(g)} | {g['sketch_bound'].mean():.4g} | "
                    + " | ".join(cells) + " |")
    return "\n".join(rows)


def bound_convergence(b, path, min_masks=200):
    """Cells of synth-bound with at least min_masks masks and one DKM value (scores that do not
    change with the mask seed): the running mean and RMS of the sketch error over the first n
    masks (in mask_seed order) against the DKM value, as a table at a few n and a plot; the share
    of masks above t × DKM against Markov's 1/t²."""
    b = b.assign(mask_seed=b["prune.mask_seed"].astype(int))
    cells = [(k, g.sort_values("mask_seed")) for k, g in b.groupby(["score", "sparsity"])
             if len(g) >= min_masks and np.ptp(g["sketch_bound"]) == 0]
    if not cells:
        return
    rows = ["| score | sparsity | masks n | mean error | RMS error | DKM value | "
            "mean / DKM (± SE) | RMS / DKM | mean sq. error / DKM² (± SE) | masks ≤ DKM |",
            "|---|---|---|---|---|---|---|---|---|---|"]
    tails = ["| score | sparsity | masks | > 1.5 DKM | > 2 DKM | > 3 DKM | > 5 DKM |",
             "|---|---|---|---|---|---|---|"]
    fig, axes = plt.subplots(1, len(cells), figsize=(4.6 * len(cells), 3.6), squeeze=False)
    for ax, ((score, sp), g) in zip(axes[0], cells):
        e = g["sketch_error"].to_numpy()
        dkm = g["sketch_bound"].iloc[0]
        n = np.arange(1, len(e) + 1)
        run_mean = np.cumsum(e) / n
        run_rms = np.sqrt(np.cumsum(e ** 2) / n)
        for k in [x for x in (20, 50, 100, 200, 300, 500, 1000) if x < len(e)] + [len(e)]:
            (m, m_se), (q, q_se) = mean_se(e[:k] / dkm), mean_se((e[:k] / dkm) ** 2)
            rows.append(f"| {score} | {100 * sp:g} % | {k} | {run_mean[k - 1]:.4g} | "
                        f"{run_rms[k - 1]:.4g} | {dkm:.4g} | {m:.2f} ± {m_se:.2f} | "
                        f"{run_rms[k - 1] / dkm:.2f} | {q:.2f} ± {q_se:.2f} | "
                        f"{int((e[:k] <= dkm).sum())}/{k} |")
        tails.append(f"| {score} | {100 * sp:g} % | {len(e)} | " + " | ".join(
            f"{100 * np.mean(e > t * dkm):.1f} % (≤ {100 / t ** 2:.0f} %)" for t in (1.5, 2, 3, 5))
            + " |")
        ax.plot(n, run_rms / dkm, label="RMS error (running)", color="C0")
        ax.plot(n, run_mean / dkm, label="mean error (running)", color="C1")
        ax.axhline(1, color="k", ls="--", lw=1, label="DKM value")
        ax.scatter(n, e / dkm, s=4, color="C7", alpha=0.4, label="single masks")
        ax.set_yscale("log")
        ax.set_xscale("log")
        ax.set_xlabel("number of masks n")
        ax.set_title(f"{score}, {100 * sp:g} % sparsity (DKM {dkm:.4g})", fontsize=9)
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("sketch error / DKM value")
    axes[0][-1].legend(fontsize=7)
    fig.suptitle("synthetic least squares, w_T of run.seed 1: sketch error over masks "
                 "(sampling with replacement, 1/p)", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    print("\nRunning mean and RMS over the first n masks (mask_seed 101, 102, ...):\n")
    print("\n".join(rows))
    print("\nShare of masks whose error exceeds t × DKM (in brackets Markov's bound "
          "P(‖e‖² > t² E‖e‖²) ≤ 1/t², which the DKM identity gives for a single mask):\n")
    print("\n".join(tails))
    print(f"\n![sketch error over masks against the DKM value]({path})")


def paper_regime(out_dir, plot_dir):
    """synth-gd and synth-lazy: the linear model in the paper's regime (d > n, plain GD)."""
    g = load(out_dir, ["synth-gd"])
    if g is not None:
        g["transfer"] = g["sketch_error"] / g["init_sketch_error"]
        print("\n## Synthetic least squares in the paper's regime (d > n, gradient descent)\n")
        print("The defaults (`synth-gd`): d = 1000 features, n = 100 training examples, plain "
              "full-batch gradient descent from w_0; dense training, the init mask applied to "
              f"w_T. ‖w_T − w_0‖ / ‖w_0‖ = {g['weight_change'].mean():.3g} (mean over the "
              f"{len(g)} runs; training moves every run the same way, the mask does not enter "
              "it). Relative sketch error ‖X(m⊙w_T) − Xw_T‖ / ‖Xw_T‖, mean ± half-width of the "
              "95 % t-interval over seeds 1-3:\n")
        print(table(g, "sketch_rel_error", "{:.3g}", spread="ci"))
        print("\nThe same, minus the `random` score's, paired by seed (negative: the score's "
              "init mask sketches w_T better than a random mask of the same selection and "
              "density):\n")
        print(paired_table(g, "sketch_rel_error", {"score": "random"}, digits=3))
        text, ok = bound_table(g)
        print("\nMeasured error against the DKM value after training (w_T), sampling with "
              "replacement and 1/p:\n")
        print(text)
        print(f"\nMean measured error at or below a finite DKM value in {ok}.")
        g["rel_bound"] = g["sketch_bound"] / g["sketch_norm"]
        plot(g, "sketch_rel_error", "‖X(m⊙w_T) − Xw_T‖ / ‖Xw_T‖",
             "synthetic least squares, d > n, gradient descent: init mask applied to w_T "
             "(band: 95 % CI over seeds)", os.path.join(plot_dir, "synth_gd_error.png"),
             logy=True, bound="rel_bound", spread="ci")
    z = load(out_dir, ["synth-lazy"])
    if z is None:
        return
    z["scale"] = z["model.init_scale"].astype(float)
    z["transfer"] = z["sketch_error"] / z["init_sketch_error"]
    change = z.groupby("scale")["weight_change"].mean()
    text = lambda c: f"×{c:g} ({change[c]:.2g})"  # noqa: E731
    print("\n## From far to lazy: the initialization's scale (`synth-lazy`)\n")
    print("The defaults with w_0 scaled by model.init_scale (column: scale, and in brackets "
          "‖w_T − w_0‖ / ‖w_0‖); sampling with replacement and 1/p (the bound's estimator). "
          "Relative sketch error of w_T, mean ± half-width of the 95 % t-interval over seeds "
          "1-3:\n")
    for sp in sorted(z["sparsity"].unique()):
        part = z[z["sparsity"] == sp]
        print(f"\nSparsity {100 * sp:g} %:\n")
        print(table(part, "sketch_rel_error", "{:.3g}", ["replace-rescale"], spread="ci",
                    column="scale", column_text=text))
        print(f"\nSparsity {100 * sp:g} %, error after training over the error of the same "
              "mask at initialization, ‖X(m⊙w_T) − Xw_T‖ / ‖X(m⊙w_0) − Xw_0‖:\n")
        print(table(part, "transfer", "{:.3g}", ["replace-rescale"], spread="ci",
                    column="scale", column_text=text))
        print(f"\nSparsity {100 * sp:g} %, relative error minus the `random` score's, paired "
              "by seed:\n")
        print(paired_table(part, "sketch_rel_error", {"score": "random"}, digits=3,
                           column="scale", column_text=text))
    fig, axes = plt.subplots(1, 2, figsize=(8, 3.4), squeeze=False)
    for ax, (col, label) in zip(axes[0], [("sketch_rel_error", "‖X(m⊙w_T) − Xw_T‖ / ‖Xw_T‖"),
                                         ("transfer", "error at w_T / error at w_0")]):
        for i, score in enumerate(["random", "magnitude", "sketch"]):
            for sp, ls in zip(sorted(z["sparsity"].unique()), ["-", "--"]):
                part = z[(z["score"] == score) & (z["sparsity"] == sp)]
                m = part.groupby("scale")[[col, "weight_change"]].mean()
                ax.plot(m["weight_change"], m[col], marker="o", ms=3, ls=ls, color=f"C{i}",
                        label=f"{score}, {100 * sp:g} %")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("‖w_T − w_0‖ / ‖w_0‖")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
    axes[0][0].legend(fontsize=7)
    fig.suptitle("d > n, gradient descent: the init mask on w_T as training moves less "
                 "(mean over seeds)", fontsize=10)
    fig.tight_layout()
    path = os.path.join(plot_dir, "synth_lazy.png")
    fig.savefig(path, dpi=90)
    plt.close(fig)
    print(f"\n![the init mask as training moves less]({path})")


def compression_text(sparsity):
    return f"10^{np.log10(1 / (1 - sparsity)):.1f}"


def cnn_compression(out_dir, plot_dir):
    """cnn (+ cnn-dense): accuracy against compression on a CNN, top-k against sampled."""
    c = load(out_dir, ["cnn"])
    if c is None:
        return
    c["acc"] = 100 * c["test_acc"]
    dense = load(out_dir, ["cnn-dense"])
    print("\n## A CNN: compression 10^0.5 ... 10^2.5 (`cnn`)\n")
    print("`cnn:1x28x28-conv16k3-relu-maxpool2-conv32k3-relu-maxpool2-fc10` (20,432 weights), "
          "Fashion-MNIST, first 8000 training and 2000 test images, Adam 1e-3, 2 epochs, masked "
          "training; SNIP and GraSP scored on 1000 examples, SynFlow 100 rounds. Test accuracy "
          "(%), mean ± half-width of the 95 % t-interval over seeds 1-3" +
          (f"; dense: {cell(100 * dense['test_acc'], digits=1)}" if dense is not None else "") +
          ". Columns: compression (1 / density):\n")
    sels = ["topk", "sample"]
    print(table(c, "acc", "{:.1f}", sels, spread="ci", column_text=compression_text))
    print("\nSampling ∝ score (without replacement, not rescaled) minus top-k, same score and "
          "compression, paired by seed (percentage points):\n")
    print(paired_table(c, "acc", {"selection": "topk"}, digits=1,
                       column_text=compression_text))
    plot(c, "acc", "test accuracy (%)", "CNN on Fashion-MNIST, masked training (band: 95 % CI "
         "over seeds)", os.path.join(plot_dir, "cnn_acc.png"), selections=sels, spread="ci")


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out_dir", nargs="?", default="runs/prune-init", metavar="OUT_DIR",
                        help="the folder holding the sweep directories NAME (%(default)s)")
    parser.add_argument("plot_dir", nargs="?", default="analysis/plots/prune-init",
                        metavar="PLOT_DIR", help="where the plots go (%(default)s)")
    args = parser.parse_args()
    out_dir, plot_dir = args.out_dir, args.plot_dir
    if not os.path.isdir(out_dir):
        sys.exit(f"prune_init.py: {out_dir} is not a directory\n"
                 "HINT: give the folder the prune-init sweeps were planned into")
    os.makedirs(plot_dir, exist_ok=True)

    paper_regime(out_dir, plot_dir)
    cnn_compression(out_dir, plot_dir)
    d = load(out_dir, ["synth-dense"])
    if d is not None:
        print("\n## The contrast regime (n > d, Adam), dense training, init mask applied to "
              "w_T\n")
        print("Relative sketch error ‖X(m⊙w_T) − Xw_T‖ / ‖Xw_T‖ (mean over seeds):\n")
        print(table(d, "sketch_rel_error", "{:.3g}"))
        for when, err, bnd in [("after training (w_T)", "sketch_error", "sketch_bound"),
                               ("at initialization (w_0)", "init_sketch_error",
                                "init_sketch_bound")]:
            text, ok = bound_table(d, err, bnd)
            print(f"\nMeasured error against the DKM value {when}, sampling with replacement "
                  "and 1/p:\n")
            print(text)
            print(f"\nMean measured error at or below a finite DKM value in {ok}.")
        print("\nTest loss (½ squared error) of m⊙w_T (not for rescaled masks: their losses "
              "overflow the fixed-point evaluation sum):\n")
        print(table(d, "test_loss", "{:.4g}", ["topk", "sample", "replace"]))
        d["rel_bound"] = d["sketch_bound"] / d["sketch_norm"]
        plot(d, "sketch_rel_error", "‖X(m⊙w_T) − Xw_T‖ / ‖Xw_T‖",
             "synthetic least squares: init mask applied to the trained weights",
             os.path.join(plot_dir, "synth_dense_error.png"), logy=True, bound="rel_bound")
    b = load(out_dir, ["synth-bound", "synth-bound-many"])
    if b is not None:
        print("\n## Synthetic least squares: the DKM value against many masks of one run\n")
        print("run.seed = 1 (one w_0, one w_T), masks prune.mask_seed = 101, 102, ... sampled "
              "with replacement and rescaled by 1/p. Per mask the ratio r = ‖e‖ / DKM (DKM "
              "computed with the p that mask was drawn with; for `random` p itself is random, "
              "so the DKM value varies with the mask: its mean is shown). The identity says "
              "E r² = 1, hence E r ≤ 1 (Jensen). ± one standard error over masks.\n")
        print("The first 20 masks of each cell (prune.mask_seed 101-120):\n")
        terms = bound_terms(b)
        print(bound_masks_table(b[b["prune.mask_seed"].astype(int) <= 120], terms))
        if b.groupby(["score", "sparsity"]).size().max() > 20:
            print("\nAll masks present:\n")
            print(bound_masks_table(b, terms))
        bound_convergence(b, os.path.join(plot_dir, "bound_convergence.png"))
    m = load(out_dir, ["synth-masked"])
    if m is not None:
        print("\n## Synthetic least squares, masked training\n")
        print("Test loss (½ squared error) after training the masked model:\n")
        print(table(m, "test_loss", "{:.4g}"))
        plot(m, "test_loss", "test loss", "synthetic least squares: masked training",
             os.path.join(plot_dir, "synth_masked_loss.png"), logy=True)
    for name, sweep, where, title in [
            ("softmax-dense", "softmax", {"prune.train": "dense"},
             "softmax regression, init mask applied to w_T"),
            ("softmax-masked", "softmax", {"prune.train": "masked"},
             "softmax regression, masked training"),
            ("lenet-global", "lenet", {"prune.scope": "global"},
             "LeNet-300-100, masked training, global selection"),
            ("lenet-layer", "lenet", {"prune.scope": "layer"},
             "LeNet-300-100, masked training, per-layer selection")]:
        f = load(out_dir, [sweep], where)
        if f is None:
            continue
        sels = [s for s in SELECTIONS if s in set(f["selection"])]
        seeds = sorted(f["run.seed"].astype(int).unique())
        spread = "sd" if len(seeds) > 1 else None
        print(f"\n## Fashion-MNIST: {title}\n")
        print("Test accuracy (%)" + (f", mean ± sample std over seeds {seeds}" if spread else "")
              + ":\n")
        f["acc"] = 100 * f["test_acc"]
        print(table(f, "acc", "{:.1f}", sels, spread=spread))
        if name == "softmax-dense":
            print("\nRelative sketch error of the logits ‖X(M⊙W)ᵀ − XWᵀ‖ / ‖XWᵀ‖:\n")
            print(table(f, "sketch_rel_error", "{:.3g}", sels))
            text, ok = bound_table(f)
            print("\nMeasured error against the DKM value (sampling with replacement, 1/p):\n")
            print(text)
            print(f"\nMean measured error at or below a finite DKM value in {ok}.")
            sb = load(out_dir, ["softmax-bound", "softmax-bound-many"])
            if sb is not None:
                print("\nMany masks of one run (`softmax-bound`: run.seed 1, prune.mask_seed "
                      "101, 102, ...; r = ‖e‖_F / DKM per mask, as for the synthetic task):\n")
                print(bound_masks_table(sb, None))
        plot(f, "acc", "test accuracy (%)", "Fashion-MNIST: " + title + (
             f" (mean ± std over {len(seeds)} seeds)" if spread else ""),
             os.path.join(plot_dir, name.replace("-", "_") + "_acc.png"), selections=sels,
             spread=spread)


if __name__ == "__main__":
    main()
