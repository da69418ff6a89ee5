"""Load ranklab results (results.h5) into pandas: one run, several, or a sweep directory.

    import sys; sys.path.insert(0, "analysis")
    from runs import load_sweep, load_curves
    runs = load_sweep("runs/sweep1")     # one row per complete cell: cell, run_id, config
                                         # columns ("train.lr", ...), final metrics ("test_acc")
    runs.attrs["swept"]                  # the swept keys, from the sweep's manifest.tsv
    curves = load_curves("runs/sweep1")  # long form: cell, run_id, swept keys, step, metric, value

Runs with no complete results.h5 are left out (and listed in runs.attrs["not_complete"]).
Needs Debian's python3-h5py and python3-pandas (/usr/bin/python3).
"""
import csv
import glob
import os

import h5py
import pandas as pd

META = ("experiment", "run_id", "status", "world_size", "git_sha", "created_utc")


def _text(value):
    return value.decode() if isinstance(value, bytes) else value


def _results_path(path):
    return path if path.endswith(".h5") else os.path.join(path, "results.h5")


def read_run(path):
    """One run (its directory or results.h5) as a dict: meta, config keys, final metrics."""
    with h5py.File(_results_path(path), "r") as f:
        row = {key: _text(f.attrs[key]) for key in META if key in f.attrs}
        row.update({key: _text(v) for key, v in f["config"].attrs.items()})
        if "final" in f:
            row.update({name: ds[()].item() for name, ds in f["final"].items()})
    row["path"] = os.path.dirname(os.path.abspath(_results_path(path)))
    return row


def read_curves(path):
    """Metric histories of one run, long form: step, metric, value."""
    with h5py.File(_results_path(path), "r") as f:
        metrics = f["metrics"]
        steps = metrics["step"][:]
        parts = [pd.DataFrame({"step": steps, "metric": name, "value": ds[:]})
                 for name, ds in metrics.items() if name != "step"]
    return pd.concat(parts, ignore_index=True)


def is_complete(path):
    try:
        with h5py.File(_results_path(path), "r") as f:
            return _text(f.attrs.get("status")) == "complete"
    except OSError:
        return False


def read_manifest(sweep_dir):
    """The sweep's cells: dicts with cell, run_id, dir and the swept keys' values (text)."""
    with open(os.path.join(sweep_dir, "manifest.tsv"), newline="") as f:
        return list(csv.DictReader(f, delimiter="\t"))


def swept_keys(sweep_dir):
    with open(os.path.join(sweep_dir, "manifest.tsv")) as f:
        return f.readline().rstrip("\n").split("\t")[3:]


def run_dirs(args):
    """Run directories from arguments that are run directories, sweep directories (their cells)
    or parents of run directories."""
    dirs = []
    for a in args:
        if os.path.exists(os.path.join(a, "results.h5")):
            dirs.append(a)
        else:
            parent = os.path.join(a, "cells") if os.path.isdir(os.path.join(a, "cells")) else a
            dirs += sorted(os.path.dirname(p)
                           for p in glob.glob(os.path.join(parent, "*/results.h5")))
    return dirs


def load_runs(paths):
    """Several runs (directories or results.h5 files), one row each; incomplete ones skipped."""
    done = [p for p in paths if is_complete(p)]
    df = pd.DataFrame([read_run(p) for p in done])
    df.attrs["not_complete"] = [p for p in paths if p not in done]
    return df


def load_run(path):
    return load_runs([path])


def _cells(sweep_dir):
    return [(int(row["cell"]), os.path.join(sweep_dir, row["dir"]))
            for row in read_manifest(sweep_dir)]


def load_sweep(sweep_dir):
    """One row per complete cell of a sweep directory, with its cell index."""
    cells = _cells(sweep_dir)
    rows = [dict(cell=cell, **read_run(path)) for cell, path in cells if is_complete(path)]
    df = pd.DataFrame(rows)
    df.attrs["swept"] = swept_keys(sweep_dir)
    df.attrs["not_complete"] = [cell for cell, path in cells if not is_complete(path)]
    return df


def load_curves(path):
    """Long-form metric histories of a sweep directory (with cell and swept-key columns) or of
    one run directory."""
    if not os.path.exists(os.path.join(path, "manifest.tsv")):
        curves = read_curves(path)
        curves.insert(0, "run_id", read_run(path)["run_id"])
        return curves
    keys = swept_keys(path)
    parts = []
    for cell, cell_dir in _cells(path):
        if not is_complete(cell_dir):
            continue
        run = read_run(cell_dir)
        curves = read_curves(cell_dir)
        for i, column in enumerate(["cell", "run_id"] + keys):
            curves.insert(i, column, cell if column == "cell" else run[column])
        parts.append(curves)
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
