#!/usr/bin/env bash
# Same bits (issue 14, bench/RESULTS.md): the exact path (run.compute=exact, the default: the
# project's GEMM) against OpenBLAS (run.compute=blas, the default before) in the same run, on one
# core: the GEMM at the shapes of training (bench/gemm.c), the epoch time of `ranklab run train`
# for an MLP and a CNN (the difference of /final/wall_seconds between 3 and 1 epochs over 2, so
# data loading is not counted; the test evaluation after each epoch is), and a MeZO step
# (bench/zo.c). Each timing alternates the two paths ROUNDS times and keeps the best.
# Usage: bash bench/run_bits.sh [BUILD_DIR]   (CORE=N picks the core, default 1; ROUNDS=3)
set -euo pipefail
build=${1:-build}
core=${CORE:-1}
rounds=${ROUNDS:-3}
source "$(dirname "$0")/lib.bash"
bench_machine
taskset -c "$core" "$build/bench_gemm"
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
wall() { # COMPUTE EPOCHS ARGS...: /final/wall_seconds of `ranklab run train` on one rank
    local compute=$1 epochs=$2 dir=$out/run
    shift 2
    rm -rf "$dir"
    taskset -c "$core" "$build/ranklab" run train "$@" run.compute="$compute" \
        train.epochs="$epochs" --out "$dir" >/dev/null 2>&1
    "$build/ranklab" inspect "$dir/results.h5" | awk '$1 == "wall_seconds" { print $2 }'
}
epoch() { # NAME ARGS...: best epoch time of each path over the rounds
    local name=$1
    shift
    local best_exact=1e9 best_blas=1e9 t
    for ((r = 0; r < rounds; r++)); do
        for compute in exact blas; do
            t=$(awk -v a="$(wall "$compute" 1 "$@")" -v b="$(wall "$compute" 3 "$@")" \
                'BEGIN { print (b - a) / 2 }')
            if [ "$compute" = exact ]; then
                best_exact=$(awk -v a="$best_exact" -v b="$t" 'BEGIN { print (b < a ? b : a) }')
            else
                best_blas=$(awk -v a="$best_blas" -v b="$t" 'BEGIN { print (b < a ? b : a) }')
            fi
        done
    done
    awk -v e="$best_exact" -v b="$best_blas" -v n="$name" 'BEGIN {
        printf "%s epoch: exact %.3f s, blas %.3f s, exact / blas %.3f (%+.1f %%)\n",
               n, e, b, e / b, 100 * (e / b - 1) }'
}
epoch "train MLP" data.train_limit=20000
epoch "train CNN" data.train_limit=5000 data.test_limit=2000 \
    model.spec=cnn:1x28x28-conv8k3-gn2-relu-maxpool2-conv16k3-gn4-relu-maxpool2-fc10
mezo() { # COMPUTE: ms per MeZO step
    taskset -c "$core" "$build/bench_zo" mlp:784-256-256-10 64 300 "$1" |
        sed -n 's/^MeZO step (K=1) *\([0-9.]*\) ms.*/\1/p'
}
best_exact=1e9 best_blas=1e9
for ((r = 0; r < rounds; r++)); do
    best_exact=$(awk -v a="$best_exact" -v b="$(mezo exact)" 'BEGIN { print (b < a ? b : a) }')
    best_blas=$(awk -v a="$best_blas" -v b="$(mezo blas)" 'BEGIN { print (b < a ? b : a) }')
done
awk -v e="$best_exact" -v b="$best_blas" 'BEGIN {
    printf "MeZO step (mlp:784-256-256-10, batch 64): exact %.3f ms, blas %.3f ms, exact / blas %.3f (%+.1f %%)\n",
           e, b, e / b, 100 * (e / b - 1) }'
