"""analysis/runs.py and analysis/report.py on a generated sweep: 3 learning rates x 2 seeds of a
small train, 5 of the 6 cells run (cell 5 left missing). The report's table must match the
HDF5 contents read here with h5py alone; the plots must be PNG files."""
import os
import subprocess

import h5py
import pytest
from conftest import ENV, RANKLAB, TRAIN_TINY, close, mean_half, numbers, report, table

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
