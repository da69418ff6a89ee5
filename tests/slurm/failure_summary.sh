# Failure summaries on the local Slurm (issue 18, item 9): a sweep of two array tasks, cell 0
# failing mid-run on rank 1 when a checkpoint write fails (RANKLAB_FAULT_IO, passed through
# sbatch to the ranks), cell 1 refused at start (9 outputs for 10 classes, seen once the data is
# read) before it takes its directory. `sweep status` prints the first failure of each: the
# summary rank 1 wrote, and the error and hint of cell 1's array task log.
source "$(dirname "$0")/lib.bash"
SW="$SCRATCH/sweep"
cat >"$SCRATCH/sweep.ini" <<'EOF'
[sweep]
experiment = train
model.spec = mlp:784-16-10, mlp:784-16-9
ranks = 2
time = 00:05:00
signal_seconds = 60
[data]
train_limit = 1000
test_limit = 500
[train]
epochs = 2
batch = 100
chunk = 16
[ckpt]
every = 6
EOF
"$RANKLAB" sweep plan "$SCRATCH/sweep.ini" --dir "$SW" >/dev/null

# The number of rank 1's first write into a checkpoint (step 6), from a traced run of cell 0.
n=$(first_traced_write "$SCRATCH/sweep.ini" 0 1 step-)
check "rank 1 writes a checkpoint in cell 0 (write $n)" test -n "$n"

RANKLAB_FAULT_IO=write@$n:1 "$RANKLAB" sweep submit "$SW" >"$SCRATCH/submit.log"
JOB=$(sed -n 's/^submitted job \([0-9]*\):.*/\1/p' "$SCRATCH/submit.log")
check "one array job ($JOB)" test -n "$JOB"
wait_sweep "$SW" 50
check "the fault reached rank 1 of cell 0 through sbatch" \
    grep -q "^\[rank 1/2\] fault injection: failing write $n " "$SW/logs/${JOB}_0.out"

set +e
"$RANKLAB" sweep status "$SW" >"$SCRATCH/status.log" 2>&1
code=$?
set -e
cat "$SCRATCH/status.log"
row() { awk -v c="$1" '$1 == c' "$SCRATCH/status.log"; }
check "status exits 3, not complete (got $code)" test "$code" -eq 3
check "status: cell 0 failed, with rank 1's summary (step 6, the error)" \
    bash -c "grep -q '^0 *failed .*first failure: 20[^ ]*Z rank 1 of 2 on $(hostname), pid [0-9]*, at step 6 of 20: .*step-0000000006.h5.tmp: cannot write' <<<'$(row 0)'"
check "status: cell 1 failed at start, with the error and hint of its array task's log" \
    bash -c "grep -qF 'failed at start: [rank 0/2] model.spec mlp:784-16-9 takes 784 inputs and gives 9 outputs; the data fashion-mnist has 784 features and needs 10 outputs; [rank 0/2] HINT: match the first and last numbers of the model spec to the data (log $SW/logs/${JOB}_1.out)' <<<'$(row 1)'"
check "status counts 2 failed, 0 missing" \
    grep -q "^2 cells: 0 complete, 0 running, 2 failed, 0 missing" "$SCRATCH/status.log"
finish
