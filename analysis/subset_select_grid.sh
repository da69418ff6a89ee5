#!/bin/bash
# Runs the subset-select grid of experiments/subset-select.md: every selector × seeds, budgets
# 10..1000 (the experiment's defaults), the linear classifier on the PCA features and the MLP on
# the pixels (subset.classifier=both), Fashion-MNIST.
#
#     bash analysis/subset_select_grid.sh [OUT_DIR (runs/subset-select)] [SEEDS (1 2 3 4 5)]
#
# One rank per run, niced, JOBS (1) runs at a time; a complete run is skipped (rerunning the same
# command resumes a killed grid). EXTRA="key=value ..." is passed to every run (e.g. another
# encoder; use another OUT_DIR); SELECTORS="..." restricts the selectors. Then:
# /usr/bin/python3 analysis/subset_select.py OUT_DIR
set -euo pipefail
out=${1:-runs/subset-select}
seeds=${2:-1 2 3 4 5}
ranklab=${RANKLAB:-build/ranklab}
jobs=${JOBS:-1}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OPENBLAS_NUM_THREADS=1
read -r -a SELECTORS <<<"${SELECTORS:-random norm norm-gs kcenter kcenter-norm typiclust \
typiclust-norm probcover probcover-norm}"
mkdir -p "$out"
for seed in $seeds; do
    for sel in "${SELECTORS[@]}"; do
        while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do
            wait -n
        done
        dir="$out/$sel-s$seed"
        # shellcheck disable=SC2086
        nice -n 10 mpiexec -n 1 "$ranklab" run subset-select subset.selector="$sel" \
            run.seed="$seed" subset.classifier=both ${EXTRA:-} --out "$dir" >"$dir.log" 2>&1 &
    done
done
wait
