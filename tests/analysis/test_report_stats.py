"""analysis/report.py's statistics against values computed here from the HDF5 files with h5py and
numpy: per setting the mean, the half-width of the 95 % t-interval and n; the differences paired
by run.seed against a baseline and their intervals; the bootstrap reproducible and around the
mean; the LaTeX tables well-formed booktabs tabulars; --help naming the presets and options."""
import glob
import os
import re
import subprocess
import sys

import h5py
import numpy as np
from conftest import REPORT, close, mean_half, numbers, report, table


def h5_runs(sweep):
    """(config attributes, finals) of every cell, read with h5py alone."""
    out = []
    for path in sorted(glob.glob(os.path.join(sweep, "cells", "*", "results.h5"))):
        with h5py.File(path, "r") as f:
            out.append((dict(f["config"].attrs), {k: v[()] for k, v in f["final"].items()}))
    return out


def check(cell, mean, half):
    printed, decimals = numbers(cell)
    assert len(printed) == 2, cell
    assert close(printed[0], mean, decimals) and close(printed[1], half, decimals), \
        (cell, mean, half)


def test_settings_table_matches_hdf5(sweeps, reports):
    out, _ = reports["train"]
    rows = table((out / "report.md").read_text(), "Final metrics per setting")
    runs = h5_runs(sweeps["train"])
    assert [(r["train.optim"], r["train.lr"]) for r in rows] == [("adam", "0.003"), ("sgd", "0.05")]
    by_seed = {optim: {int(c["run.seed"]): f for c, f in runs if c["train.optim"] == optim}
               for optim in ("adam", "sgd")}
    for row in rows:
        finals = by_seed[row["train.optim"]]
        assert int(row["n"]) == len(finals) == 3
        for metric in ("test_acc", "test_loss", "train_loss"):
            check(row[metric], *mean_half([f[metric] for f in finals.values()]))
    adam, sgd = rows
    assert sgd["Δ test_acc vs train.optim=sgd"] == "–"
    diffs = [by_seed["adam"][s]["test_acc"] - by_seed["sgd"][s]["test_acc"] for s in (1, 2, 3)]
    check(adam["Δ test_acc vs train.optim=sgd"], *mean_half(diffs))


def test_noise_grid_and_paired_differences_match_hdf5(sweeps, reports):
    out, _ = reports["mw-train"]
    md = (out / "report.md").read_text()
    runs = h5_runs(sweeps["mw-train"])
    acc = {}
    for c, f in runs:  # (mode, adv.eps, noise rate) -> {seed: final test accuracy}
        key = (c["mw.mode"], c["adv.eps"], c["data.noise_rate"])
        acc.setdefault(key, {})[int(c["run.seed"])] = f["test_acc"]
    grid = table(md, "Final test accuracy (%) per method")
    assert len(grid) == 4
    for row in grid:
        assert row["n"] == "2"
        for rate, column in ((0.0, "0 % noise"), (0.4, "40 % noise")):
            seeds = acc[(row["mw.mode"], float(row["adv.eps"]), rate)]
            check(row[column], *mean_half(100 * np.array(list(seeds.values()))))
    deltas = table(md, "Final test accuracy minus the baseline's")
    assert [r["mw.mode"] for r in deltas] == ["mw", "mw"]
    for row in deltas:
        for rate, column in ((0.0, "0 % noise"), (0.4, "40 % noise")):
            mw = acc[("mw", float(row["adv.eps"]), rate)]
            base = acc[("uniform", float(row["adv.eps"]), rate)]
            check(row[column], *mean_half([100 * (mw[s] - base[s]) for s in (1, 2)]))


def test_bootstrap_is_reproducible_and_holds_the_mean(sweeps, tmp_path):
    args = ([sweeps["train"]], "--bootstrap", "--baseline", "train.optim=sgd")
    report(args[0], tmp_path / "a", *args[1:])
    report(args[0], tmp_path / "b", *args[1:])
    text = (tmp_path / "a" / "report.md").read_text()
    assert text.replace(str(tmp_path / "a"), "") == \
        (tmp_path / "b" / "report.md").read_text().replace(str(tmp_path / "b"), "")
    assert "percentile bootstrap interval" in text and "RNG seed 0" in text
    rows = table(text, "Final metrics per setting")
    runs = h5_runs(sweeps["train"])
    for row in rows:
        accs = [f["test_acc"] for c, f in runs if c["train.optim"] == row["train.optim"]]
        (mean, low, high), decimals = numbers(row["test_acc"])
        assert close(mean, np.mean(accs), decimals) and low <= mean <= high and low < high
        assert min(accs) - 1e-4 <= low and high <= max(accs) + 1e-4
    (mean, low, high), _ = numbers(rows[0]["Δ test_acc vs train.optim=sgd"])
    assert low <= mean <= high


def test_latex_tables_are_booktabs(reports):
    for name, (out, written) in reports.items():
        tex = (out / "report.tex").read_text()
        assert tex.isascii(), name  # Unicode (±, Δ, ε, −) written as LaTeX
        md_tables = re.findall(r"^\|:---", (out / "report.md").read_text(), re.M)
        found = re.findall(r"\\caption\{(.*?)\}\n\\begin\{tabular\}\{([lr]+)\}\n(.*?)"
                           r"\\end\{tabular\}", tex, re.S)
        assert len(found) == len(md_tables) > 0, name
        for caption, spec, body in found:
            lines = body.rstrip("\n").split("\n")
            assert lines[0] == r"\toprule" and lines[2] == r"\midrule", (name, lines[:3])
            assert lines[-1] == r"\bottomrule" and len(lines) >= 5
            for line in [caption] + lines[1:2] + lines[3:-1]:
                assert not re.search(r"(?<!\\)[%_#]", line), line  # escaped
            for line in lines[1:2] + lines[3:-1]:
                assert line.endswith(r" \\")
                assert len(re.split(r"(?<!\\)&", line[:-3])) == len(spec), (name, line)


def test_help_names_presets_and_options():
    text = subprocess.run([sys.executable, REPORT, "--help"], check=True, capture_output=True,
                          text=True).stdout
    for word in ("--baseline", "--bootstrap", "--latex", "--preset", "--out", "budget", "noise",
                 "robust", "sparsity", "zoqo-train", "zoqo-attack", "Student t", "run.seed"):
        assert word in text, word
