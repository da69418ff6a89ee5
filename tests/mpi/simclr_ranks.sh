# subset-select on SimCLR features (subset.encoder=simclr, issue 16): the contrastive encoder,
# trained data-parallel (embeddings gathered, NT-Xent replicated, chunk gradients summed exactly),
# gives the same features, selections and accuracies on 1, 2 and 4 ranks; its features are
# post-ReLU and uncentered; a run reading the feature cache (pool and test features) selects and
# scores as one computing them, a cache made by another config is refused; the encoder is not
# checkpointed while it trains (a run stopped by SIGTERM starts over), so a run stopped at a budget
# and restarted reads the cache and ends as an uninterrupted run; bad encoder specs are refused
# with a hint before anything is written.
source "$(dirname "$0")/lib.bash"
SC=(data.name=fashion-mnist data.train_limit=2900 data.test_limit=500 subset.encoder=simclr
    subset.simclr_epochs=2 subset.simclr_images=600 subset.simclr_batch=100 train.chunk=16
    subset.iters=50 "subset.budgets=10,40,120" subset.selector=kcenter-norm)
same_on_ranks sc "simclr features" run subset-select "${SC[@]}"
check "the encoder trained (2 epochs, NT-Xent logged)" grep -q "simclr epoch 2: mean NT-Xent" \
    "$SCRATCH/sc-1.log"
feature_cache_round_trip sc 4 "${SC[@]}"
check "cached features: pool then test rows, 128 post-ReLU uncentered values each" \
    /usr/bin/python3 - "$SCRATCH/sc.h5" <<'PY'
import sys
import h5py
import numpy as np
f = h5py.File(sys.argv[1], "r")
x = f["features"][:]
assert x.shape == (2900 + 500, 128), x.shape
assert x.min() >= 0 and (x > 0).mean() > 0.05, (x.min(), (x > 0).mean())
mean = x[:2900].mean(axis=0)
assert np.abs(mean).max() > 0.1 * np.abs(x[:2900] - mean).std(), "features look centered"
assert "simclr cnn:1x28x28" in f.attrs["key"] and "epochs=2" in f.attrs["key"]
PY
REFUSAL_BASE=(run subset-select "${SC[@]}")
expect_refusal "a cache made by another encoder config is refused with a hint" "epochs=2" \
    subset.simclr_epochs=3 subset.feature_cache="$SCRATCH/sc.h5"

# SIGTERM on rank 1 before budget 2: exit 75, no results; the same command starts over from the
# cache (the encoder is not retrained) and ends as the uninterrupted run. Not lib.bash's
# stop_and_resume: that one requires a checkpoint after the stop and a resume from it, while
# subset-select writes no checkpoints (a stopped run starts over; only the cache survives).
set +e
RANKLAB_FAULT=term@1:1 ranks 2 run subset-select "${SC[@]}" subset.feature_cache="$SCRATCH/sc.h5" \
    --out "$SCRATCH/sc-term" >"$SCRATCH/sc-term.log" 2>&1
code=$?
set -e
check "SIGTERM exits with code 75 (got $code), no results.h5" bash -c \
    "[ $code -eq 75 ] && [ ! -e '$SCRATCH/sc-term/results.h5' ]"
ranks 4 run subset-select "${SC[@]}" subset.feature_cache="$SCRATCH/sc.h5" \
    --out "$SCRATCH/sc-term" >"$SCRATCH/sc-term2.log" 2>&1
check "the restart reads the cache, trains nothing" bash -c \
    "grep -q 'from the cache' '$SCRATCH/sc-term2.log' && ! grep -q epoch '$SCRATCH/sc-term2.log'"
check "stopped on 2 ranks, restarted on 4 == uninterrupted" \
    same_results "$SCRATCH/sc-1/results.h5" "$SCRATCH/sc-term/results.h5"

expect_refusal "a backbone that does not end in relu" "does not end in relu" \
    subset.simclr_spec=cnn:1x28x28-conv8k3-relu-maxpool2-fc32
expect_refusal "an mlp: backbone" 'is not a "cnn:" spec' subset.simclr_spec=mlp:784-128
expect_refusal "a backbone with batch norm" "batch norm or dropout" \
    subset.simclr_spec=cnn:1x28x28-conv8k3-bn-relu-maxpool2-fc32-relu
expect_refusal "a backbone for other images" "subset.simclr_spec" \
    subset.simclr_spec=cnn:3x32x32-conv8k3-relu-maxpool2-fc32-relu
expect_refusal "a temperature of 0" "subset.simclr_temperature" subset.simclr_temperature=0
finish
