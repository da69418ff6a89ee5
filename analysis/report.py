"""Report on ranklab results: per setting the mean of each final metric with its 95 % confidence
interval and n, differences paired by run.seed against a baseline setting, and the figures and
tables of the experiment's preset; Markdown, LaTeX (booktabs) and PNG.

    /usr/bin/python3 analysis/report.py DIR... [--preset auto|NAME] [--baseline KEY=VALUE]
                                               [--bootstrap] [--latex] [--out OUT] [--metric M]

DIR: sweep directories (their complete cells), run directories, or folders of run directories;
runs not complete are left out: a line on stderr per DIR says how many and why (failed, running,
not started, pruned), and so does report.md's header. A run given twice (`s1 s1/cells`) counts
once, and so does a run copied into several directories (the same run id; stderr says so). All
runs must be of one experiment. Writes OUT/report.md (default: the first DIR's report/), with
--latex OUT/report.tex (\\input it with \\usepackage{booktabs}), and the PNG figures beside
them; prints every path written. Bad input (a damaged manifest.tsv, an unknown --metric, ...) is
an error with a hint and exit code 2, before anything is written.

A setting is a combination of the config keys whose values differ between the runs, less
replicate keys (ending in "seed": run.seed, prune.mask_seed), keys that change only with
run.seed (e.g. init.from naming each seed's base run), and for a preset its x axis (budget,
noise rate, ε, sparsity) and keys that follow from it. Intervals are 95 %: Student t over the
seeds (n - 1 degrees of freedom; none for one run), or with --bootstrap the percentile bootstrap
over the seeds (--resamples resamples, RNG seed 0, so a report is reproducible; with few seeds
it is narrower than the t-interval). --baseline KEY=VALUE (repeatable) names the baseline
setting: each other setting is compared with the baseline runs of the same run.seed (and the
same other replicate keys) that share its values of the keys on which the baseline runs differ
(the same budget, noise rate, ...); the difference's mean and interval are over those pairs.
Each caption says what its numbers and bands are.

Presets (--preset auto, the default, picks the experiment's, generic if it has none, plus
robust where runs were attacked):
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from presets import PRESETS, Options, auto  # noqa: E402
from runs import ManifestError, load  # noqa: E402
from stats import BOOTSTRAP_RESAMPLES, matches  # noqa: E402
from tables import Document, value_text  # noqa: E402

PSEUDO_KEYS = ("arm", "method")  # settings the presets read from finals: zoqo arms, attacks


def preset_help():
    return "\n".join(f"  {name:<12} {p.summary}" + (f" ({', '.join(p.experiments)})"
                                                      if p.experiments else "")
                     for name, p in PRESETS.items())


def positive_int(text):
    """argparse type: an integer above 0."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"'{text}' is not a whole number above 0 (e.g. 2000)")
    return value


def numbers_text(numbers):
    """Cell numbers as ranges: [1, 2, 3, 5] -> '1-3, 5'."""
    parts, start = [], None
    for i, n in enumerate(numbers):
        if start is None:
            start = n
        if i + 1 == len(numbers) or numbers[i + 1] != n + 1:
            parts.append(str(n) if n == start else f"{start}-{n}")
            start = None
    return ", ".join(parts)


def left_out_lines(runs):
    """Per DIR with runs left out: how many of its cells (runs) are complete, which were left
    out and in what state; per DIR with copies of runs counted already: how many."""
    lines = []
    for src in runs.attrs["sources"]:
        left, copies = src["left_out"], src["copies"]
        if left:
            what = "cells" if src["sweep"] else "runs"
            states = ["pruned"] if any(st == "pruned" for _, st in left) else []
            states += ["failed", "running", "not started"]
            counts = ", ".join(f"{s} {sum(st == s for _, st in left)}" for s in states)
            if src["sweep"]:
                cells = [c for c, _ in left]
                which = f"cell{'s' if len(cells) > 1 else ''} {numbers_text(cells)}"
                why = f"`ranklab sweep status {src['dir']}` says why"
            else:
                which = f"{len(left)} run{'s' if len(left) > 1 else ''}"
                why = "the report's end lists them"
            lines.append(f"{src['dir']}: {src['complete']} of {src['runs']} {what} complete; "
                         f"left out: {which} ({counts}) — {why}")
        if copies:
            copy, kept, run_id = copies[0]
            lines.append(f"{src['dir']}: {len(copies)} run{'s' if len(copies) > 1 else ''} "
                         "counted once: copies of runs given already (the same run id; e.g. "
                         f"{copy} holds run {run_id}, as {kept} does)")
    return lines


def parse_baseline(items, runs):
    """--baseline KEY=VALUE items as {KEY: VALUE}; a key the runs do not have, or a value no run
    has, is an error."""
    if not items:
        return None
    baseline = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep:
            sys.exit(f"error: --baseline {item}: expected KEY=VALUE\n"
                     "HINT: e.g. --baseline train.optim=sgd")
        if key not in runs.attrs["config"] and key not in PSEUDO_KEYS:
            sys.exit(f"error: --baseline {item}: the runs have no key '{key}'\n"
                     f"HINT: config keys (or {', '.join(PSEUDO_KEYS)} for zoqo-train arms and "
                     "zoqo-attack attacks), as in ranklab show-config")
        if key in runs.attrs["config"] and not matches(runs[key], value).any():
            present = ", ".join(sorted({value_text(v) for v in runs[key]}))
            sys.exit(f"error: --baseline {item}: no run has {key}={value}\n"
                     f"HINT: the runs have {key} = {present}")
        baseline[key] = value
    return baseline


def write_report(dirs, out_dir=None, preset="auto", baseline=None, method="t",
                 resamples=BOOTSTRAP_RESAMPLES, latex=False, metric=None):
    """Write the report of the runs in dirs; returns the paths written."""
    try:
        runs = load(dirs)
    except ManifestError as e:
        sys.exit(f"error: {e}\n"
                 "HINT: the sweep directory was edited or cut short; ranklab sweep status checks "
                 "it, and a sweep planned again into a new directory reruns it")
    notes = left_out_lines(runs)
    for line in notes:
        print(line, file=sys.stderr)
    if runs.empty:
        sys.exit(f"error: no complete run in {', '.join(dirs)}\n"
                 "HINT: ranklab sweep status SWEEP_DIR shows where a sweep's cells are")
    experiments = sorted(runs["experiment"].unique())
    if len(experiments) > 1:
        sys.exit(f"error: runs of several experiments ({', '.join(experiments)})\n"
                 "HINT: report on each experiment's directories separately")
    opts = Options(method, resamples, parse_baseline(baseline, runs), metric)
    names = auto(runs) if preset == "auto" else [preset]
    readers = PRESETS[names[0]].experiments
    if readers and experiments[0] not in readers:
        sys.exit(f"error: preset {preset} reads {', '.join(readers)} "
                 f"results, not {experiments[0]}\n"
                 "HINT: leave --preset out to pick the experiment's own")
    out_dir = out_dir or os.path.join(dirs[0], "report")
    doc = Document(out_dir)
    swept, plural = runs.attrs["swept"], "s" if len(runs) > 1 else ""
    doc.text(f"# Report on {', '.join(os.path.abspath(d) for d in dirs)}",
             f"Experiment `{experiments[0]}`, {len(runs)} complete run{plural}"
             + (f"; swept: {', '.join(f'`{k}`' for k in swept)}" if swept else "")
             + f". Presets: {', '.join(names)}.")
    if notes:
        doc.text(*(f"- {line}." for line in notes))
    for name in names:
        doc.text(f"## {name}: {PRESETS[name].summary}")
        PRESETS[name].make(runs, doc, opts)
    missing = runs.attrs["not_complete"]
    if missing:
        doc.text(f"Not complete (left out): {', '.join(missing)}.")
    if runs.attrs["pruned"]:
        doc.text("Pruned by early stopping (left out: they stopped before the end): "
                 f"{', '.join(runs.attrs['pruned'])}.")
    return doc.write(latex)


def main():
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__[__doc__.index("A setting is"):] + preset_help())
    parser.add_argument("dirs", nargs="+", metavar="DIR",
                        help="sweep directories, run directories or folders of run directories")
    parser.add_argument("--out", help="output directory (default: the first DIR's report/)")
    parser.add_argument("--preset", default="auto", choices=["auto", *PRESETS],
                        help="figures and tables to make (default auto: by the experiment)")
    parser.add_argument("--baseline", action="append", metavar="KEY=VALUE",
                        help="the baseline setting of paired differences (repeat for several "
                        "keys); presets have defaults: subset.selector=random, mw.mode=uniform, "
                        "adv.train=false, prune.score=random, arm=sign, method=sign")
    parser.add_argument("--bootstrap", action="store_true",
                        help="percentile bootstrap intervals over seeds instead of Student t")
    parser.add_argument("--resamples", type=positive_int, default=BOOTSTRAP_RESAMPLES,
                        help=f"bootstrap resamples (default {BOOTSTRAP_RESAMPLES})")
    parser.add_argument("--latex", action="store_true",
                        help="also write report.tex: the tables as booktabs tabulars")
    parser.add_argument("--metric", help="generic report: the final metric of the paired "
                        "differences and of the plots against setting keys (default test_acc)")
    args = parser.parse_args()
    for d in args.dirs:
        if not os.path.isdir(d):
            sys.exit(f"error: {d} is not a directory\n"
                     "HINT: give sweep directories, run directories or folders of them")
    if args.out and os.path.exists(args.out) and not os.path.isdir(args.out):
        sys.exit(f"error: --out {args.out} is a file, not a directory\n"
                 "HINT: name a new or existing directory")
    for path in write_report(args.dirs, args.out, args.preset, args.baseline,
                             "bootstrap" if args.bootstrap else "t", args.resamples, args.latex,
                             args.metric):
        print(f"wrote {path}")


if __name__ == "__main__":
    try:
        main()
    except SystemExit as e:  # an error's message (here or from a preset): stderr, exit code 2
        if not isinstance(e.code, str):
            raise
        print(e.code, file=sys.stderr)
        sys.exit(2)
