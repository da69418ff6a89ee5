# A real sweep on the local Slurm: 6 cells x 2 ranks of a small train, submitted as job arrays
# split at --max-array-size 4 (cells 0-3 and 4-5), every cell complete with a valid results.h5.
source "$(dirname "$0")/lib.bash"
SW="$SCRATCH/sweep"
small_sweep_file "$SCRATCH/sweep.ini" "train.lr = 0.01, 0.003" "run.seed = 1, 2, 3"

"$RANKLAB" sweep plan "$SCRATCH/sweep.ini" --dir "$SW" | tee "$SCRATCH/plan.log"
check "plan counts 6 cells" grep -q "6 cells" "$SCRATCH/plan.log"
check "manifest has 6 rows" test "$(tail -n +2 "$SW/manifest.tsv" | wc -l)" -eq 6
# The cell's run id is the one `ranklab run` gives the same config.
id3=$("$RANKLAB" show-config train data.train_limit=2000 data.test_limit=1000 \
    model.spec=mlp:784-32-10 train.epochs=2 train.lr=0.003 run.seed=1 |
    sed -n '1s/.*run id \([0-9a-f]*\).*/\1/p')  # sed reads it all: no SIGPIPE under pipefail
check "cell 3 run id = show-config's ($id3)" \
    grep -q "^3	$id3	cells/0003-$id3	0.003	1$" "$SW/manifest.tsv"

"$RANKLAB" sweep submit "$SW" --max-array-size 4 | tee "$SCRATCH/submit.log"
check "two array jobs (split at 4)" test "$(grep -c '^submitted job' "$SCRATCH/submit.log")" -eq 2
check "array 1 covers cells 0-3" grep -q '^#SBATCH --array=0-3$' "$SW/jobs/001.sbatch"
check "array 2 covers cells 4-5 as tasks 0-1" grep -q '^#SBATCH --array=0-1$' "$SW/jobs/002.sbatch"
check "array 2 offsets its task ids by 4" grep -q 'SLURM_ARRAY_TASK_ID + 4' "$SW/jobs/002.sbatch"
wait_sweep "$SW" 240

set +e
"$RANKLAB" sweep status "$SW" | tee "$SCRATCH/status.log"
code=${PIPESTATUS[0]}
set -e
check "status exits 0 (got $code)" test "$code" -eq 0
check "status: 6 complete" grep -q "6 cells: 6 complete" "$SCRATCH/status.log"
check "every results.h5 is valid" /usr/bin/python3 "$(dirname "$0")/check_cells.py" "$SW" 2 2
check "one log per (job, task)" test "$(ls "$SW/logs" | grep -c '^[0-9]*_[0-9]*\.out$')" -eq 6
named=$(cat "$SW"/logs/*.out | grep -o 'sweep cell [0-9]*: job' | sort -u | wc -l)
check "logs name each cell 0-5 ($named)" test "$named" -eq 6
check "logs record SLURM_RESTART_COUNT" \
    test "$(grep -l 'SLURM_RESTART_COUNT=0' "$SW"/logs/*.out | wc -l)" -eq 6
finish
