#!/usr/bin/env bash
# ZOQO benchmarks and their PyTorch peer in the same run, on one core each (bench/RESULTS.md).
# Usage: bash bench/run_zoqo.sh [BUILD_DIR]   (CORE=N picks the core, default 1)
set -euo pipefail
build=${1:-build}
core=${CORE:-1}
here=$(dirname "$0")
source "$(dirname "$0")/lib.bash"
bench_machine
ours=$(taskset -c "$core" "$build/bench_zo" mlp:784-256-256-10 64 300)
echo "$ours"
peer=$(taskset -c "$core" /usr/bin/python3 "$here/peers/mezo_torch.py" 784-256-256-10 64 300)
echo "$peer"
ms() { echo "$1" | sed -n "s/^$2 *\([0-9.]*\) ms/\1/p"; }
awk -v a="$(ms "$ours" "MeZO step (K=1)")" -v b="$(ms "$peer" "MeZO step (K=1)")" \
    'BEGIN { printf "MeZO step: ranklab %.3f ms, torch %.3f ms, speed-up %.2fx\n", a, b, b / a }'
