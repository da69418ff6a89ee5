"""analysis/runs.py and report.py on a sweep where early stopping pruned a cell: 3 learning rates
of a small train, one far too small, run one cell at a time so that the median rule prunes that
cell at its first rung (as tests/mpi/sweep_prune.sh). A pruned run is left out of the frame and
the report, and listed apart from the runs that are not complete."""
import os

import h5py
import pytest
from conftest import report, run_sweep

import runs

SWEEP = """[sweep]
experiment = train
train.lr = 0.05, 0.03, 0.000001
early_stop = median
rungs = 1, 2
[data]
train_limit = 1000
test_limit = 300
[model]
spec = mlp:784-16-10
[train]
epochs = 4
batch = 50
optim = sgd
"""


@pytest.fixture(scope="module")
def pruned_sweep(tmp_path_factory):
    """One cell at a time, so that the rule sees cells 0 and 1 before cell 2."""
    return run_sweep(tmp_path_factory.mktemp("pruned"), "sweep", SWEEP, jobs=1)


def statuses(sweep):
    """Each cell's status, read with h5py alone."""
    out = []
    for row in runs.read_manifest(sweep):
        with h5py.File(os.path.join(sweep, row["dir"], "results.h5"), "r") as f:
            status = f.attrs["status"]
            out.append(status.decode() if isinstance(status, bytes) else status)
    return out


def test_pruned_cells_are_left_out_and_listed(pruned_sweep):
    assert statuses(pruned_sweep) == ["complete", "complete", "pruned"]
    df = runs.load([pruned_sweep])
    assert list(df["cell"]) == [0, 1] and (df["status"] == "complete").all()
    assert df.attrs["pruned"] == [f"{pruned_sweep} cell 2"]
    assert df.attrs["not_complete"] == []
    curves = runs.load_curves(pruned_sweep)
    assert sorted(curves["cell"].unique()) == [0, 1]
    cells = runs.run_dirs([pruned_sweep])
    one_by_one = runs.load_runs(cells)
    assert len(one_by_one) == 2 and one_by_one.attrs["pruned"] == [cells[2]]


def test_report_lists_pruned_cells_apart(pruned_sweep, tmp_path):
    written = report([pruned_sweep], tmp_path)
    text = open(next(p for p in written if p.endswith(".md"))).read()
    assert "2 complete runs" in text
    assert ("Pruned by early stopping (left out: they stopped before the end): "
            f"{pruned_sweep} cell 2.") in text
    assert "Not complete" not in text
