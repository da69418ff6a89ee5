"""Exit 0 when every cell of a sweep directory has a valid, complete results.h5: status
complete, the run id of the manifest, the manifest's swept values in /config, the given number
of ranks, a metrics row per epoch and finite final metrics. Otherwise print what is wrong."""
import csv
import math
import sys

import h5py

sweep_dir, ranks, epochs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
with open(f"{sweep_dir}/manifest.tsv") as f:
    rows = list(csv.DictReader(f, delimiter="\t"))
problems = []
for row in rows:
    path = f"{sweep_dir}/{row['dir']}/results.h5"
    try:
        with h5py.File(path, "r") as h:
            attrs, config = dict(h.attrs), dict(h["config"].attrs)
            want = {"status": "complete", "run_id": row["run_id"], "world_size": ranks}
            for key, value in want.items():
                if attrs.get(key) != value:
                    problems.append(f"{path}: {key} = {attrs.get(key)!r}, expected {value!r}")
            for key in row:
                if key not in ("cell", "run_id", "dir") and str(config[key]) != row[key] and \
                        not (isinstance(config[key], float) and config[key] == float(row[key])):
                    problems.append(f"{path}: /config {key} = {config[key]!r}, manifest {row[key]}")
            if len(h["metrics/step"]) != epochs or len(h["metrics/test_acc"]) != epochs:
                problems.append(f"{path}: {len(h['metrics/step'])} metric rows, expected {epochs}")
            for name in ("test_acc", "test_loss", "train_loss"):
                value = h[f"final/{name}"][()]
                if not math.isfinite(value):
                    problems.append(f"{path}: final/{name} = {value}")
            if not 0.1 < h["final/test_acc"][()] <= 1:
                problems.append(f"{path}: final/test_acc = {h['final/test_acc'][()]}")
    except (OSError, KeyError) as e:
        problems.append(f"{path}: {e}")
for p in problems[:20]:
    print(p)
print(f"{len(rows)} cells checked, {len(problems)} problems")
sys.exit(1 if problems or not rows else 0)
