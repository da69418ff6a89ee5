#!/usr/bin/env bash
# MW benchmark (bench/RESULTS.md, issue 4): one training epoch of mlp:784-256-256-10, batch 128,
# Adam, on the first 20000 Fashion-MNIST images, ranklab (the chunked fixed-point step of `train`
# and `mw-train`, train.chunk 32 and 128) against Debian's torch on the same core; then the time
# per epoch of `ranklab run train` on 1 rank (on CORE) and 2 ranks (cores 0-1): the difference
# of /final/wall_seconds between 4 and 1 epochs over 3 (so data loading is not counted; the test
# evaluation after each epoch is).
# Usage: bash bench/run_mw.sh [BUILD_DIR]   (CORE=N picks the core, default 1)
set -euo pipefail
build=${1:-build}
core=${CORE:-1}
here=$(dirname "$0")
source "$(dirname "$0")/lib.bash"
bench_machine
secs() { echo "$1" | tail -n 1 | sed -n 's/.*: \([0-9.]*\) s$/\1/p'; }
ours32=$(taskset -c "$core" "$build/bench_mw_epoch" mlp:784-256-256-10 128 20000 32 3)
echo "$ours32"
ours128=$(taskset -c "$core" "$build/bench_mw_epoch" mlp:784-256-256-10 128 20000 128 3)
echo "$ours128"
peer=$(taskset -c "$core" /usr/bin/python3 "$here/peers/epoch_torch.py" 784-256-256-10 128 20000 3)
echo "$peer"
for c in 32 128; do
    v=ours$c
    awk -v a="$(secs "${!v}")" -v b="$(secs "$peer")" -v c=$c 'BEGIN {
        printf "epoch (chunk %d): ranklab %.3f s, torch %.3f s, torch / ranklab %.2fx\n",
               c, a, b, b / a }'
done
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
wall() { # P EPOCHS: /final/wall_seconds of `ranklab run train` on P ranks
    local pin dir=$out/p$1e$2
    pin=$([ "$1" = 1 ] && echo "$core" || echo "0-$(($1 - 1))")
    taskset -c "$pin" mpiexec --oversubscribe -n "$1" "$build/ranklab" run train \
        data.train_limit=20000 train.epochs="$2" --out "$dir" >/dev/null 2>&1
    "$build/ranklab" inspect "$dir/results.h5" | awk '$1 == "wall_seconds" { print $2 }'
}
for p in 1 2; do
    awk -v a="$(wall $p 1)" -v b="$(wall $p 4)" -v p="$p" 'BEGIN {
        printf "ranklab run train, %d rank(s): %.3f s per epoch", p, (b - a) / 3
        printf " ((4 epochs %.2f s - 1 epoch %.2f s) / 3)\n", b, a }'
done
