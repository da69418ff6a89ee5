"""analysis/runs.py and analysis/report.py on a generated sweep: 3 learning rates x 2 seeds of a
small train, 5 of the 6 cells run (cell 5 left missing). The report's table must match the
HDF5 contents read here with h5py alone; the plots must be PNG files; runs given twice or copied
count once; a damaged manifest.tsv and bad options are errors before anything is written; the
cells left out are said, with their states, on stderr and in report.md's header."""
import os
import re
import shutil
import subprocess

import h5py
import pytest
from conftest import (ENV, RANKLAB, TRAIN_TINY, close, mean_half, numbers, report, run_report,
                      table)

import runs

SWEEP = """[sweep]
experiment = train
train.lr = 0.02, 0.005, 0.001
run.seed = 1, 2
""" + TRAIN_TINY


@pytest.fixture(scope="module")
def sweep_dir(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("analysis")
    (tmp / "sweep.ini").write_text(SWEEP)
    sweep = str(tmp / "sweep")
    subprocess.run([RANKLAB, "sweep", "plan", str(tmp / "sweep.ini"), "--dir", sweep],
                   check=True, env=ENV, stdout=subprocess.DEVNULL)
    for cell in range(5):
        subprocess.run([RANKLAB, "sweep", "run", sweep, "--cell", str(cell)], check=True,
                       env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return sweep


def h5_cells(sweep_dir):
    """(cell, lr, seed, final test_acc, metrics dict) straight from the files."""
    out = []
    for row in runs.read_manifest(sweep_dir):
        path = os.path.join(sweep_dir, row["dir"], "results.h5")
        if os.path.exists(path):
            with h5py.File(path, "r") as f:
                metrics = {k: v[:] for k, v in f["metrics"].items()}
                out.append((int(row["cell"]), f["config"].attrs["train.lr"],
                            f["config"].attrs["run.seed"], f["final/test_acc"][()], metrics))
    return out


def test_report_table_matches_hdf5(sweep_dir, tmp_path):
    written = report([sweep_dir], tmp_path)
    md = tmp_path / "report.md"
    assert str(md) in written
    rows = table(md.read_text(), "Final metrics per setting")
    cells = h5_cells(sweep_dir)
    assert len(cells) == 5
    assert [r["train.lr"] for r in rows] == ["0.001", "0.005", "0.02"]
    for row in rows:
        accs = [acc for _, lr, _, acc, _ in cells if lr == float(row["train.lr"])]
        assert int(row["n"]) == len(accs)
        printed, decimals = numbers(row["test_acc"])
        if len(accs) > 1:
            assert all(map(close, printed, mean_half(accs), [decimals] * 2)), row
        else:
            assert len(printed) == 1 and close(printed[0], accs[0], decimals)
    assert f"Not complete (left out): {sweep_dir} cell 5." in md.read_text()


def test_report_plots_are_png(sweep_dir, tmp_path):
    plots = [p for p in report([sweep_dir], tmp_path) if p.endswith(".png")]
    names = sorted(os.path.basename(p) for p in plots)
    assert names == ["curves_test_acc.png", "curves_test_loss.png", "curves_train_loss.png",
                     "final_test_acc_vs_train.lr.png"]
    for p in plots:
        with open(p, "rb") as f:
            assert f.read(8) == b"\x89PNG\r\n\x1a\n"
        assert os.path.getsize(p) > 5000


def test_load_sweep_and_curves(sweep_dir):
    df = runs.load([sweep_dir])
    cells = h5_cells(sweep_dir)
    assert list(df["cell"]) == [c for c, *_ in cells]
    assert df.attrs["swept"] == ["train.lr", "run.seed"]
    assert df.attrs["not_complete"] == [f"{sweep_dir} cell 5"]
    assert df.attrs["finals"] == ["steps", "test_acc", "test_loss", "train_loss", "wall_seconds"]
    assert runs.setting_keys(df) == ["train.lr"] and runs.replicate_keys(df) == ["run.seed"]
    rows = runs.load_rows(df)
    assert len(rows) == 2 * len(cells) and rows.attrs["metrics"] == [
        "epoch", "test_acc", "test_loss", "train_loss"]
    assert list(df["train.lr"]) == [lr for _, lr, *_ in cells]
    assert list(df["run.seed"]) == [seed for _, _, seed, *_ in cells]
    assert list(df["test_acc"]) == [acc for *_, acc, _ in cells]
    assert (df["status"] == "complete").all() and (df["model.spec"] == "mlp:784-16-10").all()
    curves = runs.load_curves(sweep_dir)
    for cell, _, _, _, metrics in cells:
        for name, values in metrics.items():
            if name == "step":
                continue
            got = curves[(curves.cell == cell) & (curves.metric == name)]
            assert list(got.step) == list(metrics["step"])
            assert list(got.value) == list(values)


def test_load_one_run(sweep_dir):
    cell_dir = os.path.join(sweep_dir, runs.read_manifest(sweep_dir)[0]["dir"])
    df = runs.load_run(cell_dir)
    assert len(df) == 1 and df["train.lr"][0] == 0.02 and df["experiment"][0] == "train"
    curves = runs.load_curves(cell_dir)
    assert set(curves.metric) == {"epoch", "train_loss", "test_loss", "test_acc"}


def header(markdown):
    """report.md up to its first section."""
    return markdown.split("\n## ")[0]


def n_total(md_path):
    """The runs the settings table counts, summed over its settings."""
    return sum(int(r["n"]) for r in table(md_path.read_text(), "Final metrics per setting"))


def test_runs_given_twice_count_once(sweep_dir, tmp_path):
    cell_dir = os.path.join(sweep_dir, runs.read_manifest(sweep_dir)[1]["dir"])
    copy = shutil.copytree(sweep_dir, tmp_path / "copy")
    for i, dirs in enumerate([[sweep_dir, sweep_dir], [sweep_dir, os.path.join(sweep_dir, "cells")],
                              [sweep_dir, cell_dir], [cell_dir, sweep_dir + "/"],
                              [sweep_dir, str(copy)]]):
        done = run_report(dirs, tmp_path / f"r{i}")
        assert done.returncode == 0, done.stderr
        md = tmp_path / f"r{i}" / "report.md"
        assert "Experiment `train`, 5 complete runs;" in md.read_text(), dirs
        assert n_total(md) == 5, dirs
    assert (f"{copy}: 5 runs counted once: copies of runs given already (the same run id; e.g. "
            f"{copy}/cells/0000-") in done.stderr
    assert len(runs.load([sweep_dir, str(copy)]).attrs["copies"]) == 5


def test_damaged_manifest_is_an_error_as_ranklab_says(sweep_dir, tmp_path):
    damaged = tmp_path / "damaged"
    damaged.mkdir()
    (damaged / "cells").symlink_to(os.path.join(sweep_dir, "cells"))
    shutil.copy(os.path.join(sweep_dir, "sweep.ini"), damaged)
    with open(os.path.join(sweep_dir, "manifest.tsv"), "rb") as f:
        (damaged / "manifest.tsv").write_bytes(f.read()[:150])
    status = subprocess.run([RANKLAB, "sweep", "status", str(damaged)], env=ENV,
                            capture_output=True, text=True)
    said = status.stderr.splitlines()[0]
    assert status.returncode != 0 and said.startswith(f"error: {damaged}/manifest.tsv:")
    done = run_report([str(damaged)], tmp_path / "out")
    assert done.returncode == 2
    assert done.stderr.splitlines()[0] == said  # the same file, line and problem
    assert "HINT: " in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("line, text, problem", [
    (2, "0\tbad", "2: 2 columns, but the header has 5"),
    (3, "7\t{run_id}\tcells/0001-{run_id}\t0.02\t2", "3: cell '7' where cell 1 belongs"),
    (2, "0\t{run_id}\tcells/../../x\t0.02\t1", "2: the directory of cell 0 is 'cells/../../x'"),
    (1, "cell\trun\tdir\ttrain.lr\trun.seed", "1: the columns are not cell, run_id, dir"),
])
def test_read_manifest_checks_rows(sweep_dir, tmp_path, line, text, problem):
    with open(os.path.join(sweep_dir, "manifest.tsv")) as f:
        lines = f.read().split("\n")
    lines[line - 1] = text.format(run_id=lines[line - 1].split("\t")[1])
    (tmp_path / "manifest.tsv").write_text("\n".join(lines))
    with pytest.raises(runs.ManifestError, match=re.escape(f"{tmp_path}/manifest.tsv:{problem}")):
        runs.load([str(tmp_path)])


@pytest.mark.parametrize("options", [["--bootstrap", "--resamples", "0"], ["--resamples", "-5"],
                                     ["--resamples", "many"], ["--metric", "typo"],
                                     ["--baseline", "train.lr=9"]])
def test_bad_options_are_errors_before_anything_is_written(sweep_dir, tmp_path, options):
    done = run_report([sweep_dir], tmp_path / "out", *options)
    assert done.returncode == 2 and "error: " in done.stderr, done.stderr
    assert "Traceback" not in done.stderr and done.stdout == ""
    assert not (tmp_path / "out").exists()


def test_left_out_cells_are_said_with_their_states(sweep_dir, tmp_path):
    """Cell 1's results.h5 removed (started, not complete: failed), cell 5 never run."""
    sweep = shutil.copytree(sweep_dir, tmp_path / "sweep")
    os.remove(os.path.join(sweep, runs.read_manifest(sweep)[1]["dir"], "results.h5"))
    status = subprocess.run([RANKLAB, "sweep", "status", str(sweep)], env=ENV,
                            capture_output=True, text=True).stdout
    assert "6 cells: 4 complete, 0 running, 1 failed, 1 missing" in status
    done = run_report([str(sweep)], tmp_path / "out")
    said = (f"{sweep}: 4 of 6 cells complete; left out: cells 1, 5 (failed 1, running 0, not "
            f"started 1) — `ranklab sweep status {sweep}` says why")
    assert done.returncode == 0 and said in done.stderr.splitlines()
    md = (tmp_path / "out" / "report.md").read_text()
    assert f"- {said}." in header(md) and "4 complete runs" in header(md)
    assert runs.load([str(sweep)]).attrs["sources"][0]["left_out"] == [(1, "failed"),
                                                                     (5, "not started")]


def test_nothing_left_out_says_nothing(sweep_dir, tmp_path):
    cell_dir = os.path.join(sweep_dir, runs.read_manifest(sweep_dir)[0]["dir"])
    done = run_report([cell_dir], tmp_path / "out")
    assert done.returncode == 0 and done.stderr == ""
    assert "- " not in header((tmp_path / "out" / "report.md").read_text())
