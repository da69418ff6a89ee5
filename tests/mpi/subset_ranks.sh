# `subset-select` picks bit-identical index sets (and gives identical accuracies) on 1, 2 and 4
# ranks for every selector (issue 6, acceptance 1), on a pool that is not whole chunks; the
# budgets hold distinct ids; another seed samples another set; a budget larger than the pool is
# refused before anything is written.
source "$(dirname "$0")/lib.bash"
SMALL=(data.name=fashion-mnist data.train_limit=2900 data.test_limit=500 subset.pca_dim=16
       subset.iters=50 "subset.budgets=10,40,120")
for sel in random norm norm-gs kcenter kcenter-norm typiclust typiclust-norm; do
    for p in 1 2 4; do
        ranks $p run subset-select "${SMALL[@]}" subset.selector=$sel --out "$SCRATCH/$sel-$p" \
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
for sel in ["random", "norm", "norm-gs", "kcenter", "kcenter-norm", "typiclust", "typiclust-norm"]:
    f = h5py.File(f"{sys.argv[1]}/{sel}-2/results.h5", "r")
    for b in (10, 40, 120):
        ids = f[f"arrays/selected_{b}"][:]
        assert len(ids) == b and len(np.unique(ids)) == b, (sel, b)
        assert ids.min() >= 0 and ids.max() < 2900 and np.all(ids == np.round(ids)), (sel, b)
    assert f["final/pca_variance"][()] > 0
PY
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
