# A ResNet-20 with batch norm (per-chunk statistics, running averages) and dropout, at small
# widths, on augmented data (crop, flip): `train`, `mw-train` and `gor-train` give bit-identical results on 1, 2 and 4 ranks,
# and `train` resumes to the same results after SIGTERM (resumed on 4 ranks) and after SIGKILL
# (the running averages are part of the checkpoint); the running averages are saved with the
# final model, and evaluation uses them; bad batch-norm and dropout specs are refused.
source "$(dirname "$0")/lib.bash"
RESNET20_BN=cnn:1x28x28-conv4k3s2-bn-relu-res4bnx3-res8s2bnx3-res16s2bnx3-gap-drop0.2-fc10
ARGS=(data.train_limit=300 data.test_limit=100 train.epochs=2 train.batch=50 train.chunk=10
      data.augment=crop,flip ckpt.every=4 model.spec=$RESNET20_BN)

for experiment in train mw-train gor-train; do
    same_on_ranks "$experiment" "$experiment, ResNet-20 with batch norm" run $experiment "${ARGS[@]}"
done

check "the running averages are saved with the final model and have moved from (0, 1)" \
    /usr/bin/python3 - "$SCRATCH/train-1/results.h5" <<'PY'
import sys
import h5py
import numpy as np
f = h5py.File(sys.argv[1], "r")
stats = f["arrays/bn_stats"][:]
# 19 batch norms of 4 x 7 + 8 x 6 + 16 x 6 channels: a mean and a variance each
assert stats.shape == (2 * (4 * 7 + 8 * 6 + 16 * 6),), stats.shape
assert "res16s2bnx3" in str(f["arrays/bn_stats"].attrs["model"])
mean, var = stats[:4], stats[4:8]  # the first batch norm's
assert np.all(mean != 0) and np.all(var != 1) and np.all(var > 0), (mean, var)
PY

# Without updates of the running averages, evaluation normalizes with (0, 1): other metrics.
ranks 2 run train "${ARGS[@]}" train.bn_momentum=0 --out "$SCRATCH/frozen" >/dev/null 2>&1
check "evaluation uses the running averages (train.bn_momentum=0 evaluates otherwise)" \
    bash -c "! /usr/bin/python3 $(dirname "$0")/same_results.py $SCRATCH/train-1/results.h5 $SCRATCH/frozen/results.h5 >/dev/null"

stop_and_resume "batch norm" term@6:1 "from step 6" 4 "$SCRATCH/train-1/results.h5" \
    "$SCRATCH/term" run train "${ARGS[@]}"
stop_and_resume "batch norm" kill@10:0 "from step 8" 2 "$SCRATCH/train-1/results.h5" \
    "$SCRATCH/kill" run train "${ARGS[@]}"

REFUSAL_BASE=(run train "${ARGS[@]}")
expect_refusal "a dropout share of 1 is refused" "bad dropout" \
    model.spec=cnn:1x28x28-conv4k3-bn-relu-drop1-fc10
expect_refusal "a residual stage of batch-norm blocks without a count is refused" \
    "bad residual block" model.spec=cnn:1x28x28-conv4k3-bn-relu-res4bnx-gap-fc10
finish
