# `mw-train` stopped by SIGTERM or killed by SIGKILL and resumed ends with the same example
# weights (final and saved epochs), cumulative losses, parameters and metrics as an uninterrupted
# run (issue 4, acceptance 2), also when resumed on another rank count, for MW and for ELR.
source "$(dirname "$0")/lib.bash"
SMALL_MW=(data.train_limit=2700 data.test_limit=1000 model.spec=mlp:784-64-10 train.epochs=4
          train.batch=100 train.chunk=16 data.noise=symmetric data.noise_rate=0.6 ckpt.every=20)
MW=(run mw-train "${SMALL_MW[@]}" mw.cap=1.5 mw.save_epochs=1,3)
ranks 2 "${MW[@]}" --out "$SCRATCH/ref" >/dev/null 2>&1

# 27 steps per epoch: SIGTERM at step 45 (after epoch 1's weight update and snapshot). The
# comparisons include the weights, cumulative losses and snapshots.
stop_and_resume "MW" term@45:1 "from step 45" 2 "$SCRATCH/ref/results.h5" "$SCRATCH/term" "${MW[@]}"
# SIGKILL on rank 0 at step 70: the newest checkpoint is step 60 (mid epoch 3); resume on 4 ranks.
stop_and_resume "MW" kill@70:0 "from step 60" 4 "$SCRATCH/ref/results.h5" "$SCRATCH/kill" "${MW[@]}"
check "and the snapshots are there" /usr/bin/python3 -c "
import h5py; f = h5py.File('$SCRATCH/kill/results.h5', 'r')
assert sorted(f['arrays']) == ['cum_loss', 'noisy', 'params', 'weights', 'weights_epoch_0001',
                               'weights_epoch_0003'], list(f['arrays'])"

# ELR keeps per-example targets: stopped on 2 ranks at step 75, resumed on 1.
ELR=(run mw-train "${SMALL_MW[@]}" mw.mode=elr)
ranks 2 "${ELR[@]}" --out "$SCRATCH/elr-ref" >/dev/null 2>&1
stop_and_resume "ELR" term@75:0 "from step 75" 1 "$SCRATCH/elr-ref/results.h5" "$SCRATCH/elr" \
    "${ELR[@]}"
finish
