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
    for p in 1 2 4; do
        ranks $p run subset-select "${SMALL[@]}" "${args[@]}" --out "$SCRATCH/$sel-$p" \
            >"$SCRATCH/$sel-$p.log" 2>&1
    done
    for p in 2 4; do
        check "$sel: $p ranks == 1 rank" \
            same_results "$SCRATCH/$sel-1/results.h5" "$SCRATCH/$sel-$p/results.h5"
    done
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
for p in 1 2 4; do
    ranks $p run subset-select "${AE[@]}" --out "$SCRATCH/ae-$p" >"$SCRATCH/ae-$p.log" 2>&1
done
for p in 2 4; do
    check "autoencoder features: $p ranks == 1 rank" \
        same_results "$SCRATCH/ae-1/results.h5" "$SCRATCH/ae-$p/results.h5"
done
ranks 2 run subset-select "${AE[@]}" subset.feature_cache="$SCRATCH/ae.h5" --out "$SCRATCH/ae-w" \
    >"$SCRATCH/ae-w.log" 2>&1
ranks 1 run subset-select "${AE[@]}" subset.feature_cache="$SCRATCH/ae.h5" --out "$SCRATCH/ae-r" \
    >"$SCRATCH/ae-r.log" 2>&1
check "the feature cache is written, then read instead of training" bash -c \
    "[ -s '$SCRATCH/ae.h5' ] && grep -q 'epoch 2' '$SCRATCH/ae-w.log' &&
     ! grep -q epoch '$SCRATCH/ae-r.log' && grep -q 'from the cache' '$SCRATCH/ae-r.log'"
for run in ae-w ae-r; do
    check "$run: a cached run selects (and scores) as an uncached one" \
        same_results "$SCRATCH/ae-1/results.h5" "$SCRATCH/$run/results.h5"
done
set +e
ranks 2 run subset-select "${AE[@]}" subset.ae_epochs=3 subset.feature_cache="$SCRATCH/ae.h5" \
    --out "$SCRATCH/ae-bad" >"$SCRATCH/ae-bad.log" 2>&1
code=$?
set -e
check "a cache made by another encoder config is refused with a hint, nothing written" bash -c \
    "[ $code -ne 0 ] && grep -q 'epochs=2' '$SCRATCH/ae-bad.log' &&
     grep -q HINT '$SCRATCH/ae-bad.log' && [ ! -e '$SCRATCH/ae-bad' ]"
ranks 2 run subset-select "${SMALL[@]}" subset.selector=norm run.seed=2 --out "$SCRATCH/seed2" \
    >/dev/null 2>&1
check "another seed samples another set" bash -c "! /usr/bin/python3 \
    $(dirname "$0")/same_results.py $SCRATCH/norm-1/results.h5 $SCRATCH/seed2/results.h5 >/dev/null"
set +e
ranks 2 run subset-select "${SMALL[@]}" subset.budgets=10,5000 --out "$SCRATCH/bad" \
    >"$SCRATCH/bad.log" 2>&1
code=$?
set -e
check "a budget larger than the pool is refused with a hint, nothing written" bash -c \
    "[ $code -ne 0 ] && grep -q 'subset.budgets' '$SCRATCH/bad.log' &&
     grep -q HINT '$SCRATCH/bad.log' && [ ! -e '$SCRATCH/bad' ]"
finish
