"""Report on a sweep directory: a markdown table of the final metrics (mean ± std over seeds,
grouped by the swept keys) and PNG plots (each metric's curve per setting; the final metric
against each swept key).

    /usr/bin/python3 analysis/report.py SWEEP_DIR [--out DIR] [--metric test_acc]

Writes DIR/report.md (default SWEEP_DIR/report) and the plots beside it, and prints where.
Seed keys (swept keys ending in ".seed") are averaged over; std is the sample standard
deviation (n - 1), left out when a setting has one run. Cells not complete are listed.
"""
import argparse
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from runs import load_curves, load_sweep  # noqa: E402

SKIP_FINALS = ("wall_seconds",)  # a measurement of the machine, not of the method


def setting_keys(swept):
    return [k for k in swept if not k.endswith(".seed")]


def final_columns(runs, swept):
    """Final metrics: numeric columns that are neither config keys nor run metadata."""
    return [c for c in runs.columns
            if "." not in c and c not in ("cell", "world_size") and c not in SKIP_FINALS
            and not c.startswith("peak_mb_") and runs[c].dtype.kind in "fi"]


def groups(df, keys):
    """(setting as a tuple, rows) per combination of the keys' values; all rows if no keys."""
    if not keys:
        return [((), df)]
    by = keys[0] if len(keys) == 1 else keys
    return [(s if isinstance(s, tuple) else (s,), g) for s, g in df.groupby(by, sort=True)]


def mean_std(values):
    mean, std, n = values.mean(), values.std(ddof=1), len(values)
    return f"{mean:.4g}" if n < 2 else f"{mean:.4g} ± {std:.2g}"


def summary_table(runs, keys, finals):
    """Markdown lines: one row per setting, n runs, mean ± std of each final metric."""
    lines = ["| " + " | ".join(keys + ["n"] + finals) + " |",
             "|" + "---|" * (len(keys) + 1 + len(finals))]
    for setting, group in groups(runs, keys):
        cells = [str(v) for v in setting] + [str(len(group))]
        cells += [mean_std(group[f]) for f in finals]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def label(keys, setting):
    return ", ".join(f"{k}={v}" for k, v in zip(keys, setting)) or "all runs"


def with_x(curves):
    """Curves with an x column: the run's epoch at each step if runs record one (settings with
    other batch sizes then line up), else the step."""
    if "epoch" not in set(curves.metric):
        return curves.assign(x=curves.step), "step"
    epochs = curves[curves.metric == "epoch"][["run_id", "step", "value"]]
    return curves.merge(epochs.rename(columns={"value": "x"}), on=["run_id", "step"]), "epoch"


def plot_curves(curves, keys, metric, path):
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    data, x_name = with_x(curves)
    data = data[data.metric == metric]
    for setting, group in groups(data, keys):
        stats = group.groupby("x")["value"].agg(["mean", "min", "max"])
        line, = ax.plot(stats.index, stats["mean"], marker=".", label=label(keys, setting))
        ax.fill_between(stats.index, stats["min"], stats["max"], alpha=0.15,
                        color=line.get_color())
    ax.set(xlabel=x_name, ylabel=metric, title=f"{metric}: mean over seeds (band: min-max)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_final_vs(runs, keys, key, metric, path):
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    others = [k for k in keys if k != key]
    numeric = runs[key].dtype.kind in "fi"
    for setting, group in groups(runs, others):
        stats = group.groupby(key)[metric].agg(["mean", "std"]).reset_index()
        x = stats[key] if numeric else stats[key].astype(str)
        ax.errorbar(x, stats["mean"], yerr=stats["std"].fillna(0), marker="o", capsize=3,
                    label=label(others, setting))
    if numeric and runs[key].min() > 0 and runs[key].max() / runs[key].min() >= 10:
        ax.set_xscale("log")
    ax.set(xlabel=key, ylabel=f"final {metric}", title=f"final {metric} against {key} "
           "(mean ± std over seeds)")
    ax.grid(alpha=0.3)
    if others:
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_report(sweep_dir, out_dir=None, metric=None):
    """Write the table and plots; returns (report path, plot paths)."""
    out_dir = out_dir or os.path.join(sweep_dir, "report")
    os.makedirs(out_dir, exist_ok=True)
    runs = load_sweep(sweep_dir)
    if runs.empty:
        sys.exit(f"error: no complete cell in {sweep_dir}\n"
                 f"HINT: ranklab sweep status {sweep_dir} shows where the cells are")
    swept = runs.attrs["swept"]
    keys = setting_keys(swept)
    finals = final_columns(runs, swept)
    metric = metric or ("test_acc" if "test_acc" in finals else finals[0])
    if metric not in finals:
        sys.exit(f"error: no final metric '{metric}'\nHINT: choose one of {', '.join(finals)}")
    curves = load_curves(sweep_dir)
    plots = []
    for name in sorted(curves.metric.unique()):
        if name != "epoch":
            plots.append(os.path.join(out_dir, f"curves_{name}.png"))
            plot_curves(curves, keys, name, plots[-1])
    for key in keys:
        plots.append(os.path.join(out_dir, f"final_{metric}_vs_{key}.png"))
        plot_final_vs(runs, keys, key, metric, plots[-1])
    experiment = runs["experiment"].iloc[0]
    lines = [f"# Sweep {os.path.abspath(sweep_dir)}", "",
             f"Experiment `{experiment}`, {len(runs)} complete runs; swept: "
             + ", ".join(f"`{k}`" for k in swept) + ". Final metrics, mean ± std over "
             + (", ".join(f"`{k}`" for k in swept if k not in keys) or "runs") + ".", ""]
    lines += summary_table(runs, keys, finals)
    missing = runs.attrs["not_complete"]
    if missing:
        lines += ["", f"Not complete (left out): cells {', '.join(map(str, missing))}."]
    lines += [""] + [f"![{os.path.basename(p)}]({os.path.basename(p)})" for p in plots]
    report = os.path.join(out_dir, "report.md")
    with open(report, "w") as f:
        f.write("\n".join(lines) + "\n")
    return report, plots


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("sweep_dir")
    parser.add_argument("--out", help="output directory (default SWEEP_DIR/report)")
    parser.add_argument("--metric", help="final metric plotted against the swept keys "
                        "(default test_acc)")
    args = parser.parse_args()
    if not os.path.exists(os.path.join(args.sweep_dir, "manifest.tsv")):
        sys.exit(f"error: {args.sweep_dir} is not a sweep directory (no manifest.tsv)\n"
                 "HINT: ranklab sweep plan FILE --dir SWEEP_DIR makes one")
    report, plots = write_report(args.sweep_dir, args.out, args.metric)
    print(f"wrote {report}")
    for p in plots:
        print(f"wrote {p}")


if __name__ == "__main__":
    main()
