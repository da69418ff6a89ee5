#!/bin/bash
# Runs the prune-init sweeps of experiments/prune-init.md: every score × selection × sparsity on
# the synthetic least-squares task (dense training with the init mask applied at the end, over
# 3 seeds; masked training, 1 seed), softmax regression on Fashion-MNIST (dense and masked) and
# LeNet-300-100 (masked; global and per-layer selection).
#
#     bash analysis/prune_init_sweep.sh synth|bound|bound-many|softmax|softmax-bound|lenet [OUT_DIR]
#
# OUT_DIR defaults to runs/prune-init. `bound` keeps the initialization and training (run.seed=1)
# and draws MASKS (20) masks (prune.mask_seed 101, 102, ...) per cell, sampled with replacement
# and rescaled: the root mean square of the sketch error over the masks estimates the
# sqrt(E‖·‖²) that the Drineas–Kannan–Mahoney formula gives. `bound-many` is the same for two
# cells at 50 % (magnitude: heavy-tailed errors; sketch: the optimal p) with MASKS (500) masks,
# into the same directory (its first masks are runs of `bound`). `softmax-bound` is `bound` for
# the dense softmax regression of `softmax`. `lenet` runs the seeds in SEEDS (1).
#
# One rank per run, JOBS (2) runs at a time; complete runs are skipped (the same command
# resumes a killed sweep; with h5dump the check costs no ranklab start, so extending a seed list
# is cheap). Then: /usr/bin/python3 analysis/prune_init.py OUT_DIR
set -euo pipefail
task=${1:?usage: prune_init_sweep.sh TASK [OUT_DIR] (TASK: see the top of this file)}
out=${2:-runs/prune-init}
ranklab=${RANKLAB:-build/ranklab}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OPENBLAS_NUM_THREADS=1

SELECTIONS=(
    "topk:prune.select=topk prune.replace=false prune.rescale=false"
    "sample:prune.select=sample prune.replace=false prune.rescale=false"
    "sample-rescale:prune.select=sample prune.replace=false prune.rescale=true"
    "replace:prune.select=sample prune.replace=true prune.rescale=false"
    "replace-rescale:prune.select=sample prune.replace=true prune.rescale=true"
)
SCORES=(random magnitude snip grasp synflow sketch)
FASHION=(data.name=fashion-mnist data.dim=20 prune.feature_scale=1 prune.feature_corr=0)
SOFTMAX=("${FASHION[@]}" model.spec=mlp:784-10 data.train_limit=10000 train.epochs=3
         train.lr=0.001 train.batch=100 train.chunk=50)

cells() { # cells NAME "SPARSITIES" "SEEDS" "SELECTION NAMES" ARGS...: one line per run
    local name=$1 sparsities=$2 seeds=$3 selections=$4
    shift 4
    for sel in "${SELECTIONS[@]}"; do
        [[ " $selections " == *" ${sel%%:*} "* ]] || continue
        for score in "${SCORES[@]}"; do
            for sp in $sparsities; do
                for seed in $seeds; do
                    echo "$* ${sel#*:} prune.score=$score prune.sparsity=$sp ${SEED_KEY:-run.seed}=$seed" \
                        "--out $out/$name/$score-${sel%%:*}-$sp-$seed"
                done
            done
        done
    done
}

ALL="topk sample sample-rescale replace replace-rescale"
case $task in
synth)
    cells synth-dense "0.5 0.7 0.9 0.95 0.99 0.999" "1 2 3" "$ALL" prune.train=dense
    cells synth-masked "0.5 0.7 0.9 0.95 0.99 0.999" "1" "$ALL" prune.train=masked
    ;;
bound)
    SCORES=(random magnitude snip sketch)
    SEED_KEY=prune.mask_seed cells synth-bound "0.5 0.9 0.99" \
        "$(seq -s ' ' 101 $((100 + ${MASKS:-20})))" replace-rescale prune.train=dense
    ;;
bound-many)
    SCORES=(magnitude sketch)
    SEED_KEY=prune.mask_seed cells synth-bound "0.5" "$(seq -s ' ' 101 $((100 + ${MASKS:-500})))" \
        replace-rescale prune.train=dense
    ;;
softmax)
    for mode in dense masked; do
        cells softmax-$mode "0.5 0.9 0.99 0.999" "1" "$ALL" "${SOFTMAX[@]}" prune.train=$mode
    done
    ;;
softmax-bound)
    SCORES=(random magnitude snip sketch)
    SEED_KEY=prune.mask_seed cells softmax-bound "0.5 0.9 0.99 0.999" \
        "$(seq -s ' ' 101 $((100 + ${MASKS:-20})))" replace-rescale "${SOFTMAX[@]}" run.seed=1 \
        prune.train=dense
    ;;
lenet)
    LENET=("${FASHION[@]}" model.spec=mlp:784-300-100-10 data.train_limit=5000
           data.test_limit=2000 train.epochs=2 train.lr=0.001 train.batch=100 train.chunk=50
           prune.train=masked prune.score_examples=2000)
    cells lenet-global "0.5 0.9 0.99 0.999" "${SEEDS:-1}" "$ALL" "${LENET[@]}" prune.scope=global
    cells lenet-layer "0.5 0.9 0.99 0.999" "${SEEDS:-1}" "$ALL" "${LENET[@]}" prune.scope=layer
    ;;
*)
    echo "unknown task '$task'" >&2
    echo "HINT: choose synth, bound, bound-many, softmax, softmax-bound or lenet" >&2
    exit 2
    ;;
esac | while read -r line; do # leave out runs already complete (ranklab would skip them too)
    h5dump -a /status "${line##*--out }/results.h5" 2>/dev/null | grep -q '"complete"' ||
        echo "$line"
done | xargs -P "${JOBS:-2}" -L 1 sh -c "\"$ranklab\" run prune-init \"\$@\" >/dev/null 2>&1 ||
    echo \"failed: \$*\" >&2" _
