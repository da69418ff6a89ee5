#!/usr/bin/env bash
# Two builds of ranklab against each other on the costly selectors (bench/RESULTS.md, "Subset
# selection"): TypiClust, TypiClust-norm, ProbCover, ProbCover-norm on the 60,000-image pool with
# PCA-32 features, budgets 100 and 1000, 1 rank, the two binaries alternately (so both see the
# same load), REPS (2) rounds; prints "selector B build round seconds ids-hash" per run, the
# hash being of the selected ids (the same hash: the same selection).
# Usage: bash bench/subset_select_ab.sh OLD_RANKLAB NEW_RANKLAB [OUT_DIR]
set -euo pipefail
old=$1 new=$2
out=${3:-/tmp/subset-ab}
reps=${REPS:-2}
source "$(dirname "$0")/lib.bash"
mkdir -p "$out"
bench_machine
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
for sel in typiclust typiclust-norm probcover probcover-norm; do
    for b in 100 1000; do
        for rep in $(seq "$reps"); do
            for which in old new; do
                bin=$old
                [ "$which" = new ] && bin=$new
                dir="$out/$sel-$b-$which-$rep"
                rm -rf "$dir"
                mpiexec -n 1 "$bin" run subset-select subset.selector="$sel" subset.budgets="$b" \
                    data.test_limit=1000 subset.iters=1 --out "$dir" >"$dir.log" 2>&1
                ids=$(/usr/bin/python3 -c "import h5py, hashlib, sys
print(hashlib.md5(h5py.File(sys.argv[1])['arrays/selected_$b'][()].tobytes()).hexdigest()[:8])" \
                    "$dir/results.h5")
                echo "$sel $b $which $rep $(selection_seconds "$dir.log") $ids"
            done
        done
    done
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
