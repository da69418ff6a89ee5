# Per-cell resources (issue 18, item 3), without Slurm: ranks, time and cpus_per_rank given as
# lists (zipped with the model they suit) make one array per resource tuple in
# `submit --dry-run`, keeping cell numbers (split at MaxArraySize as before); `run --all` starts
# each cell with its own -n, as many at a time as fit in the cores, and each cell's results
# record its ranks; bad values are refused at plan.
source "$(dirname "$0")/lib.bash"
: "${RANKLAB_SRC:?RANKLAB_SRC must point at the source tree}"
export RANKLAB_SLURM_TEMPLATE=$RANKLAB_SRC/slurm/sweep.sbatch
S=$SCRATCH
sweep_file() { # sweep_file FILE [sweep] LINES...: 3 or more cells of a small train
    local file=$1
    shift
    {
        printf '[sweep]\nexperiment = train\n'
        printf '%s\n' "$@"
        printf '[data]\ntrain_limit = 600\ntest_limit = 200\n[train]\nepochs = 1\nbatch = 100\n'
    } >"$file"
}
sweep_file "$S/res.ini" "model.spec = mlp:784-8-10, mlp:784-16-10, mlp:784-24-10" \
    "ranks = 1, 2, 1" "time = 00:10:00, 00:20:00, 00:10:00" \
    "zip = model.spec, ranks, time" "run.seed = 1, 2"
"$RANKLAB" sweep plan "$S/res.ini" --dir "$S/res" >"$S/plan.log"
cat "$S/plan.log"
check "plan: 6 cells" grep -q "^sweep of train: 6 cells (model.spec+ranks+time 3 x run.seed 2)" \
    "$S/plan.log"
check "plan: the cells of 1 rank" \
    grep -q "^cells 0-1,4-5: 1 ranks x 1 CPU per rank, time limit 00:10:00$" "$S/plan.log"
check "plan: the cells of 2 ranks" \
    grep -q "^cells 2-3: 2 ranks x 1 CPU per rank, time limit 00:20:00$" "$S/plan.log"
check "plan: the CPUs of all cells" grep -q "all cells: 8 CPUs" "$S/plan.log"
check "the manifest has the config keys only" \
    test "$(head -n1 "$S/res/manifest.tsv")" = "$(printf 'cell\trun_id\tdir\tmodel.spec\trun.seed')"

"$RANKLAB" sweep submit "$S/res" --dry-run --max-array-size 100 >"$S/dry.log"
sbatch_lines() { grep -E '^#SBATCH --(array|ntasks|time)=|SLURM_ARRAY_TASK_ID \+' "$1" | tr '\n' ' '; }
check "one array per resource tuple" test "$(grep -c '^#!/bin/bash' "$S/dry.log")" -eq 2
check "keeping cell numbers" test "$(sbatch_lines "$S/dry.log")" = \
    "#SBATCH --array=0-1,4-5 #SBATCH --ntasks=1 #SBATCH --time=00:10:00 cell=\$((SLURM_ARRAY_TASK_ID + 0)) #SBATCH --array=2-3 #SBATCH --ntasks=2 #SBATCH --time=00:20:00 cell=\$((SLURM_ARRAY_TASK_ID + 0)) "
"$RANKLAB" sweep submit "$S/res" --dry-run --max-array-size 4 >"$S/dry4.log"
check "and blocks of MaxArraySize within each tuple" test "$(sbatch_lines "$S/dry4.log")" = \
    "#SBATCH --array=0-1 #SBATCH --ntasks=1 #SBATCH --time=00:10:00 cell=\$((SLURM_ARRAY_TASK_ID + 0)) #SBATCH --array=0-1 #SBATCH --ntasks=1 #SBATCH --time=00:10:00 cell=\$((SLURM_ARRAY_TASK_ID + 4)) #SBATCH --array=2-3 #SBATCH --ntasks=2 #SBATCH --time=00:20:00 cell=\$((SLURM_ARRAY_TASK_ID + 0)) "

"$RANKLAB" sweep run "$S/res" --all >"$S/all.log" 2>&1 || cat "$S/all.log"
check "run --all: every cell complete" grep -q "all 6 cells of $S/res are complete (6 run now)" \
    "$S/all.log"
check "run --all says what the cells need" \
    grep -q "6 to run here, as many at a time as fit in the [0-9]* cores (1-2 ranks x 1 CPU per cell)" \
    "$S/all.log"
for cell in 0 1 2 3 4 5; do
    want=$([ "$cell" = 2 ] || [ "$cell" = 3 ] && echo 2 || echo 1)
    check "cell $cell started with -n $want" \
        grep -q "starts .*mpiexec -n $want .* --cell $cell$" "$S/res/logs/cell-000$cell.out"
done
check "each cell's results record its ranks" /usr/bin/python3 - "$S/res" <<'EOF'
import csv, h5py, sys
rows = list(csv.DictReader(open(sys.argv[1] + "/manifest.tsv"), delimiter="\t"))
got = [int(h5py.File(f"{sys.argv[1]}/{r['dir']}/results.h5")["/"].attrs["world_size"]) for r in rows]
sys.exit(got != [1, 1, 2, 2, 1, 1])
EOF

# Bad resources are refused at plan, before anything is written.
plan_refused "ranks swept alone: cells with one config" "cells 0 and 1 have the same config" \
    "ranks = 1, 2"
check "with a hint to zip them" grep -q "HINT: ranks, cpus_per_rank and time do not change" \
    "$SCRATCH/refused.log"
plan_refused "a rank count out of range" "sweep.ranks = 0 is out of range" \
    "model.spec = mlp:784-8-10, mlp:784-16-10" "ranks = 1, 0" "zip = model.spec, ranks"
plan_refused "a time that is not Slurm's" "sweep.time = 'soon' is not a Slurm time" \
    "model.spec = mlp:784-8-10, mlp:784-16-10" "time = 00:10:00, soon" "zip = model.spec, time"
plan_refused "a time within the stop signal" \
    "sweep.signal_seconds = 120 is not shorter than sweep.time = 00:01:00" \
    "model.spec = mlp:784-8-10, mlp:784-16-10" "time = 00:10:00, 00:01:00" \
    "zip = model.spec, time"
plan_refused "zipped resources of another length" "zipped keys model.spec and cpus_per_rank" \
    "model.spec = mlp:784-8-10, mlp:784-16-10" "cpus_per_rank = 1, 2, 1" \
    "zip = model.spec, cpus_per_rank"
check "no refused plan wrote its directory" test ! -e "$S/never"
finish
