# `prune-init` gives bit-identical masks, scores, parameters and metrics on 1, 2 and 4 ranks
# (issue 8, acceptance 1) for every score, with top-k and sampling (with and without
# replacement, rescaled or not), global and per-layer selection, on an MLP and on CNNs (conv
# weights, a strided conv, a residual projection; issue 16); masked training keeps the pruned
# weights at 0; top-k keeps exactly the budget; another seed samples another mask; settings that
# make no sense are refused before anything is written.
source "$(dirname "$0")/lib.bash"
SMALL_PRUNE=(data.name=fashion-mnist data.train_limit=600 data.test_limit=250 data.dim=20
             prune.feature_scale=1 prune.feature_corr=0 model.spec=mlp:784-32-16-10
             train.epochs=1 train.batch=100 train.chunk=16 prune.score_examples=300
             prune.train=masked prune.synflow_iters=5)
CASES=(
    "prune.score=random prune.select=sample prune.rescale=true prune.sparsity=0.9"
    "prune.score=magnitude prune.select=topk prune.replace=false prune.rescale=false prune.scope=layer prune.sparsity=0.8"
    "prune.score=snip prune.select=sample prune.replace=true prune.rescale=true prune.sparsity=0.95"
    "prune.score=grasp prune.select=sample prune.replace=false prune.rescale=true prune.scope=layer prune.sparsity=0.9"
    "prune.score=synflow prune.select=sample prune.replace=true prune.rescale=false prune.sparsity=0.99"
    "prune.score=sketch prune.select=topk prune.replace=false prune.rescale=false prune.sparsity=0.5"
)
for c in "${!CASES[@]}"; do
    # shellcheck disable=SC2086
    same_on_ranks "c$c" "case $c (${CASES[$c]%% *})" run prune-init "${SMALL_PRUNE[@]}" ${CASES[$c]}
done
# Convolution layers: a plain CNN (SynFlow sampled; the sketch score top-k per layer) and one
# with group norm and a residual block with a projection (the sketch score reads the shortcut).
CNN_PRUNE=(data.name=fashion-mnist data.train_limit=600 data.test_limit=250 train.epochs=1
           train.batch=100 train.chunk=16 prune.score_examples=300 prune.train=masked
           prune.synflow_iters=5 prune.feature_scale=1 prune.feature_corr=0)
CNN_A=model.spec=cnn:1x28x28-conv4k3-relu-maxpool2-conv8k3s2-relu-fc10
CNN_CASES=(
    "$CNN_A prune.score=synflow prune.select=sample prune.replace=false prune.rescale=false prune.sparsity=0.9"
    "$CNN_A prune.score=sketch prune.select=topk prune.replace=false prune.rescale=false prune.scope=layer prune.sparsity=0.7"
    "model.spec=cnn:1x28x28-conv4k3-gn2-relu-res8s2g2-gap-fc10 prune.score=sketch prune.select=sample prune.replace=true prune.rescale=true prune.sparsity=0.8"
)
for c in "${!CNN_CASES[@]}"; do
    # shellcheck disable=SC2086
    same_on_ranks "cnn$c" "CNN case $c (${CNN_CASES[$c]#* })" run prune-init "${CNN_PRUNE[@]}" ${CNN_CASES[$c]}
done
check "CNN masks: conv and fc weights pruned, biases kept, per-layer top-k exact" \
    /usr/bin/python3 - "$SCRATCH" <<'PY'
import sys
import h5py
import numpy as np
d = sys.argv[1]
# cnn:1x28x28-conv4k3-relu-maxpool2-conv8k3s2-relu-fc10: (weights, biases) per layer
sizes = [(4 * 1 * 9, 4), (8 * 4 * 9, 8), (10 * 8 * 7 * 7, 10)]
for c, sparsity in ((0, 0.9), (1, 0.7)):
    f = h5py.File(f"{d}/cnn{c}-1/results.h5", "r")
    mask, params = f["arrays/mask"][:], f["arrays/params"][:]
    off, kept = 0, 0
    for w, b in sizes:
        mw, mb = mask[off:off + w], mask[off + w:off + w + b]
        assert np.all(mb == 1), c                          # biases kept
        assert np.all(params[off:off + w][mw == 0] == 0), c  # pruned weights stayed 0
        assert (mw == 0).any() and (mw != 0).any(), c       # every layer pruned, none emptied
        if c == 1:
            assert (mw != 0).sum() == round((1 - sparsity) * w), (c, (mw != 0).sum())
        kept += (mw != 0).sum()
        off += w + b
    assert off == len(mask) and kept == f["final/kept"][()], c
g = h5py.File(f"{d}/cnn2-1/results.h5", "r")
assert 0 < g["final/density"][()] <= 0.2 + 1e-9
PY

# The linear sketch (defaults: linreg, dense training, sampled with replacement and rescaled).
for p in 1 3; do
    ranks $p run prune-init train.epochs=2 --out "$SCRATCH/lin-$p" >"$SCRATCH/lin-$p.log" 2>&1
done
check "linear sketch error and bound: 3 ranks == 1 rank" \
    same_results "$SCRATCH/lin-1/results.h5" "$SCRATCH/lin-3/results.h5"
ranks 2 run prune-init "${SMALL_PRUNE[@]}" ${CASES[0]} run.seed=2 --out "$SCRATCH/seed2" \
    >/dev/null 2>&1
check "another seed samples another mask" bash -c "! /usr/bin/python3 \
    $(dirname "$0")/same_results.py $SCRATCH/c0-1/results.h5 $SCRATCH/seed2/results.h5 >/dev/null"

check "masks: pruned weights stay 0, top-k keeps the budget, biases kept" /usr/bin/python3 - \
    "$SCRATCH" <<'PY'
import sys
import h5py
import numpy as np
d = sys.argv[1]
sizes = [(784, 32), (32, 16), (16, 10)]
def layers(a):
    out, off = [], 0
    for i, o in sizes:
        out.append((a[off:off + i * o], a[off + i * o:off + i * o + o]))
        off += i * o + o
    assert off == len(a)
    return out
for c, (sparsity, per_layer, exact) in enumerate([(0.9, 0, 0), (0.8, 1, 1), (0.95, 0, 0),
                                                   (0.9, 1, 1), (0.99, 0, 0), (0.5, 0, 1)]):
    f = h5py.File(f"{d}/c{c}-2/results.h5", "r")
    mask, params = f["arrays/mask"][:], f["arrays/params"][:]
    for (mw, mb), (pw, pb) in zip(layers(mask), layers(params)):
        assert np.all(mb == 1), c
        assert np.all(pw[mw == 0] == 0), c          # pruned weights stayed 0 through training
        if per_layer and exact:
            assert (mw != 0).sum() == round((1 - sparsity) * len(mw)), c
    kept = sum((mw != 0).sum() for mw, _ in layers(mask))
    total = sum(len(mw) for mw, _ in layers(mask))
    assert kept == f["final/kept"][()], c
    if exact and not per_layer:
        assert kept == round((1 - sparsity) * total), (c, kept)
    assert kept <= round((1 - sparsity) * total) + 3, (c, kept)   # per-layer rounding
    if c == 0:                                   # rescaled: kept weights carry 1/π >= 1
        assert np.all(mask[mask != 0] >= 1) and np.any(mask > 1)
lin = h5py.File(f"{d}/lin-1/results.h5", "r")
fin = {k: lin["final"][k][()] for k in lin["final"]}
assert fin["bound_applies"] == 1 and 0 < fin["sketch_error"] and np.isfinite(fin["sketch_bound"])
print("kept, density and sketch:", {k: round(float(fin[k]), 4) for k in
      ("density", "sketch_error", "sketch_bound", "init_sketch_error", "init_sketch_bound")})
PY

REFUSAL_BASE=(run prune-init)
expect_refusal "rescaling a top-k mask is refused" "no effect with prune.select=topk" \
    prune.select=topk prune.replace=false prune.rescale=true
expect_refusal "feature shaping on Fashion-MNIST is refused" "shape synthetic features" \
    "${SMALL_PRUNE[@]}" prune.feature_scale=10
expect_refusal "an unknown score is refused" "choose one of" prune.score=hessian
expect_refusal "SynFlow on a network with group norm is refused" "normalizes" \
    "${CNN_PRUNE[@]}" model.spec=cnn:1x28x28-conv4k3-gn2-relu-fc10 prune.score=synflow
expect_refusal "SynFlow on a network with batch norm is refused" "batch norm" \
    "${CNN_PRUNE[@]}" model.spec=cnn:1x28x28-conv4k3-bn-relu-fc10 prune.score=synflow
finish
