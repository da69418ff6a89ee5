"""analysis/runs.py and analysis/report.py on a generated sweep: 3 learning rates x 2 seeds of a
small train, 5 of the 6 cells run (cell 5 left missing). The report's table must match the
HDF5 contents read here with h5py alone; the plots must be PNG files."""
import math
import os
import re
import subprocess
import sys

import h5py
import numpy as np
import pytest

SRC = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(SRC, "analysis"))
import runs  # noqa: E402

RANKLAB = os.environ.get("RANKLAB", os.path.join(SRC, "build", "ranklab"))
SWEEP = """[sweep]
experiment = train
train.lr = 0.02, 0.005, 0.001
run.seed = 1, 2
[data]
train_limit = 1000
test_limit = 500
[model]
spec = mlp:784-16-10
[train]
epochs = 2
batch = 100
"""


@pytest.fixture(scope="module")
def sweep_dir(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("analysis")
    (tmp / "sweep.ini").write_text(SWEEP)
    env = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
               OPENBLAS_NUM_THREADS="1")
    sweep = str(tmp / "sweep")
    subprocess.run([RANKLAB, "sweep", "plan", str(tmp / "sweep.ini"), "--dir", sweep],
                   check=True, env=env, stdout=subprocess.DEVNULL)
    for cell in range(5):
        subprocess.run([RANKLAB, "sweep", "run", sweep, "--cell", str(cell)], check=True,
                       env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
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


def parse_table(report):
    lines = [l for l in open(report) if l.startswith("| ")]
    header = [c.strip() for c in lines[0].strip("|\n").split("|")]
    return [dict(zip(header, (c.strip() for c in l.strip("|\n").split("|")))) for l in lines[1:]]


def test_report_table_matches_hdf5(sweep_dir, tmp_path):
    out = subprocess.run([sys.executable, os.path.join(SRC, "analysis", "report.py"), sweep_dir,
                          "--out", str(tmp_path)], check=True, capture_output=True, text=True)
    report = tmp_path / "report.md"
    assert f"wrote {report}" in out.stdout
    rows = parse_table(report)
    cells = h5_cells(sweep_dir)
    assert len(cells) == 5
    assert [r["train.lr"] for r in rows] == ["0.001", "0.005", "0.02"]
    for row in rows:
        accs = np.array([acc for _, lr, _, acc, _ in cells if lr == float(row["train.lr"])])
        assert int(row["n"]) == len(accs)
        parts = row["test_acc"].split(" ± ")
        assert math.isclose(float(parts[0]), accs.mean(), rel_tol=5e-4)
        if len(accs) > 1:
            assert math.isclose(float(parts[1]), accs.std(ddof=1), rel_tol=5e-2, abs_tol=1e-6)
        else:
            assert len(parts) == 1
    assert "Not complete (left out): cells 5." in report.read_text()


def test_report_plots_are_png(sweep_dir, tmp_path):
    out = subprocess.run([sys.executable, os.path.join(SRC, "analysis", "report.py"), sweep_dir,
                          "--out", str(tmp_path)], check=True, capture_output=True, text=True)
    plots = re.findall(r"^wrote (.*\.png)$", out.stdout, re.M)
    names = sorted(os.path.basename(p) for p in plots)
    assert names == ["curves_test_acc.png", "curves_test_loss.png", "curves_train_loss.png",
                     "final_test_acc_vs_train.lr.png"]
    for p in plots:
        with open(p, "rb") as f:
            assert f.read(8) == b"\x89PNG\r\n\x1a\n"
        assert os.path.getsize(p) > 5000


def test_load_sweep_and_curves(sweep_dir):
    df = runs.load_sweep(sweep_dir)
    cells = h5_cells(sweep_dir)
    assert list(df["cell"]) == [c for c, *_ in cells]
    assert df.attrs["swept"] == ["train.lr", "run.seed"]
    assert df.attrs["not_complete"] == [5]
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
