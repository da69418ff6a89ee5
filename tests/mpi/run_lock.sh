# Two runs on one directory (issue 12): the second is refused while the first holds the run
# directory's lock, naming its holder, and the first finishes with a results.h5 that verifies
# and opens in h5py; a lock left by a run killed with SIGKILL is no obstacle. Two runs that need
# the same pretraining (as cells of a sweep do) share it: one computes it, the other waits.
source "$(dirname "$0")/lib.bash"
ARGS=(run train "${SMALL_TRAIN[@]}" train.epochs=100 ckpt.every=500)
ranks 2 "${ARGS[@]}" --out "$SCRATCH/ref" >/dev/null 2>&1

run=$SCRATCH/run
ranks 2 "${ARGS[@]}" --out "$run" >"$SCRATCH/first.log" 2>&1 &
first=$!
while [ ! -e "$run/run.lock" ]; do sleep 0.05; done
set +e
ranks 2 "${ARGS[@]}" --out "$run" >"$SCRATCH/second.log" 2>&1
code=$?
wait $first
first_code=$?
set -e
check "the second run is refused" test $code -ne 0
check "naming the directory in use and its holder" \
    grep -q "is in use by another run (train run .* pid [0-9]*" "$SCRATCH/second.log"
check "with a hint" grep -q "HINT: wait for that run" "$SCRATCH/second.log"
check "the first run finishes" test $first_code -eq 0
check "its results verify" "$RANKLAB" verify "$run"
check "and equal an undisturbed run's" same_results "$SCRATCH/ref/results.h5" "$run/results.h5"
check "the lock is gone after the run" test ! -e "$run/run.lock"

# kill -9 of rank 0 mid-run: its lock file stays, the kernel's lock does not.
set +e
RANKLAB_FAULT=kill@1200:0 ranks 2 "${ARGS[@]}" --out "$SCRATCH/killed" >/dev/null 2>&1
set -e
check "a killed run leaves its lock file" test -e "$SCRATCH/killed/run.lock"
ranks 2 "${ARGS[@]}" --out "$SCRATCH/killed" >"$SCRATCH/after.log" 2>&1
check "the next run on it resumes anyway" grep -q "resuming" "$SCRATCH/after.log"
check "and ends as an undisturbed run" \
    same_results "$SCRATCH/ref/results.h5" "$SCRATCH/killed/results.h5"

# Two zoqo-attack runs pretraining the same base model (3 s), the second started while the first
# holds the pretraining's lock.
cd "$SCRATCH"
ATTACK=(run zoqo-attack data.train_limit=10000 data.test_limit=1000 init.pretrain_epochs=10
        attack.images=4 attack.max_queries=50 attack.eps=0.1)
ranks 2 "${ATTACK[@]}" attack.methods=zoqo --out "$SCRATCH/a1" >"$SCRATCH/a1.log" 2>&1 &
one=$!
while [ -z "$(find "$SCRATCH/runs" -name run.lock 2>/dev/null)" ]; do sleep 0.05; done
ranks 2 "${ATTACK[@]}" attack.methods=sign --out "$SCRATCH/a2" >"$SCRATCH/a2.log" 2>&1 &
two=$!
set +e
wait $one
code1=$?
wait $two
code2=$?
set -e
check "both runs sharing a pretraining finish ($code1, $code2)" test $code1 -eq 0 -a $code2 -eq 0
check "the second waited for the first's pretraining" \
    grep -q "waiting: .*runs/train-.* is in use by another run" "$SCRATCH/a2.log"
check "and found it complete" grep -q "runs/train-.* is already complete" "$SCRATCH/a2.log"
check "which ran once" test -z "$(grep "already complete" "$SCRATCH/a1.log")"
finish
