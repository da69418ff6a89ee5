# `mw-train` robustness (issue 4, acceptance 4): FGSM/PGD robust accuracy and PGD adversarial
# training (with and without MW) are bit-identical on 1 and 2 ranks (the attacked test examples
# split unevenly: 2 chunks of 250 and 50); robust accuracy is below clean accuracy; adversarial
# training changes the model and raises PGD accuracy; bad attack settings are refused.
source "$(dirname "$0")/lib.bash"
SMALL_ADV=(data.train_limit=1200 data.test_limit=600 model.spec=mlp:784-32-10 train.epochs=3
           train.batch=50 train.chunk=16 train.lr=0.003 data.noise=none data.noise_rate=0
           adv.eps=0.05 adv.pgd_steps=3 adv.limit=300)

for mode in uniform mw; do
    for adv in false true; do
        for p in 1 2; do
            ranks $p run mw-train "${SMALL_ADV[@]}" mw.mode=$mode adv.train=$adv \
                --out "$SCRATCH/$mode-$adv-$p" >"$SCRATCH/$mode-$adv-$p.log" 2>&1
        done
        check "$mode, adv_train=$adv: 2 ranks == 1 rank (params, weights, robust accuracy)" \
            same_results "$SCRATCH/$mode-$adv-1/results.h5" "$SCRATCH/$mode-$adv-2/results.h5"
    done
done

check "robust accuracy <= clean accuracy; adversarial training changes the model" \
    /usr/bin/python3 - "$SCRATCH"/{uniform-false,uniform-true,mw-true}-1/results.h5 <<'PY'
import sys
import h5py
import numpy as np
runs = [h5py.File(p, "r") for p in sys.argv[1:]]
for f in runs:
    fin = {k: f["final/" + k][()] for k in ("attack_clean_acc", "fgsm_acc", "pgd_acc")}
    assert 0 <= fin["pgd_acc"] <= fin["attack_clean_acc"], fin
    assert fin["fgsm_acc"] <= fin["attack_clean_acc"], fin
    print({k: round(float(v), 4) for k, v in fin.items()})
ce, at, at_mw = runs
assert ce["final/pgd_acc"][()] < ce["final/attack_clean_acc"][()] - 0.1  # the attack bites
assert at["final/pgd_acc"][()] > ce["final/pgd_acc"][()] + 0.05, "PGD-AT did not raise PGD accuracy"
assert not np.array_equal(ce["arrays/params"][:], at["arrays/params"][:])
assert not np.array_equal(at["arrays/params"][:], at_mw["arrays/params"][:])
PY

REFUSAL_BASE=(run mw-train "${SMALL_ADV[@]}")
expect_refusal "adversarial training without a radius is refused" "needs an attack radius" \
    adv.eps=0 adv.train=true
expect_refusal "attacks on non-pixel data are refused" "only pixels are" data.name=blobs \
    model.spec=mlp:20-4
finish
