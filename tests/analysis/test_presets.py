"""The figure presets of analysis/report.py on results made by the program: each writes its PNG
figure and its tables; --preset auto picks them by the experiment recorded in the results (and
robust for attacked runs); a preset can be named; their numbers match the HDF5 files."""
import glob
import os
import re

import h5py
import numpy as np
from conftest import close, mean_half, numbers, report, table

AUTO = {  # experiment -> presets chosen, their figures, a table each must have
    "train": (["generic"], ["curves_test_acc.png", "final_test_acc_vs_train.optim.png"],
              "Final metrics per setting"),
    "mw-train": (["noise", "robust"], ["noise.png", "robust.png"],
                 "Accuracy under PGD-2 (%)"),
    "subset-select": (["budget"], ["budget.png"], "Test accuracy (%) of the linear classifier"),
    "prune-init": (["sparsity"], ["sparsity.png"], "Test accuracy (%) at each sparsity"),
    "zoqo-train": (["zoqo-train"], ["zoqo-train.png"], "Cost of each arm"),
    "zoqo-attack": (["zoqo-attack"], ["zoqo-attack.png"], "Success rate (%) of each attack"),
}


def is_png(path):
    with open(path, "rb") as f:
        return f.read(8) == b"\x89PNG\r\n\x1a\n" and os.path.getsize(path) > 5000


def cells(sweep):
    return sorted(glob.glob(os.path.join(sweep, "cells", "*", "results.h5")))


def test_auto_picks_presets_by_experiment(reports):
    for name, (presets, figures, caption) in AUTO.items():
        out, written = reports[name]
        md = (out / "report.md").read_text()
        assert f"Experiment `{name}`" in md and f"Presets: {', '.join(presets)}." in md, name
        for preset in presets:
            assert f"\n## {preset}: " in md
        for figure in figures:
            assert str(out / figure) in written and is_png(out / figure), figure
            assert f"![{figure}]({figure})" in md
        assert table(md, caption), name
        assert "band" in md or "error bars" in md or "no interval" in md


def test_named_preset(sweeps, tmp_path):
    written = report([sweeps["mw-train"]], tmp_path, "--preset", "robust")
    md = (tmp_path / "report.md").read_text()
    assert "Presets: robust." in md and "## noise" not in md
    assert [os.path.basename(p) for p in written] == ["report.md", "robust.png"]


def test_budget_matches_hdf5(sweeps, reports):
    rows = table((reports["subset-select"][0] / "report.md").read_text(),
                 "Test accuracy (%) of the linear classifier")
    acc = {}
    for path in cells(sweeps["subset-select"]):
        with h5py.File(path, "r") as f:
            selector = f["config"].attrs["subset.selector"]
            for b, a in zip(f["metrics/budget"][:], f["metrics/test_acc"][:]):
                acc.setdefault((selector, b), []).append(100 * a)
    assert [r["subset.selector"] for r in rows] == ["norm", "random"]
    for row in rows:
        for b in (10, 20, 50):
            (mean, half), decimals = numbers(row[f"B={b}"])
            m, h = mean_half(acc[(row["subset.selector"], b)])
            assert close(mean, m, decimals) and close(half, h, decimals)


def test_noise_weight_table_matches_hdf5(sweeps, reports):
    """The noise preset's table of the weight left on the noisy examples: per method and ε, the
    mean and t-interval of final/noisy_weight over the seeds at 40 % noise; MW's below uniform's
    (which is the share of noisy labels)."""
    rows = table((reports["mw-train"][0] / "report.md").read_text(),
                 "Weight on the noisy examples after the last epoch (%)")
    weight = {}
    for path in cells(sweeps["mw-train"]):
        with h5py.File(path, "r") as f:
            config = f["config"].attrs
            if float(config["data.noise_rate"]) == 0.4:
                key = (str(config["mw.mode"]), float(config["adv.eps"]))
                weight.setdefault(key, []).append(100 * f["final/noisy_weight"][()])
    assert sorted((r["mw.mode"], float(r["adv.eps"])) for r in rows) == sorted(weight)
    means = {}
    for row in rows:
        (mean, half), decimals = numbers(row["40 % noise"])
        m, h = mean_half(weight[(row["mw.mode"], float(row["adv.eps"]))])
        assert close(mean, m, decimals) and close(half, h, decimals), (row, m, h)
        means.setdefault(row["mw.mode"], []).append(m)
    assert max(means["mw"]) < min(means["uniform"]), means


def test_zoqo_train_tables_match_hdf5(sweeps, reports):
    md = (reports["zoqo-train"][0] / "report.md").read_text()
    finals = []
    for path in cells(sweeps["zoqo-train"]):
        with h5py.File(path, "r") as f:
            finals.append({k: v[()] for k, v in f["final"].items()})
    accuracy = table(md, "Test accuracy of each arm")
    assert [r["arm"] for r in accuracy] == ["zoqo8", "sign", "sgd"]  # the order of zoqo.arms
    for row in accuracy:
        (mean, half), decimals = numbers(row["final acc %"])
        m, h = mean_half([100 * f[f"test_acc_{row['arm']}"] for f in finals])
        assert close(mean, m, decimals) and close(half, h, decimals)
    delta = accuracy[0]["Δ final acc (points) vs arm=sign"]
    (mean, half), decimals = numbers(delta)
    m, h = mean_half([100 * (f["test_acc_zoqo8"] - f["test_acc_sign"]) for f in finals])
    assert close(mean, m, decimals) and close(half, h, decimals)
    cost = table(md, "Cost of each arm")
    for row in cost:
        (mean, _), decimals = numbers(row["update MB"])
        assert close(mean, np.mean([f[f"update_mb_{row['arm']}"] for f in finals]), decimals)


def test_zoqo_attack_table_matches_hdf5(sweeps, reports):
    rows = table((reports["zoqo-attack"][0] / "report.md").read_text(),
                 "Success rate (%) of each attack")
    runs = []
    for path in cells(sweeps["zoqo-attack"]):
        with h5py.File(path, "r") as f:
            runs.append(({k: v[()] for k, v in f["final"].items()},
                         {k: v[:] for k, v in f["arrays"].items()}))
    assert [r["method"] for r in rows] == ["zoqo", "sign"]
    for row in rows:
        for eps in ("0.05", "0.2"):
            rate = [100 * fin[f"success_{row['method']}_eps{eps}"] for fin, _ in runs]
            queries = np.concatenate([arr[f"queries_{row['method']}_eps{eps}"] for _, arr in runs])
            fooled = queries[queries >= 0]
            cell = row[f"ε = {eps}"]
            m, h = mean_half(rate)
            expected = [m, h, fooled.mean(), np.median(fooled)]
            printed = [float(x) for x in re.findall(r"\d+(?:\.\d+)?", cell)]
            decimals = [1, 1, 0, 0]
            assert all(map(close, printed, expected, decimals)), (cell, expected)
