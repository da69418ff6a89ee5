# `mw-train` gives bit-identical example weights, parameters and metrics on 1, 2 and 4 ranks
# (issue 4, acceptance 1), with ownership split unevenly (11 loss-pass chunks), a binding cap,
# every mode, an MLP and a small CNN; the saved weights are a probability vector that respects the cap and puts less
# than their share on the noisy examples; bad mw.* settings are refused before anything is written.
source "$(dirname "$0")/lib.bash"
SMALL_MW=(data.train_limit=2700 data.test_limit=1000 model.spec=mlp:784-64-10 train.epochs=4
          train.batch=100 train.chunk=16 data.noise=symmetric data.noise_rate=0.6)

same_on_ranks mw "mw with cap (weights, params, metrics)" \
    run mw-train "${SMALL_MW[@]}" mw.cap=1.5 mw.save_epochs=2,4
for mode in mw-gce elr gce uniform; do
    for p in 1 4; do
        ranks $p run mw-train "${SMALL_MW[@]}" mw.mode=$mode --out "$SCRATCH/$mode-$p" \
            >"$SCRATCH/$mode-$p.log" 2>&1
    done
    check "$mode: 4 ranks == 1 rank" same_results "$SCRATCH/$mode-1/results.h5" "$SCRATCH/$mode-4/results.h5"
done
# The small CNN (conv, group norm, pools): MW weights and parameters bit-identical too.
CNN=cnn:1x28x28-conv4k5-gn2-relu-maxpool2-conv8k3-relu-avgpool2-fc10
same_on_ranks cnn "mw on a CNN" \
    run mw-train "${SMALL_MW[@]}" data.train_limit=900 train.epochs=2 model.spec=$CNN
# The comparison can fail: another MW rate gives other weights.
ranks 2 run mw-train "${SMALL_MW[@]}" mw.cap=1.5 mw.save_epochs=2,4 mw.eta=0.2 \
    --out "$SCRATCH/eta" >/dev/null 2>&1
check "another mw.eta gives different weights" \
    bash -c "! /usr/bin/python3 $(dirname "$0")/same_results.py $SCRATCH/mw-1/results.h5 $SCRATCH/eta/results.h5 >/dev/null"

check "the weights are a capped probability vector favouring clean examples" /usr/bin/python3 - \
    "$SCRATCH/mw-2/results.h5" "$SCRATCH/uniform-4/results.h5" <<'PY'
import sys
import h5py
import numpy as np
f = h5py.File(sys.argv[1], "r")
w = f["arrays/weights"][:].astype(np.float64)
noisy = f["arrays/noisy"][:] == 1
n = len(w)
assert n == 2700 and abs(w.sum() - 1) < 1e-5, w.sum()
assert w.max() * n <= 1.5 * (1 + 1e-6) and (w * n > 1.5 * (1 - 1e-6)).sum() > 10, w.max() * n
assert np.array_equal(f["arrays/weights_epoch_0004"][:], f["arrays/weights"][:])
assert not np.array_equal(f["arrays/weights_epoch_0002"][:], f["arrays/weights"][:])
m = {k: f["metrics/" + k][:] for k in f["metrics"]}
assert abs(m["noisy_weight"][-1] - w[noisy].sum()) < 1e-5, (m["noisy_weight"][-1], w[noisy].sum())
assert m["noisy_weight"][-1] < noisy.mean() - 0.1 and m["auc"][-1] > 0.8, (m["noisy_weight"], m["auc"])
assert abs(m["weight_max"][-1] - 1.5) < 1e-5
u = h5py.File(sys.argv[2], "r")
wu = u["arrays/weights"][:]
assert np.all(wu == wu[0]) and u["metrics/auc"][-1] == 0.5 and u["metrics/loss_auc"][-1] > 0.7
print("weights: sum %.6f, max %.3f/N, noisy weight %.3f (share %.3f), AUC %.3f" %
      (w.sum(), w.max() * n, w[noisy].sum(), noisy.mean(), m["auc"][-1]))
PY

REFUSAL_BASE=(run mw-train "${SMALL_MW[@]}")
expect_refusal "a cap below 1 is refused" "below the uniform 1/N" mw.cap=0.5
expect_refusal "a cap without MW is refused" "no effect with mw.mode=gce" mw.mode=gce mw.cap=2
expect_refusal "a save epoch past the end is refused" "not a whole number in \[1, 4\]" mw.save_epochs=1,9
expect_refusal "an unknown mode is refused" "choose one of" mw.mode=co-teaching
expect_refusal "regression data is refused" "needs a classification" data.name=linreg \
    data.noise=none data.noise_rate=0 model.spec=mlp:20-1
finish
