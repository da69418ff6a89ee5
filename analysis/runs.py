"""Load ranklab results (results.h5) into pandas: one run, several, or a sweep directory.

    import sys; sys.path.insert(0, "analysis")
    from runs import load, load_curves, load_rows, setting_keys
    runs = load(["runs/sweep1"])         # one row per complete cell: cell, run_id, config
                                         # columns ("train.lr", ...), final metrics ("test_acc")
    runs.attrs["swept"]                  # the swept keys, from the sweep's manifest.tsv
    runs = load(["runs/sweep1", "runs/mw"])  # sweeps, run directories or their parents
    rows = load_rows(runs)               # one row per metrics row, with its run's columns
    setting_keys(runs)                   # the config keys that tell settings apart
    curves = load_curves("runs/sweep1")  # long form: cell, run_id, swept keys, step, metric, value

Runs with no complete results.h5 are left out (and listed in runs.attrs["not_complete"]); so are
runs that early stopping pruned (status "pruned": they stopped early, so their finals are not
comparable; listed in runs.attrs["pruned"]). A run reached twice (`s1 s1`, `s1 s1/cells`) counts
once; so does a run whose copies sit in several directories (the same run id; listed in
runs.attrs["copies"]). runs.attrs["sources"] says per argument how many of its cells were
complete and why the others were left out (cell_state). A damaged manifest.tsv raises
ManifestError naming its file and line.
Boolean config keys read as bool. Needs Debian's python3-h5py and python3-pandas
(/usr/bin/python3).
"""
import glob
import os
import time

import h5py
import numpy as np
import pandas as pd

META = ("experiment", "run_id", "status", "world_size", "git_sha", "created_utc")


def _text(value):
    return value.decode() if isinstance(value, bytes) else value


def _config_value(value):
    """A /config attribute: text, a number, or a bool (stored as a signed char)."""
    return bool(value) if isinstance(value, np.int8) else _text(value)


def _results_path(path):
    return path if path.endswith(".h5") else os.path.join(path, "results.h5")


def _read_parts(path):
    """(meta, config, finals) of one run, each a dict."""
    with h5py.File(_results_path(path), "r") as f:
        meta = {key: _text(f.attrs[key]) for key in META if key in f.attrs}
        config = {key: _config_value(v) for key, v in f["config"].attrs.items()}
        finals = {name: ds[()].item() for name, ds in f["final"].items()} if "final" in f else {}
    meta["path"] = os.path.dirname(os.path.abspath(_results_path(path)))
    return meta, config, finals


def read_run(path):
    """One run (its directory or results.h5) as a dict: meta, config keys, final metrics."""
    meta, config, finals = _read_parts(path)
    path = meta.pop("path")
    return {**meta, **config, **finals, "path": path}


def read_rows(path):
    """Metric histories of one run, wide: a row per metrics row, columns step and the metrics."""
    with h5py.File(_results_path(path), "r") as f:
        return pd.DataFrame({name: ds[:] for name, ds in f["metrics"].items()})


def read_arrays(path, names):
    """Arrays of one run (/arrays/NAME for each name), as numpy arrays."""
    with h5py.File(_results_path(path), "r") as f:
        return [f["arrays"][name][:] for name in names]


def read_curves(path):
    """Metric histories of one run, long form: step, metric, value."""
    return read_rows(path).melt(id_vars="step", var_name="metric", value_name="value")


def run_status(path):
    """The status of a run's results.h5 ("complete", "pruned", ...), or None without one."""
    try:
        with h5py.File(_results_path(path), "r") as f:
            return _text(f.attrs.get("status"))
    except OSError:
        return None


def is_complete(path):
    return run_status(path) == "complete"


class ManifestError(ValueError):
    """A manifest.tsv that is not as ranklab sweep plan wrote it; the message names file:line."""


def read_manifest(sweep_dir):
    """The sweep's cells: dicts with cell, run_id, dir and the swept keys' values (text). Checks
    what ranklab sweep status checks of each row (its columns, cell number and directory) and
    raises ManifestError where a row is not as planned (an edited or truncated file)."""
    path = os.path.join(sweep_dir, "manifest.tsv")
    with open(path) as f:
        lines = f.read().split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    header = lines[0].split("\t") if lines else []
    if header[:3] != ["cell", "run_id", "dir"]:
        raise ManifestError(f"{path}:1: the columns are not cell, run_id, dir and the swept keys")
    rows = []
    for number, line in enumerate(lines[1:], start=2):
        fields = line.split("\t")
        if len(fields) != len(header):
            raise ManifestError(f"{path}:{number}: {len(fields)} columns, but the header has "
                                f"{len(header)}")
        row = dict(zip(header, fields))
        if row["cell"] != str(number - 2):
            raise ManifestError(f"{path}:{number}: cell '{row['cell']}' where cell {number - 2} "
                                "belongs")
        want = f"cells/{number - 2:04d}-{row['run_id']}"
        if row["dir"] != want:
            raise ManifestError(f"{path}:{number}: the directory of cell {number - 2} is "
                                f"'{row['dir']}', not {want}")
        rows.append(row)
    return rows


def swept_keys(sweep_dir):
    with open(os.path.join(sweep_dir, "manifest.tsv")) as f:
        return f.readline().rstrip("\n").split("\t")[3:]


STALE_SECONDS = 120  # a heartbeat older than this is not running (ranklab sweep status's default)


def cell_state(path, log=None):
    """Why a run is or is not in a report, roughly as ranklab sweep status says (it says why):
    "complete", "pruned", "running" (a fresh "running" heartbeat in sweep-cell.txt), "failed"
    (started: a results.h5 not complete, a heartbeat, a checkpoint or partial results, or the
    cell's log file `log`), or "not started"."""
    status = run_status(path)
    if status in ("complete", "pruned"):
        return status
    heartbeat = os.path.join(path, "sweep-cell.txt")
    try:
        with open(heartbeat) as f:
            line = f.readline()
        age = time.time() - os.path.getmtime(heartbeat)
        if line.startswith("running") and age < STALE_SECONDS:
            return "running"
    except OSError:
        pass
    traces = [heartbeat, os.path.join(path, "ckpt"), os.path.join(path, "results.h5.partial")]
    if status is not None or any(map(os.path.exists, traces + ([log] if log else []))):
        return "failed"
    return "not started"


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
    """Several runs (directories or results.h5 files), one row each; incomplete and pruned ones
    skipped (attrs not_complete and pruned)."""
    status = {p: run_status(p) for p in paths}
    df = pd.DataFrame([read_run(p) for p in paths if status[p] == "complete"])
    df.attrs["pruned"] = [p for p in paths if status[p] == "pruned"]
    df.attrs["not_complete"] = [p for p in paths if status[p] not in ("complete", "pruned")]
    return df


def load_run(path):
    return load_runs([path])


def _cells(sweep_dir):
    return [(int(row["cell"]), os.path.join(sweep_dir, row["dir"]))
            for row in read_manifest(sweep_dir)]


def load(args):
    """Complete runs of sweep directories, run directories or their parents, one row each (with
    its cell for a sweep's). A run directory reached through several arguments counts once, and
    so does a run id found in several directories (copies of one run; the first counts). attrs:
    swept (the swept keys of the sweeps given, in their order), config and finals (the config
    keys and final metric names present), not_complete (what was left out: "DIR cell N" or a run
    directory), pruned (left out too: stopped by early stopping), copies ((directory left out,
    directory counted, run id) per copy) and sources (per argument with runs not seen before: dir,
    sweep (whether a sweep directory), runs (how many), complete, left_out: (cell number or run
    directory, cell_state) of each run left out, and copies: its part of attrs copies)."""
    rows, swept, config, finals, missing, pruned = [], [], set(), set(), [], []
    seen, counted, copies, sources = set(), {}, [], []
    for a in args:
        sweep = os.path.exists(os.path.join(a, "manifest.tsv"))
        if sweep:
            cells = [(cell, path, f"{a} cell {cell}",
                      os.path.join(a, "logs", f"cell-{cell:04d}.out")) for cell, path in _cells(a)]
            swept += [k for k in swept_keys(a) if k not in swept]
        else:
            cells = [(None, path, path, None) for path in run_dirs([a])]
        cells = [c for c in cells if os.path.realpath(c[1]) not in seen]
        seen.update(os.path.realpath(c[1]) for c in cells)
        source = dict(dir=a, sweep=sweep, runs=len(cells), complete=0, left_out=[], copies=[])
        for cell, path, name, log in cells:
            state = cell_state(path, log)
            if state != "complete":
                (pruned if state == "pruned" else missing).append(name)
                source["left_out"].append((path if cell is None else cell, state))
                continue
            source["complete"] += 1
            meta, conf, fin = _read_parts(path)
            run_id = meta.get("run_id")
            if run_id in counted:
                source["copies"].append((path, counted[run_id], run_id))
                copies.append(source["copies"][-1])
                continue
            if run_id:
                counted[run_id] = path
            config.update(conf)
            finals.update(fin)
            rows.append({**({} if cell is None else {"cell": cell}), **meta, **conf, **fin})
        if cells:
            sources.append(source)
    df = pd.DataFrame(rows)
    df.attrs.update(swept=swept, config=sorted(config), finals=sorted(finals),
                    not_complete=missing, pruned=pruned, copies=copies, sources=sources)
    return df


def load_rows(runs):
    """The metrics rows of the runs of a frame from load(), one row each with its run's columns
    (final metrics left out where a metric of the same name exists); attrs as the runs', and
    metrics: the metric names (step left out)."""
    parts, metrics = [], set()
    for _, run in runs.iterrows():
        rows = read_rows(run["path"])
        metrics.update(rows.columns)
        own = run.drop([c for c in run.index if c in rows.columns])
        parts.append(rows.assign(**own.to_dict()))
    df = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
    df.attrs.update(runs.attrs, metrics=sorted(metrics - {"step"}))
    return df


def replicate_keys(runs):
    """The config keys that name a replicate rather than a setting (run.seed, prune.mask_seed:
    keys ending in "seed") and differ between the runs; run.seed if none do."""
    keys = [k for k in runs.attrs["config"] if k.endswith("seed") and runs[k].nunique() > 1]
    return keys or ["run.seed"]


def setting_keys(runs, along=()):
    """The config keys that tell settings apart: those whose value differs between runs (swept
    keys first, in the sweep's order), less replicate keys (ending in "seed"), keys that change
    only with run.seed (e.g. init.from naming each seed's base run), the keys in along (a
    table's columns, a figure's x axis) and keys whose value follows from those (data.noise
    = none exactly where data.noise_rate = 0)."""
    config = runs.attrs["config"]
    order = [k for k in runs.attrs["swept"] if k in config]
    order += [k for k in config if k not in order]
    keys = []
    for k in order:
        if k.endswith("seed") or k in along or runs[k].astype(str).nunique() < 2:
            continue
        column = runs[k].astype(str)
        seeds = runs["run.seed"]
        if seeds.nunique() > 1 and (column.groupby(seeds).nunique().max() == 1
                                    and seeds.groupby(column).nunique().max() == 1):
            continue
        if along and column.groupby([runs[a] for a in along]).nunique().max() == 1:
            continue
        keys.append(k)
    return keys


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
