# Killed cells on the local Slurm: the ranks of a running cell are killed with SIGKILL (after
# its first checkpoint) and three pending cells are cancelled before they start. `sweep status`
# sees them failed (the process its heartbeat names is gone from this machine) and missing
# (tests/mpi/sweep_local.sh covers heartbeats of other machines); `resubmit --failed`
# submits exactly those (array spec 1,3-5), they complete, and no cell completes twice.
source "$(dirname "$0")/lib.bash"
SW="$SCRATCH/sweep"
small_sweep_file "$SCRATCH/sweep.ini" "train.lr = 0.01, 0.003, 0.001" "run.seed = 1, 2" \
    "throttle = 1"
sed -i 's/^spec = .*/spec = mlp:784-128-10/' "$SCRATCH/sweep.ini"
# 20 epochs (800 steps): long enough that cell 1 is still running when it is killed.
sed -i 's/^epochs = .*/epochs = 20\nbatch = 50\n[ckpt]\nevery = 20/' "$SCRATCH/sweep.ini"
"$RANKLAB" sweep plan "$SCRATCH/sweep.ini" --dir "$SW" >/dev/null
"$RANKLAB" sweep submit "$SW" | tee "$SCRATCH/submit.log"
JOB=$(sed -n 's/^submitted job \([0-9]*\):.*/\1/p' "$SCRATCH/submit.log")

set +e
"$RANKLAB" sweep resubmit "$SW" --failed >"$SCRATCH/early.log" 2>&1
code=$?
set -e
check "resubmit is refused while the sweep is queued (code $code)" \
    grep -q "jobs of this sweep are still in the queue: $JOB" "$SCRATCH/early.log"

# Kill cell 1 once it has a checkpoint, and cancel cells 3-5 before they start (throttle 1).
for _ in $(seq 600); do
    ls "$SW"/cells/0001-*/ckpt/step-*.h5 >/dev/null 2>&1 && break
    sleep 0.1
done
kill -KILL $(pgrep -f "ranklab sweep run $SW --cell 1$") # both ranks, as if the node died
scancel "${JOB}_3" "${JOB}_4" "${JOB}_5"
wait_sweep "$SW" 120
set +e
"$RANKLAB" sweep status "$SW" | tee "$SCRATCH/status1.log"
set -e
# A killed cell leaves its heartbeat behind, but the process it names is gone from this machine.
check "a just-killed cell is failed at once" \
    grep -q "^1 *failed .*its process is gone" "$SCRATCH/status1.log"
states=$(awk '$2 ~ /^(complete|running|failed|missing)$/ { printf "%s ", $2 }' "$SCRATCH/status1.log")
check "cells 0-5: complete failed complete missing missing missing (got $states)" \
    test "$states" = "complete failed complete missing missing missing "
results_02() { stat -c '%i %Y' "$SW"/cells/0000-*/results.h5 "$SW"/cells/0002-*/results.h5; }
before=$(results_02)

"$RANKLAB" sweep resubmit "$SW" --failed --stale 3 | tee "$SCRATCH/resubmit.log"
check "resubmit prints the array spec 1,3-5" \
    grep -q "(1 failed, 3 missing): 1,3-5$" "$SCRATCH/resubmit.log"
check "the new array holds exactly those cells" \
    grep -q '^#SBATCH --array=1,3-5%1$' "$SW/jobs/002.sbatch"
wait_sweep "$SW" 180
check "status: all 6 complete" "$RANKLAB" sweep status "$SW"
check "every results.h5 is valid" /usr/bin/python3 "$(dirname "$0")/check_cells.py" "$SW" 2 20
check "cells 0 and 2 were not touched" test "$before" = "$(results_02)"
# Each log is one (job, task) = one cell; a cell that finished training printed its accuracy.
for c in 0 1 2 3 4 5; do
    n=$(grep -l "sweep cell $c: job" "$SW"/logs/*.out | xargs grep -c "^train: test accuracy" |
        awk -F: '{ s += $NF } END { print s + 0 }')
    check "cell $c completed once (got $n)" test "$n" -eq 1
done
check "cell 1 resumed from its checkpoint" \
    grep -q "resuming" $(grep -l "sweep cell 1: job" "$SW"/logs/*.out)
"$RANKLAB" sweep resubmit "$SW" --failed | tee "$SCRATCH/again.log"
check "a second resubmit has nothing to do" grep -q "nothing to resubmit" "$SCRATCH/again.log"
check "and submits no job" test ! -e "$SW/jobs/003.sbatch"
finish
