# `mw-train` stopped by SIGTERM or killed by SIGKILL and resumed ends with the same example
# weights (final and saved epochs), cumulative losses, parameters and metrics as an uninterrupted
# run (issue 4, acceptance 2), also when resumed on another rank count, for MW and for ELR.
source "$(dirname "$0")/lib.bash"
SMALL_MW=(data.train_limit=2700 data.test_limit=1000 model.spec=mlp:784-64-10 train.epochs=4
          train.batch=100 train.chunk=16 data.noise=symmetric data.noise_rate=0.6 ckpt.every=20)
MW=(run mw-train "${SMALL_MW[@]}" mw.cap=1.5 mw.save_epochs=1,3)
ranks 2 "${MW[@]}" --out "$SCRATCH/ref" >/dev/null 2>&1

# 27 steps per epoch: SIGTERM at step 45 (after epoch 1's weight update and snapshot).
set +e
RANKLAB_FAULT=term@45:1 ranks 2 "${MW[@]}" --out "$SCRATCH/term" >"$SCRATCH/term.log" 2>&1
code=$?
set -e
check "SIGTERM exits with code 75 (got $code)" test "$code" -eq 75
check "SIGTERM leaves a checkpoint at step 45" test -f "$SCRATCH/term/ckpt/step-0000000045.h5"
ranks 2 "${MW[@]}" --out "$SCRATCH/term" >"$SCRATCH/term2.log" 2>&1
check "resume after SIGTERM starts at step 45" grep -q "from step 45" "$SCRATCH/term2.log"
check "resumed after SIGTERM == uninterrupted (weights included)" \
    same_results "$SCRATCH/ref/results.h5" "$SCRATCH/term/results.h5"

# SIGKILL on rank 0 at step 70: the newest checkpoint is step 60 (mid epoch 3); resume on 4 ranks.
set +e
RANKLAB_FAULT=kill@70:0 ranks 2 "${MW[@]}" --out "$SCRATCH/kill" >"$SCRATCH/kill.log" 2>&1
code=$?
set -e
check "SIGKILL fails the job (code $code)" test "$code" -ne 0 -a "$code" -ne 75
check "SIGKILL leaves no results.h5" test ! -e "$SCRATCH/kill/results.h5"
ranks 4 "${MW[@]}" --out "$SCRATCH/kill" >"$SCRATCH/kill2.log" 2>&1
check "resume after SIGKILL starts at step 60" grep -q "from step 60" "$SCRATCH/kill2.log"
check "killed on 2 ranks, resumed on 4 == uninterrupted (weights included)" \
    same_results "$SCRATCH/ref/results.h5" "$SCRATCH/kill/results.h5"
check "and the snapshots are there" /usr/bin/python3 -c "
import h5py; f = h5py.File('$SCRATCH/kill/results.h5', 'r')
assert sorted(f['arrays']) == ['cum_loss', 'noisy', 'params', 'weights', 'weights_epoch_0001',
                               'weights_epoch_0003'], list(f['arrays'])"

# ELR keeps per-example targets: stopped on 2 ranks at step 75, resumed on 1.
ELR=(run mw-train "${SMALL_MW[@]}" mw.mode=elr)
ranks 2 "${ELR[@]}" --out "$SCRATCH/elr-ref" >/dev/null 2>&1
set +e
RANKLAB_FAULT=term@75:0 ranks 2 "${ELR[@]}" --out "$SCRATCH/elr" >/dev/null 2>&1
set -e
ranks 1 "${ELR[@]}" --out "$SCRATCH/elr" >"$SCRATCH/elr2.log" 2>&1
check "ELR resumed from step 75" grep -q "from step 75" "$SCRATCH/elr2.log"
check "ELR stopped on 2 ranks, resumed on 1 == uninterrupted" \
    same_results "$SCRATCH/elr-ref/results.h5" "$SCRATCH/elr/results.h5"
finish
