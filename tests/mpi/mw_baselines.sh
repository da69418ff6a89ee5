# mw-train's schedules and baselines give bit-identical weights, parameters and metrics on 1, 2
# and 4 ranks and after SIGTERM + resume on another rank count: the learning-rate and MW-rate
# milestone schedules, MW with label smoothing, MW with mixup (pairs across chunks and ranks)
# and all of them together, and Co-teaching (two networks, selection over ranks) (issue 16);
# bad settings are refused before anything is written.
source "$(dirname "$0")/lib.bash"
SMALL_MW=(data.train_limit=2700 data.test_limit=1000 model.spec=mlp:784-64-10 train.epochs=4
          train.batch=100 train.chunk=16 data.noise=symmetric data.noise_rate=0.6)
# 27 steps per epoch; the rates step down from epoch 3 (0-based 2): η ×3 after epoch 2's loss
# pass, the learning rate ×0.5 from epoch 3 and ×0.5 again from epoch 4.
SCHEDULES=(train.optim=sgd train.lr=0.05 train.lr_milestones=2,3 train.lr_gamma=0.5
           mw.eta_milestones=2 mw.eta_gamma=3)

MW=(run mw-train "${SMALL_MW[@]}")

# resumes_same NAME ARGS...: mw-train stopped by SIGTERM at step 60 (epoch 3, after the
# milestones) on 2 ranks and resumed on 4 ends as $NAME-2 did.
resumes_same() {
    local name=$1
    shift
    stop_and_resume "$name" term@60:1 "from step 60" 4 "$SCRATCH/$name-2/results.h5" \
        "$SCRATCH/$name-term" "${MW[@]}" "$@"
}

same_on_ranks sched sched "${MW[@]}" "${SCHEDULES[@]}"
resumes_same sched "${SCHEDULES[@]}"
# The schedules act: without the η milestone the weights differ from epoch 2's loss pass on.
ranks 2 run mw-train "${SMALL_MW[@]}" "${SCHEDULES[@]}" mw.eta_milestones= \
    --out "$SCRATCH/no-eta" >/dev/null 2>&1
check "the η milestone changes the weights from epoch 2 on, not before" /usr/bin/python3 - \
    "$SCRATCH/sched-2/results.h5" "$SCRATCH/no-eta/results.h5" <<'PY'
import sys
import h5py
import numpy as np
a, b = (h5py.File(p, "r") for p in sys.argv[1:3])
wa, wb = a["metrics/noisy_weight"][:], b["metrics/noisy_weight"][:]
assert wa[0] == wb[0] and np.all(wa[1:] != wb[1:]), (wa, wb)
assert wa[1] < wb[1], (wa, wb)  # a larger η moves more weight off the noisy examples
PY
ranks 2 run mw-train "${SMALL_MW[@]}" "${SCHEDULES[@]}" train.lr_milestones= \
    --out "$SCRATCH/no-lr" >/dev/null 2>&1
check "the learning-rate milestone changes training from epoch 3 on, not before" /usr/bin/python3 \
    - "$SCRATCH/sched-2/results.h5" "$SCRATCH/no-lr/results.h5" <<'PY'
import sys
import h5py
import numpy as np
a, b = (h5py.File(p, "r")["metrics/train_loss"][:] for p in sys.argv[1:3])
assert np.array_equal(a[:2], b[:2]) and np.all(a[2:] != b[2:]), (a, b)
PY

# MW with label smoothing (the authors' LabelSmoothingLoss, times the example weights).
same_on_ranks smooth smooth "${MW[@]}" train.label_smoothing=0.1
ranks 2 run mw-train "${SMALL_MW[@]}" --out "$SCRATCH/plain" >/dev/null 2>&1
check "label smoothing changes training" bash -c \
    "! /usr/bin/python3 $(dirname "$0")/same_results.py $SCRATCH/smooth-2/results.h5 $SCRATCH/plain/results.h5 >/dev/null"

# MW with mixup, alone and with label smoothing and the schedules (the authors' combination).
same_on_ranks mixup mixup "${MW[@]}" train.mixup=1
check "mixup changes training" bash -c \
    "! /usr/bin/python3 $(dirname "$0")/same_results.py $SCRATCH/mixup-2/results.h5 $SCRATCH/plain/results.h5 >/dev/null"
same_on_ranks all all "${MW[@]}" train.mixup=0.5 train.label_smoothing=0.1 "${SCHEDULES[@]}"
resumes_same all train.mixup=0.5 train.label_smoothing=0.1 "${SCHEDULES[@]}"

# Co-teaching on the authors' uniform noise: τ defaults to the expected fraction of wrong
# labels, 0.6 · 9/10, reached at epoch T_k = 2.
COTEACH=(mw.mode=coteaching coteach.forget_epochs=2 data.noise=uniform)
same_on_ranks coteach coteach "${MW[@]}" "${COTEACH[@]}"
resumes_same coteach "${COTEACH[@]}"
check "co-teaching: the forget rate ramps to τ, the selection favours clean labels" \
    /usr/bin/python3 - "$SCRATCH/coteach-2/results.h5" <<'PY'
import sys
import h5py
import numpy as np
f = h5py.File(sys.argv[1], "r")
m = {k: f["metrics/" + k][:] for k in f["metrics"]}
assert np.allclose(m["forget_rate"], [0, 0.27, 0.54, 0.54]), m["forget_rate"]
clean = 1 - f["final/noise_fraction"][()]
assert np.all(m["label_precision"][2:] > clean + 0.2), (m["label_precision"], clean)
assert np.all(m["peer_train_loss"] != m["train_loss"]), "the two networks start apart"
assert np.isfinite(m["peer_test_acc"]).all() and f["final/peer_test_acc"][()] > 0.5
PY

REFUSAL_BASE=(run mw-train "${SMALL_MW[@]}")
expect_refusal "a learning-rate milestone past the end is refused" \
    "train.lr_milestones: '5' is not a whole number in \[1, 4\]" train.lr_milestones=2,5
expect_refusal "an MW-rate milestone given twice is refused" "mw.eta_milestones lists '2' twice" \
    mw.eta_milestones=2,2
expect_refusal "label smoothing of GCE is refused" "smooths cross-entropy; mw.mode=mw-gce" \
    mw.mode=mw-gce train.label_smoothing=0.1
expect_refusal "mixup with ELR is refused" "train.mixup=1 with mw.mode=elr" mw.mode=elr train.mixup=1
expect_refusal "mixup with adversarial training is refused" "mixing adversarial examples" \
    train.mixup=1 adv.train=true adv.eps=0.1
expect_refusal "co-teaching with mixup is refused" "co-teaching with train.mixup" \
    mw.mode=coteaching train.mixup=1
expect_refusal "a negative forget rate other than -1 is refused" \
    "coteach.forget_rate=-0.5 is not" mw.mode=coteaching coteach.forget_rate=-0.5
finish
