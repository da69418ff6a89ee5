# `subset-select` picks bit-identical index sets (and gives identical accuracies) on 1, 2 and 4
# ranks for every selector (issue 6, acceptance 1), on a pool that is not whole chunks (ProbCover
# also with a radius so large that the pool is covered after ~33 picks and the rest is sampled),
# and with the MLP classifier on pixels; the budgets hold distinct ids; ProbCover records its
# radius; autoencoder features are the same on 1, 2, 4 ranks, and a run reading them from the
# feature cache selects and scores exactly as one computing them; a cache made by another config is
# refused; another seed samples another set; a budget larger than the pool is refused before
# anything is written.
source "$(dirname "$0")/lib.bash"
SMALL=(data.name=fashion-mnist data.train_limit=2900 data.test_limit=500 subset.pca_dim=16
       subset.iters=50 "subset.budgets=10,40,120")
SELECTORS=(random norm norm-gs norm-gs-sampled kcenter kcenter-norm typiclust typiclust-norm
           probcover probcover-norm probcover-wide kcenter-mlp)
for sel in "${SELECTORS[@]}"; do
    args=(subset.selector=$sel)
    [ $sel = probcover-wide ] && args=(subset.selector=probcover subset.delta=6)
    [ $sel = kcenter-mlp ] &&
        args=(subset.selector=kcenter subset.classifier=mlp subset.mlp_steps=20)
    same_on_ranks $sel $sel run subset-select "${SMALL[@]}" "${args[@]}"
done
check "selected ids are distinct pool ids, budgets as asked" /usr/bin/python3 - "$SCRATCH" <<'PY'
import sys
import h5py
import numpy as np
for sel in ["random", "norm", "norm-gs", "norm-gs-sampled", "kcenter", "kcenter-norm", "typiclust",
            "typiclust-norm", "probcover", "probcover-norm", "probcover-wide", "kcenter-mlp"]:
    f = h5py.File(f"{sys.argv[1]}/{sel}-2/results.h5", "r")
    if sel.startswith("probcover"):
        delta = f["final/probcover_delta"][()]
        assert (delta == 6) if sel == "probcover-wide" else (0 < delta < 6), (sel, delta)
    for b in (10, 40, 120):
        ids = f[f"arrays/selected_{b}"][:]
        assert len(ids) == b and len(np.unique(ids)) == b, (sel, b)
        assert ids.min() >= 0 and ids.max() < 2900 and np.all(ids == np.round(ids)), (sel, b)
    assert f["final/pca_variance"][()] > 0
PY
AE=("${SMALL[@]}" subset.encoder=autoencoder subset.ae_epochs=2 subset.selector=kcenter)
same_on_ranks ae "autoencoder features" run subset-select "${AE[@]}"
feature_cache_round_trip ae 2 "${AE[@]}"
REFUSAL_BASE=(run subset-select "${AE[@]}")
expect_refusal "a cache made by another encoder config is refused with a hint" "epochs=2" \
    subset.ae_epochs=3 subset.feature_cache="$SCRATCH/ae.h5"
ranks 2 run subset-select "${SMALL[@]}" subset.selector=norm run.seed=2 --out "$SCRATCH/seed2" \
    >/dev/null 2>&1
check "another seed samples another set" bash -c "! /usr/bin/python3 \
    $(dirname "$0")/same_results.py $SCRATCH/norm-1/results.h5 $SCRATCH/seed2/results.h5 >/dev/null"
REFUSAL_BASE=(run subset-select "${SMALL[@]}")
expect_refusal "a budget larger than the pool is refused with a hint" "subset.budgets" \
    subset.budgets=10,5000
finish
