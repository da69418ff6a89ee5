"""Results made by the real program for the analysis tests: tiny sweeps of every experiment the
report presets read (a few seconds each, two cells at a time), the report made once per sweep, and
helpers that read what the reports print."""
import math
import os
import re
import subprocess
import sys

import numpy as np
import pytest

SRC = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
RANKLAB = os.environ.get("RANKLAB", os.path.join(SRC, "build", "ranklab"))
REPORT = os.path.join(SRC, "analysis", "report.py")
ENV = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
           OPENBLAS_NUM_THREADS="1")
sys.path.insert(0, os.path.join(SRC, "analysis"))

MNIST_TINY = """[data]
train_limit = 600
test_limit = 200
"""
TRAIN_TINY = """[data]
train_limit = 1000
test_limit = 500
[model]
spec = mlp:784-16-10
[train]
epochs = 2
batch = 100
"""
SWEEPS = {
    # 2 settings (zipped) x 3 seeds; its first cell is the base model of the zoqo sweeps
    "train": """[sweep]
experiment = train
zip = train.optim, train.lr
train.optim = adam, sgd
train.lr = 0.003, 0.05
run.seed = 1, 2, 3
""" + TRAIN_TINY,
    "mw-train": """[sweep]
experiment = mw-train
mw.mode = uniform, mw
zip = data.noise_rate, data.noise
data.noise_rate = 0, 0.4
data.noise = none, symmetric
adv.eps = 0.05, 0.1
run.seed = 1, 2
[model]
spec = mlp:784-16-10
[train]
epochs = 2
batch = 100
[adv]
limit = 50
pgd_steps = 2
""" + MNIST_TINY,
    "zoqo-train": """[sweep]
experiment = zoqo-train
run.seed = 1, 2
[init]
from = {base}
[zoqo]
arms = zoqo8,sign,sgd
steps = 12
eval_every = 4
batch = 64
""" + MNIST_TINY,
    "zoqo-attack": """[sweep]
experiment = zoqo-attack
run.seed = 1, 2
[init]
from = {base}
[attack]
methods = zoqo,sign
eps = 0.05,0.2
images = 10
max_queries = 100
save_images = 0
""" + MNIST_TINY,
    "prune-init": """[sweep]
experiment = prune-init
prune.score = random, magnitude
prune.sparsity = 0.5, 0.9
run.seed = 1, 2
[model]
spec = mlp:784-10
[train]
epochs = 1
batch = 100
[prune]
select = topk
train = masked
replace = false
rescale = false
feature_scale = 1
feature_corr = 0
[data]
name = fashion-mnist
train_limit = 600
test_limit = 200
""",
    "subset-select": """[sweep]
experiment = subset-select
subset.selector = random, norm
run.seed = 1, 2
[subset]
budgets = 10,20,50
iters = 30
pca_dim = 8
[data]
train_limit = 1000
test_limit = 300
""",
}


def run_sweep(tmp, name, text, jobs=2):
    (tmp / f"{name}.ini").write_text(text)
    sweep = str(tmp / name)
    subprocess.run([RANKLAB, "sweep", "plan", str(tmp / f"{name}.ini"), "--dir", sweep],
                   check=True, env=ENV, stdout=subprocess.DEVNULL)
    subprocess.run([RANKLAB, "sweep", "run", sweep, "--all", "--jobs", str(jobs)], check=True,
                   env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return sweep


def run_report(dirs, out, *options):
    """Run analysis/report.py, whatever its exit code: the finished process (stdout, stderr)."""
    return subprocess.run([sys.executable, REPORT, *dirs, "--out", str(out), *options],
                          capture_output=True, text=True)


def report(dirs, out, *options):
    """Run analysis/report.py, which must succeed; the paths it says it wrote."""
    done = run_report(dirs, out, *options)
    assert done.returncode == 0, done.stderr
    return re.findall(r"^wrote (.*)$", done.stdout, re.M)


@pytest.fixture(scope="session")
def sweeps(tmp_path_factory):
    """Sweep directory per experiment."""
    tmp = tmp_path_factory.mktemp("sweeps")
    out = {"train": run_sweep(tmp, "train", SWEEPS["train"])}
    base = os.path.join(out["train"], "cells", sorted(os.listdir(out["train"] + "/cells"))[0])
    for name, text in SWEEPS.items():
        if name != "train":
            out[name] = run_sweep(tmp, name, text.replace("{base}", base))
    return out


@pytest.fixture(scope="session")
def reports(sweeps, tmp_path_factory):
    """The report of each sweep (preset auto, --latex): (output directory, paths written)."""
    tmp = tmp_path_factory.mktemp("reports")
    options = {"train": ["--baseline", "train.optim=sgd"]}
    return {name: (tmp / name, report([sweep], tmp / name, "--latex", *options.get(name, [])))
            for name, sweep in sweeps.items()}


def t975(df):
    """Student t's 0.975 quantile from its density integrated numerically (no table, no scipy)."""
    x = np.linspace(0, 60, 600001)
    log_c = math.lgamma((df + 1) / 2) - math.lgamma(df / 2) - 0.5 * math.log(df * math.pi)
    pdf = np.exp(log_c - (df + 1) / 2 * np.log1p(x * x / df))
    cdf = 0.5 + np.concatenate([[0], np.cumsum((pdf[1:] + pdf[:-1]) / 2 * np.diff(x))])
    return float(np.interp(0.975, cdf, x))


def mean_half(values):
    """Mean and half-width of the 95 % t-interval, computed here."""
    v = np.asarray(values, dtype=float)
    return v.mean(), t975(len(v) - 1) * v.std(ddof=1) / math.sqrt(len(v))


def tables(markdown):
    """The tables of a report.md: (caption, rows as dicts by header)."""
    out = []
    lines = markdown.split("\n")
    for i, line in enumerate(lines):
        if line.startswith("| ") and not lines[i - 1].startswith("|"):
            header = [c.strip() for c in line.strip("|").split("|")]
            rows = []
            for row in lines[i + 2:]:
                if not row.startswith("| "):
                    break
                rows.append(dict(zip(header, (c.strip() for c in row.strip("|").split("|")))))
            out.append((lines[i - 2].strip("*"), rows))
    return out


def table(markdown, caption_start):
    found = [rows for caption, rows in tables(markdown) if caption.startswith(caption_start)]
    assert len(found) == 1, f"one table captioned {caption_start!r}"
    return found[0]


def numbers(cell):
    """The numbers of a cell ('0.6853 ± 0.0349', '+1.2 [0.5, 2.0]', '20.0 ± 0.0 (36 / 32)') and
    the decimals printed."""
    found = re.findall(r"[-+]?\d+(?:\.(\d+))?", cell)
    values = [float(m.group()) for m in re.finditer(r"[-+]?\d+(?:\.\d+)?", cell)]
    return values, len(found[0]) if found else 0


def close(printed, value, decimals):
    """printed is value rounded to decimals."""
    return abs(printed - value) <= 0.51 * 10 ** -decimals + 1e-12
