"""What a report shows: the generic part (per setting, every final metric with its 95 % interval,
n and the paired difference to a baseline; each metric's curves; the chosen metric against each
setting key) and the figure presets, the figures and tables that the papers behind the
experiments carry, made from the results files alone:

  budget       subset-select: test accuracy against the labelling budget, per selector
  noise        mw-train: noise rate × method tables of the final and the best test accuracy
               and of the weight left on the noisy examples
  robust       runs with adv.eps > 0 (train, mw-train, gor-train): FGSM and PGD accuracy against ε
  sparsity     prune-init: test accuracy (test loss for regression) against sparsity
  zoqo-train   accuracy against steps and against queries per arm; accuracy and memory/time tables
  zoqo-attack  success rate with mean / median queries per attack and ε; success against queries

Each writes into a tables.Document and states in its captions what every band is. Intervals come
from stats.interval (Student t over seeds, or the percentile bootstrap), differences from
stats.paired_summary (paired by run.seed against the baseline setting).
"""
import math
import re
from collections import namedtuple

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from runs import load_rows, read_arrays, read_rows, replicate_keys, setting_keys  # noqa: E402
from stats import (Interval, baseline_rows, describe_interval, groups, interval,  # noqa: E402
                   interval_text, paired_summary, summarize)
from tables import Table, value_text  # noqa: E402

Options = namedtuple("Options", "method resamples baseline metric")
Options.__doc__ = ("How intervals are made (method 't' or 'bootstrap', resamples), the baseline "
                   "setting given by the user ({KEY: VALUE text}, or None) and the generic "
                   "report's metric (None: test_acc).")
MACHINE_FINALS = ("wall_seconds",)  # measurements of the machine, not of the method


def subset(runs, mask):
    """Rows of a frame from runs.load, keeping its attrs."""
    part = runs[mask].copy()
    part.attrs.update(runs.attrs)
    return part


def label(keys, setting):
    return ", ".join(f"{k}={value_text(v)}" for k, v in zip(keys, setting)) or "all runs"


def baseline_text(baseline):
    return ", ".join(f"{k}={v}" for k, v in baseline.items())


def band(opts, over="seeds"):
    return describe_interval(opts.method, opts.resamples, over)


def short_band(opts):
    return "95 % bootstrap interval" if opts.method == "bootstrap" else "95 % t-interval"


def cells_caption(opts):
    form = "mean [low, high]" if opts.method == "bootstrap" else "mean ± half-width"
    return f"Cells: {form} of the {band(opts)}; a single run shows its value alone."


def delta_caption(opts, baseline, pair_on):
    form = "[low, high]" if opts.method == "bootstrap" else "± half-width"
    return (f"Δ: the setting minus the baseline {baseline_text(baseline)} on runs with the same "
            f"{', '.join(pair_on)} (paired), mean over the n pairs {form} of the "
            f"{band(opts, 'pairs')}.")


def choose_baseline(obs, keys, opts, default, doc):
    """The baseline setting to pair against: the user's (--baseline) or the preset's default;
    None when it names no setting here (said in the report if the user gave it)."""
    chosen = opts.baseline or default
    if not chosen:
        return None
    note = None
    if any(k not in keys for k in chosen):
        note = (f"No paired differences: {baseline_text(chosen)} does not name a setting here "
                f"(the settings differ in {', '.join(keys) or 'nothing'}).")
    elif baseline_rows(obs, chosen).empty:
        note = f"No paired differences: no run has {baseline_text(chosen)}."
    if note and opts.baseline:
        doc.text(note)
    return None if note else chosen


def decimals(values):
    """Decimals that show about four significant digits of the largest |value|."""
    largest = np.nanmax(np.abs(np.asarray(values, dtype=float))) if len(values) else math.nan
    if not np.isfinite(largest) or largest == 0:
        return 2
    return int(min(6, max(0, 3 - math.floor(math.log10(largest)))))


def _as_interval(record):
    return Interval(record["mean"], record["low"], record["high"], record["n"])


def settings_table(obs, keys, columns, opts, caption, pair_on=None, delta=None, baseline=None):
    """A row per setting: its keys, n (rows of obs), the mean and interval of each column
    (metric, header, scale, decimals) and, with a baseline, the paired difference of delta
    (metric, header, scale, decimals); '–' for the baseline itself."""
    header = (keys or ["setting"]) + ["n"] + [head for _, head, _, _ in columns]
    diffs = {}
    if baseline:
        metric, head, scale, digits = delta
        header.append(f"Δ {head} vs {baseline_text(baseline)}")
        paired = paired_summary(obs, keys, metric, baseline, pair_on, opts.method,
                                opts.resamples)
        diffs = {tuple(r[k] for k in keys): _as_interval(r) for r in paired.to_dict("records")}
    rows = []
    for setting, g in groups(obs, keys):
        row = [value_text(v) for v in setting] or ["all runs"]
        row.append(str(len(g)))
        row += [interval_text(interval(g[m], opts.method, opts.resamples), opts.method, scale,
                              digits) for m, _, scale, digits in columns]
        if baseline:
            iv = diffs.get(setting)
            text = "–" if iv is None else interval_text(iv, opts.method, scale, digits, True)
            if iv is not None and iv.n != len(g):
                text += f" ({iv.n} pairs)"
            row.append(text)
        rows.append(row)
    return Table(caption, header, rows, labels=max(len(keys), 1))


def grid_table(obs, keys, x, metric, opts, caption, x_text, scale=100, digits=1, baseline=None,
               pair_on=None):
    """A row per setting, a column per value of x: the mean and interval of metric, or with a
    baseline the paired difference to the baseline at the same x; n is the runs (pairs) per
    cell, a range where it differs."""
    if baseline:
        s = paired_summary(obs, keys + [x], metric, baseline, pair_on, opts.method,
                           opts.resamples)
    else:
        s = summarize(obs, keys + [x], metric, opts.method, opts.resamples)
    xs = sorted(obs[x].dropna().unique())
    rows = []
    for setting, g in groups(s, keys):
        by_x = {r[x]: _as_interval(r) for r in g.to_dict("records")}
        ns = sorted({int(iv.n) for iv in by_x.values()})
        row = [value_text(v) for v in setting] or ["all runs"]
        row.append(str(ns[0]) if len(ns) == 1 else f"{ns[0]}–{ns[-1]}")
        row += [interval_text(by_x[v], opts.method, scale, digits, bool(baseline))
                if v in by_x else "" for v in xs]
        rows.append(row)
    header = (keys or ["setting"]) + ["n"] + [x_text(v) for v in xs]
    return Table(caption, header, rows, labels=max(len(keys), 1))


def plot_lines(ax, obs, keys, x, metric, opts, scale=1.0, x_scale=1.0, filled=False,
               labelled=True, **style):
    """One line per setting: the mean of metric against x, its interval as error bars (or, with
    filled, a band)."""
    for setting, g in groups(obs, keys):
        s = summarize(g, [x], metric, opts.method, opts.resamples).dropna(subset=["mean"])
        if s.empty:
            continue
        xs, mean = (s[x] * x_scale if x_scale != 1 else s[x]), s["mean"] * scale
        name = label(keys, setting) if labelled else None
        if filled:
            line, = ax.plot(xs, mean, label=name, **style)
            ax.fill_between(xs, s["low"] * scale, s["high"] * scale, alpha=0.15, lw=0,
                            color=line.get_color())
        else:
            yerr = [(s["mean"] - s["low"]).fillna(0) * scale,
                    (s["high"] - s["mean"]).fillna(0) * scale]
            ax.errorbar(xs, mean, yerr=yerr, marker="o", ms=3, capsize=2, label=name, **style)


def finish(fig, axes, legend=True):
    """Grid lines, the legend in the last panel, a tight layout."""
    for ax in axes:
        ax.grid(alpha=0.3)
    if legend:
        axes[-1].legend(fontsize=7)
    fig.tight_layout()


def paired_grid(doc, obs, keys, x, metric, opts, what, x_text, baseline, pair_on, scale=100,
                digits=1):
    """With a baseline, the grid of paired differences to it (grid_table) into doc."""
    if baseline:
        doc.table(grid_table(obs, keys, x, metric, opts, f"{what} minus the baseline's "
                             f"({'points' if scale == 100 else 'difference'}). "
                             + delta_caption(opts, baseline, pair_on), x_text, scale, digits,
                             baseline, pair_on))


# ---- the generic report ------------------------------------------------------------------------

def final_columns(runs):
    """Final metrics shown per setting: numeric, not measurements of the machine."""
    return [c for c in runs.attrs["finals"]
            if c not in MACHINE_FINALS and not c.startswith("peak_mb_")
            and runs[c].dtype.kind in "fi" and runs[c].notna().any()]


def with_x(rows):
    """The x axis of curves: the epoch if runs record one (settings with other batch sizes line
    up), else the step."""
    return "epoch" if "epoch" in rows and rows["epoch"].notna().any() else "step"


def generic(runs, doc, opts):
    """Per setting: n and every final metric; the paired difference of opts.metric to the
    baseline; each metric's curves; opts.metric against each setting key."""
    keys = setting_keys(runs)
    finals = final_columns(runs)
    if not finals:
        raise SystemExit("error: the runs have no final metrics\n"
                         "HINT: ranklab inspect RUN_DIR/results.h5 shows what a run recorded")
    metric = opts.metric or ("test_acc" if "test_acc" in finals else finals[0])
    if metric not in finals:
        raise SystemExit(f"error: no final metric '{metric}'\n"
                         f"HINT: choose one of {', '.join(finals)}")
    pair_on = replicate_keys(runs)
    baseline = choose_baseline(runs, keys, opts, None, doc)
    columns = [(f, f, 1, decimals(runs[f])) for f in finals]
    caption = ("Final metrics per setting (n runs). " + cells_caption(opts)
               + (" " + delta_caption(opts, baseline, pair_on) if baseline else ""))
    doc.table(settings_table(runs, keys, columns, opts, caption, pair_on,
                             (metric, metric, 1, decimals(runs[metric])), baseline))
    rows = load_rows(runs)
    x = with_x(rows)
    for name in [m for m in rows.attrs["metrics"] if m != "epoch"]:
        fig, ax = plt.subplots(figsize=(6.4, 4.2))
        plot_lines(ax, rows, keys, x, name, opts, filled=True, marker=".")
        ax.set(xlabel=x, ylabel=name, title=f"{name}: mean over seeds (band: {short_band(opts)})")
        finish(fig, [ax])
        doc.figure(fig, f"curves_{name}.png", f"{name} against the {x}, mean over seeds per "
                   f"setting; band: the {band(opts)} at each {x}.")
        plt.close(fig)
    for key in keys:
        others = [k for k in keys if k != key]
        fig, ax = plt.subplots(figsize=(6.4, 4.2))
        numeric = runs[key].dtype.kind in "fi"
        obs = runs if numeric else runs.assign(**{key: runs[key].map(value_text)})
        plot_lines(ax, obs, others, key, metric, opts)
        if numeric and runs[key].min() > 0 and runs[key].max() / runs[key].min() >= 10:
            ax.set_xscale("log")
        ax.set(xlabel=key, ylabel=f"final {metric}",
               title=f"final {metric} against {key} (bars: {short_band(opts)})")
        finish(fig, [ax], legend=bool(others))
        doc.figure(fig, f"final_{metric}_vs_{key}.png", f"Final {metric} against {key}, mean "
                   f"over seeds; error bars: the {band(opts)}.")
        plt.close(fig)


# ---- presets -----------------------------------------------------------------------------------

def budget(runs, doc, opts):
    """subset-select: test accuracy against the labelling budget (metrics rows), per selector."""
    rows = load_rows(runs)
    keys, pair_on = setting_keys(runs), replicate_keys(runs)
    metrics = [(m, what) for m, what in (("test_acc", "linear classifier on the features"),
                                         ("mlp_test_acc", "MLP on the pixels"))
               if m in rows and rows[m].notna().any()]
    if not metrics:
        doc.text("No test accuracy recorded (test_acc, mlp_test_acc).")
        return
    baseline = choose_baseline(rows, keys, opts, {"subset.selector": "random"}, doc)
    fig, axes = plt.subplots(1, len(metrics), figsize=(6.4 * len(metrics), 4.4), squeeze=False)
    for ax, (m, what) in zip(axes[0], metrics):
        plot_lines(ax, rows, keys, "budget", m, opts, scale=100)
        ax.set(xscale="log", xlabel="budget B (labelled examples)", ylabel="test accuracy (%)",
               title=what)
    finish(fig, axes[0])
    doc.figure(fig, "budget.png", "Test accuracy against the labelling budget, mean over seeds; "
               f"error bars: the {band(opts)}.")
    plt.close(fig)
    budget_text = "B={:g}".format
    for m, what in metrics:
        doc.table(grid_table(rows, keys, "budget", m, opts, f"Test accuracy (%) of the {what} "
                             f"({m}) at each budget B. " + cells_caption(opts), budget_text))
        paired_grid(doc, rows, keys, "budget", m, opts, f"Test accuracy ({m})", budget_text,
                    baseline, pair_on)


def noise(runs, doc, opts):
    """mw-train: method × label-noise-rate tables of the final and best test accuracy (with
    their paired differences to the baseline) and of the weight on the noisy examples."""
    x = "data.noise_rate"
    keys, pair_on = setting_keys(runs, [x]), replicate_keys(runs)
    baseline = choose_baseline(runs, keys, opts, {"mw.mode": "uniform"}, doc)
    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    plot_lines(ax, runs, keys, x, "test_acc", opts, scale=100, x_scale=100)
    ax.set(xlabel="label noise rate (%)", ylabel="final test accuracy (%)",
           title="final test accuracy against label noise")
    finish(fig, [ax])
    doc.figure(fig, "noise.png", "Final test accuracy against the label noise rate, mean over "
               f"seeds; error bars: the {band(opts)}.")
    plt.close(fig)
    rate_text = lambda r: f"{100 * r:g} % noise"  # noqa: E731
    for m, what, note, paired in (
            ("test_acc", "Final test accuracy", "", True),
            ("best_test_acc", "Best test accuracy over the epochs", "", True),
            ("noisy_weight", "Weight on the noisy examples after the last epoch",
             " (under uniform weights their share: the fraction of wrong labels)", False)):
        if m in runs and runs[m].notna().any():
            doc.table(grid_table(runs, keys, x, m, opts, f"{what} (%) per method and label noise "
                                 f"rate{note}. " + cells_caption(opts), rate_text))
            if paired:
                paired_grid(doc, runs, keys, x, m, opts, what, rate_text, baseline, pair_on)


def has_attacks(runs):
    return ("pgd_acc" in runs and "adv.eps" in runs
            and (runs["pgd_acc"].notna() & (runs["adv.eps"] > 0)).any())


def robust(runs, doc, opts):
    """Runs with adv.eps > 0: PGD and FGSM accuracy against ε."""
    if not has_attacks(runs):
        doc.text("No run was attacked (adv.eps > 0 with a PGD accuracy).")
        return
    att = subset(runs, (runs["adv.eps"] > 0) & runs["pgd_acc"].notna())
    x = "adv.eps"
    keys, pair_on = setting_keys(att, [x]), replicate_keys(att)
    baseline = choose_baseline(att, keys, opts, {"adv.train": "false"}, doc)
    pgd = "PGD-" + "/".join(str(s) for s in sorted(att["adv.pgd_steps"].unique()))
    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    plot_lines(ax, att, keys, x, "pgd_acc", opts, scale=100)
    ax.set_prop_cycle(None)
    plot_lines(ax, att, keys, x, "fgsm_acc", opts, scale=100, labelled=False, linestyle="--")
    ax.set(xlabel="ε (ℓ∞ radius, pixels in [0, 1])", ylabel="accuracy under attack (%)",
           title=f"robust accuracy: {pgd} (solid), FGSM (dashed)")
    finish(fig, [ax])
    doc.figure(fig, "robust.png", f"Accuracy under {pgd} (solid) and FGSM (dashed) against ε, on "
               f"the first adv.limit test images, mean over seeds; error bars: the {band(opts)}.")
    plt.close(fig)
    eps_text = "ε = {:g}".format
    for m, what in (("pgd_acc", f"Accuracy under {pgd}"), ("fgsm_acc", "Accuracy under FGSM"),
                    ("attack_clean_acc", "Clean accuracy on the attacked images")):
        doc.table(grid_table(att, keys, x, m, opts, f"{what} (%). " + cells_caption(opts),
                             eps_text))
    paired_grid(doc, att, keys, x, "pgd_acc", opts, f"Accuracy under {pgd}", eps_text, baseline,
                pair_on)


def sparsity(runs, doc, opts):
    """prune-init: test accuracy (test loss where there is none) against sparsity."""
    x = "prune.sparsity"
    keys, pair_on = setting_keys(runs, [x]), replicate_keys(runs)
    if runs["test_acc"].notna().any():
        metric, what, scale, digits = "test_acc", "test accuracy (%)", 100, 1
    else:
        metric, what, scale, digits = "test_loss", "test loss", 1, 3
    baseline = choose_baseline(runs, keys, opts, {"prune.score": "random"}, doc)
    obs = runs.assign(density=1 - runs[x])
    # a line per score, a panel per combination of the other keys (selection, scope, ...)
    lines = ["prune.score"] if "prune.score" in keys else keys
    panels = [k for k in keys if k not in lines]
    facets = groups(obs, panels)
    columns = min(len(facets), 5)
    fig, axes = plt.subplots(math.ceil(len(facets) / columns), columns, sharey=True,
                             figsize=(3.8 * columns + 1, 3.6 * math.ceil(len(facets) / columns)),
                             squeeze=False)
    for ax, (value, part) in zip(axes.flat, facets):
        plot_lines(ax, part, lines, "density", metric, opts, scale=scale)
        ax.set_xscale("log")
        ax.invert_xaxis()
        ax.set(xlabel="density (1 − sparsity), log scale", title=label(panels, value)
               if panels else f"{what} against sparsity")
        ax.title.set_fontsize(8)
    for ax in axes.flat[len(facets):]:
        ax.set_visible(False)
    for row in axes:
        row[0].set_ylabel(what)
    finish(fig, axes.flat[:len(facets)])
    doc.figure(fig, "sparsity.png", f"{what.capitalize()} against the density left by pruning "
               f"(sparsity grows to the right), mean over seeds; error bars: the {band(opts)}.")
    plt.close(fig)
    sparsity_text = lambda s: f"{100 * s:g} % sparse"  # noqa: E731
    doc.table(grid_table(runs, keys, x, metric, opts, f"{what.capitalize()} at each sparsity. "
                         + cells_caption(opts), sparsity_text, scale, digits))
    paired_grid(doc, runs, keys, x, metric, opts, what.capitalize(), sparsity_text, baseline,
                pair_on, scale, digits)


def listed(text):
    """A comma list of a config value (zoqo.arms, attack.methods), in its order."""
    return [item.strip() for item in str(text).split(",")]


def in_config_order(values, lists):
    """values as a categorical ordered as they first appear in the config lists, so tables and
    legends keep the order the runs were given (zoqo8, zoqo4, sign, ...)."""
    order = list(dict.fromkeys(item for items in lists for item in listed(items)))
    order += sorted(set(values) - set(order))
    return pd.Categorical(values, categories=order, ordered=True)


def zoqo_train(runs, doc, opts):
    """zoqo-train: accuracy against steps and queries per arm; accuracy and memory/time tables."""
    keys, pair_on = setting_keys(runs), replicate_keys(runs)
    arms, curves = [], []
    for _, run in runs.iterrows():
        rows = read_rows(run["path"])
        names = listed(run["zoqo.arms"])
        rows["arm"] = [names[int(i)] for i in rows["arm"]]
        curves.append(rows.assign(**run[keys + pair_on].to_dict()))
        for arm, mine in rows.groupby("arm", sort=False):
            finals = {m: run.get(f"{m}_{arm}", math.nan)
                      for m in ("start_acc", "test_acc", "queries", "peak_mb", "update_mb")}
            arms.append({**run.to_dict(), **finals, "arm": arm,
                         "bytes_exchanged": mine["bytes_exchanged"].iloc[-1]})
    arms, curves, arm_keys = pd.DataFrame(arms), pd.concat(curves), keys + ["arm"]
    for frame in (arms, curves):
        frame["arm"] = in_config_order(frame["arm"], runs["zoqo.arms"])
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.4), squeeze=False)
    for ax, x, xlabel in zip(axes[0], ("arm_step", "queries"),
                             ("steps", "queries (forward passes on a batch)")):
        plot_lines(ax, curves, arm_keys, x, "test_acc", opts, scale=100, filled=True,
                   marker=".")
        ax.set(xlabel=xlabel, ylabel="test accuracy (%)", title=f"test accuracy against {xlabel}")
    finish(fig, axes[0])
    doc.figure(fig, "zoqo-train.png", "Test accuracy of each arm against its steps and its "
               f"queries, mean over seeds; band: the {band(opts)} at each evaluation.")
    plt.close(fig)
    baseline = choose_baseline(arms, arm_keys, opts, {"arm": "sign"}, doc)
    doc.table(settings_table(
        arms, arm_keys, [("start_acc", "start acc %", 100, 2), ("test_acc", "final acc %", 100, 2)],
        opts, "Test accuracy of each arm at its start (the base model, quantized for ZOQO and QAT "
        "arms) and after its last step. " + cells_caption(opts)
        + (" " + delta_caption(opts, baseline, pair_on) if baseline else ""),
        pair_on, ("test_acc", "final acc (points)", 100, 2), baseline))
    doc.table(settings_table(
        arms, arm_keys, [("queries", "queries", 1, 0), ("bytes_exchanged", "bytes / step", 1, 0),
                         ("peak_mb", "peak MB", 1, 1), ("update_mb", "update MB", 1, 1),
                         ("wall_seconds", "run s (all arms)", 1, 1)],
        opts, "Cost of each arm: queries (forward passes on a batch) over the arm, bytes each "
        "rank exchanges per step, peak resident memory during the arm (the data set included) "
        "and that peak less the memory before the arm began (its updates' memory); the results "
        "record time per run, not per arm: the last column is the whole run's wall time. "
        + cells_caption(opts)))


ATTACK_FINAL = re.compile(r"^success_(.+)_eps(.+)$")


def attack_observations(runs):
    """zoqo-attack: one row per (run, attack, ε) with the run's columns, success_rate, and the
    per-image queries (-1 for a failure) from /arrays."""
    out = []
    for _, run in runs.iterrows():
        found = [(m.group(1), m.group(2)) for m in map(ATTACK_FINAL.match, runs.attrs["finals"])
                 if m and pd.notna(run[m.group(0)])]
        queries = read_arrays(run["path"], [f"queries_{a}_eps{e}" for a, e in found])
        for (attack, eps), q in zip(found, queries):
            out.append({**run.to_dict(), "method": attack, "eps": float(eps), "image_queries": q,
                        "success_rate": run[f"success_{attack}_eps{eps}"]})
    return pd.DataFrame(out)


def zoqo_attack(runs, doc, opts):
    """zoqo-attack: success rate with mean / median queries per attack and ε, success against
    the query budget, the run's cost."""
    keys, pair_on = setting_keys(runs), replicate_keys(runs)
    obs = attack_observations(runs)
    obs["method"] = in_config_order(obs["method"], runs["attack.methods"])
    method_keys = keys + ["method"]
    epsilons = sorted(obs["eps"].unique())
    fig, axes = plt.subplots(1, len(epsilons), figsize=(4.6 * len(epsilons) + 1, 4.2),
                             sharey=True, squeeze=False)
    for ax, eps in zip(axes[0], epsilons):
        for setting, g in groups(obs[obs["eps"] == eps], method_keys):
            q = np.concatenate(list(g["image_queries"]))
            fooled = np.sort(q[q >= 0])
            ax.step(np.concatenate([[1], fooled]), 100 * np.arange(len(fooled) + 1) / len(q),
                    where="post", label=label(method_keys, setting))
        ax.set(xscale="log", xlabel="queries", title=f"ε = {eps:g}")
    axes[0][0].set_ylabel("images fooled (%)")
    finish(fig, axes[0])
    doc.figure(fig, "zoqo-attack.png", "Share of the attacked images fooled within a query budget "
               "(every forward pass counted, the clean one included), per attack and ε, the "
               "images of all seeds pooled (no interval).")
    plt.close(fig)
    rate = {tuple(r[k] for k in method_keys + ["eps"]): _as_interval(r) for r in summarize(
        obs, method_keys + ["eps"], "success_rate", opts.method, opts.resamples).to_dict("records")}
    rows = []
    for setting, g in groups(obs, method_keys):
        cells = []
        for eps in epsilons:
            part = g[g["eps"] == eps]
            if part.empty:
                cells.append("")
                continue
            q = np.concatenate(list(part["image_queries"]))
            fooled = q[q >= 0]
            tail = (f" ({fooled.mean():.0f} / {np.median(fooled):.0f})" if len(fooled)
                    else " (– / –)")
            cells.append(interval_text(rate[setting + (eps,)], opts.method, 100, 1) + tail)
        rows.append([value_text(v) for v in setting] + [str(g["path"].nunique())] + cells)
    doc.table(Table("Success rate (%) of each attack at each ε; in brackets the mean / median "
                    "queries of the images it fooled, all seeds pooled. Success rate: "
                    + cells_caption(opts)[len("Cells: "):],
                    method_keys + ["n"] + [f"ε = {e:g}" for e in epsilons], rows,
                    labels=len(method_keys)))
    baseline = choose_baseline(obs, method_keys, opts, {"method": "sign"}, doc)
    paired_grid(doc, obs, method_keys, "eps", "success_rate", opts, "Success rate",
                "ε = {:g}".format, baseline, pair_on)
    doc.table(settings_table(
        runs, keys, [("images", "images", 1, 0), ("clean_acc", "clean acc %", 100, 1),
                     ("wall_seconds", "run s (all attacks)", 1, 1)],
        opts, "Runs: images attacked, the victim's accuracy on the test images scanned to find "
        "them, the whole run's wall time (the results record no time or memory per attack). "
        + cells_caption(opts)))


Preset = namedtuple("Preset", "make experiments summary")
PRESETS = {
    "generic": Preset(generic, (), "per setting every final metric; each metric's curves; the "
                      "--metric against each setting key (experiments without a preset)"),
    "budget": Preset(budget, ("subset-select",),
                     "test accuracy against the labelling budget per selector"),
    "noise": Preset(noise, ("mw-train",), "method × label-noise-rate tables of the final and "
                    "best test accuracy and of the weight on the noisy examples"),
    "robust": Preset(robust, (), "PGD and FGSM accuracy against adv.eps (runs with adv.eps > 0)"),
    "sparsity": Preset(sparsity, ("prune-init",), "test accuracy (or loss) against sparsity per "
                       "score and selection"),
    "zoqo-train": Preset(zoqo_train, ("zoqo-train",), "accuracy against steps and queries per "
                         "arm; accuracy and memory/time tables"),
    "zoqo-attack": Preset(zoqo_attack, ("zoqo-attack",), "success rate with mean / median "
                          "queries per attack and ε; success against queries"),
}


def auto(runs):
    """The presets for the experiment recorded in the runs (generic if it has none), and robust
    where runs were attacked."""
    experiment = runs["experiment"].iloc[0]
    names = [n for n, p in PRESETS.items() if experiment in p.experiments] or ["generic"]
    return names + (["robust"] if has_attacks(runs) else [])
