#!/usr/bin/env bash
# Subset selection benchmark (bench/RESULTS.md, issue 6): the selection time of every selector of
# `ranklab run subset-select` on the 60,000-image Fashion-MNIST pool on 1 and 2 ranks, and on
# 1 rank for pools of 7,500 / 15,000 / 30,000 / 60,000 (data.train_limit) with the fitted
# exponent of time ∝ n^a. Budgets 100 and 1000, one run each; the time is the one the
# experiment logs (slowest rank, selection only), plus ProbCover's radius search. PCA features
# (32); data loading, PCA and the classifier are not timed.
# Each cell is the best of REPS (3) runs (the machine is shared).
# Usage: bash bench/subset_select.sh [BUILD_DIR] [OUT_DIR]   (SELECTORS="..." to restrict)
set -euo pipefail
build=${1:-build}
out=${2:-/tmp/subset-bench}
reps=${REPS:-3}
source "$(dirname "$0")/lib.bash"
selectors=${SELECTORS:-random norm norm-gs kcenter kcenter-norm typiclust typiclust-norm probcover
probcover-norm}
mkdir -p "$out"
bench_machine
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"

run() { # run P N SELECTOR: prints "selector P n B seconds" per budget (best of REPS runs)
    local p=$1 n=$2 sel=$3 b dir rep
    for b in 100 1000; do
        for rep in $(seq "$reps"); do
            dir="$out/$sel-$p-$n-$b"
            rm -rf "$dir"
            mpiexec --oversubscribe -n "$p" "$build/ranklab" run subset-select \
                subset.selector="$sel" subset.budgets="$b" data.train_limit="$n" \
                data.test_limit=1000 subset.iters=1 --out "$dir" >"$dir.log" 2>&1
            selection_seconds "$dir.log"
        done | sort -g | head -n 1 |
            awk -v s="$sel" -v p="$p" -v n="$n" -v b="$b" \
                '{ printf "%s %d %d %d %s\n", s, p, n, b, $1 }'
    done
}

rows="$out/rows.txt"
: >"$rows"
for sel in $selectors; do
    for p in 1 2; do
        run "$p" 60000 "$sel" | tee -a "$rows"
    done
    for n in 7500 15000 30000; do
        run 1 "$n" "$sel" | tee -a "$rows"
    done
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "| selector | B | 1 rank (s) | 2 ranks (s) | n = 7.5k / 15k / 30k / 60k, 1 rank (s) |" \
    "exponent a |"
echo "|---|---|---|---|---|---|"
for sel in $selectors; do
    for b in 100 1000; do
        awk -v s="$sel" -v b="$b" '
            $1 == s && $4 == b && $2 == 1 { t[$3] = $5 }
            $1 == s && $4 == b && $2 == 2 && $3 == 60000 { t2 = $5 }
            END {
                split("7500 15000 30000 60000", ns, " ")
                sx = sy = sxx = sxy = 0
                for (i = 1; i <= 4; i++) {
                    x = log(ns[i]); y = log(t[ns[i]] > 0 ? t[ns[i]] : 1e-4)
                    sx += x; sy += y; sxx += x * x; sxy += x * y
                    g = g (i > 1 ? " / " : "") sprintf("%.3g", t[ns[i]])
                }
                a = (4 * sxy - sx * sy) / (4 * sxx - sx * sx)
                printf "| %s | %d | %.3g | %.3g | %s | %.2f |\n", s, b, t[60000], t2, g, a
            }' "$rows"
    done
done
