# The stall watchdog (issue 18, item 8): one rank of three stops (SIGSTOP) at a given step
# (RANKLAB_FAULT=stop@STEP:RANK: a whole run takes 2 s, too short to aim at from here); the ranks
# waiting for it in a collective name it, the collective and the step within
# run.stall_warn_seconds, and the job aborts with that message after run.stall_abort_seconds. The
# same when the rank stops in the middle of a checkpoint's parallel HDF5 write: the watchdog times
# the write as one collective, so the others are watched whether they wait in HDF5's own
# collectives (file create, dataset create and write, close) or in the error checks between them.
# A rank stopped for a while under a watchdog that only warns resumes, and the run ends with the
# results of an undisturbed one: the watchdog's keys change neither the results nor the run id.
# An aborting rank leaves the message in its failure summary (failure-rank-R.txt). Each job runs
# under `timeout`: a watchdog that misses a stall fails the test, not ctest's clock, and the job's
# log is printed then.
source "$(dirname "$0")/lib.bash"
ARGS=(run train "${SMALL_TRAIN[@]}" train.epochs=60 log.progress_seconds=0.5)
JOB_SECONDS=120
STOPPED_PID=
cleanup() {
    if [ -n "$STOPPED_PID" ]; then
        kill -CONT "$STOPPED_PID" 2>/dev/null || true
        kill -KILL "$STOPPED_PID" 2>/dev/null || true
    fi
    rm -rf "$SCRATCH"
}
trap cleanup EXIT

rank_pid() { # rank_pid OUT_DIR RANK: the pid of that rank of the job writing OUT_DIR, if any
    local p
    for p in $(pgrep -f -- "--out $1\$"); do
        if tr '\0' '\n' <"/proc/$p/environ" 2>/dev/null | grep -qx "OMPI_COMM_WORLD_RANK=$2"; then
            echo "$p"
            return
        fi
    done
}

wait_for_line() { # wait_for_line FILE PATTERN SECONDS: 0 once FILE has a line matching PATTERN
    local deadline=$((SECONDS + $3))
    until grep -q -- "$2" "$1"; do
        [ $SECONDS -lt $deadline ] || return 1
        sleep 0.1
    done
}

show_log_on_failure() { # show_log_on_failure LOG FAILURES_BEFORE: the log, if a check failed
    if [ "$FAILURES" -gt "$2" ]; then
        echo "---- $1 (last 40 lines)"
        tail -40 "$1"
        echo "----"
    fi
}

# Run id and docs: the keys are declared, runtime (not hashed), documented.
"$RANKLAB" show-config train >"$SCRATCH/defaults.txt"
"$RANKLAB" show-config train run.stall_warn_seconds=5 run.stall_abort_seconds=0 >"$SCRATCH/set.txt"
check "the watchdog's keys do not change the run id" \
    test "$(head -1 "$SCRATCH/defaults.txt")" = "$(head -1 "$SCRATCH/set.txt")"
"$RANKLAB" run train --help >"$SCRATCH/help.txt"
check "run.stall_warn_seconds is documented, default 120" \
    grep -q "run.stall_warn_seconds .*default 120, runtime" "$SCRATCH/help.txt"
check "run.stall_abort_seconds is documented, default 1800" \
    grep -q "run.stall_abort_seconds .*default 1800, runtime" "$SCRATCH/help.txt"

# Rank 2 stopped for good: warnings on ranks 0 and 1 after 3 s, abort after 12 s.
WARN=3
ABORT=12
log=$SCRATCH/stopped.log
failed_before=$FAILURES
RANKLAB_FAULT=stop@100:2 timeout $JOB_SECONDS mpiexec --oversubscribe -n 3 "$RANKLAB" \
    "${ARGS[@]}" run.stall_warn_seconds=$WARN run.stall_abort_seconds=$ABORT \
    --out "$SCRATCH/stopped" >"$log" 2>&1 &
job=$!
wait_for_line "$log" "rank 2/3\] fault injection: raising stop at step 100" 60
stopped_at=$SECONDS
STOPPED_PID=$(rank_pid "$SCRATCH/stopped" 2)
warned_after() { # warned_after RANK: seconds from the stop to RANK's warning, or "never"
    wait_for_line "$log" "rank $1/3\] stall: rank 2 has not reached" \
        $((WARN + 6 - (SECONDS - stopped_at))) && echo $((SECONDS - stopped_at)) || echo never
}
warned0=$(warned_after 0)
warned1=$(warned_after 1)
check "rank 0 names rank 2 within the warn time (+3 s; after $warned0 s)" \
    test "$warned0" != never -a "$warned0" -le $((WARN + 3))
check "rank 1 names it too (after $warned1 s)" \
    test "$warned1" != never -a "$warned1" -le $((WARN + 3))
check "with the collective and the step" \
    grep -q "stall: rank 2 has not reached MPI_[A-Za-z]*(.*at step 10[01] of 1800) in [0-9]* s" \
    "$log"
set +e
wait $job
code=$?
set -e
aborted=$((SECONDS - stopped_at))
check "the job aborts (exit $code) after the abort time ($aborted s after the stop)" \
    test $code -ne 0 -a $aborted -ge $ABORT -a $aborted -le $((ABORT + 15))
check "with the message naming rank 2 and the step" \
    grep -q "^fatal: rank [01] on .*: stall: rank 2 has not reached .*at step .*aborting the job (run.stall_abort_seconds = $ABORT)" \
    "$log"
check "before its results were written" test ! -e "$SCRATCH/stopped/results.h5"
check "the aborting ranks leave the message as their failure summary" \
    grep -q "^error: stall: rank 2 has not reached" "$SCRATCH"/stopped/failure-rank-[01].txt
kill -CONT "$STOPPED_PID" 2>/dev/null || true
kill -KILL "$STOPPED_PID" 2>/dev/null || true
STOPPED_PID=
show_log_on_failure "$log" "$failed_before"

# Rank 2 stops at its first dataset write of the checkpoint at step 20 (RANKLAB_FAULT_IO=stop).
n=$(RANKLAB_FAULT_IO=trace ranks 3 "${ARGS[@]}" train.epochs=1 ckpt.every=20 \
    --out "$SCRATCH/traced" 2>&1 |
    sed -n 's|^\[rank 2/3\] io trace: write \([0-9]*\) .*/step-0*20\.h5\.tmp /[a-z_/]*$|\1|p' |
    head -1)
log=$SCRATCH/in-io.log
failed_before=$FAILURES
set +e
RANKLAB_FAULT_IO=stop@$n:2 timeout $JOB_SECONDS mpiexec --oversubscribe -n 3 "$RANKLAB" \
    "${ARGS[@]}" ckpt.every=20 run.stall_warn_seconds=2 run.stall_abort_seconds=6 \
    --out "$SCRATCH/in-io" >"$log" 2>&1
code=$?
set -e
STOPPED_PID=$(rank_pid "$SCRATCH/in-io" 2)
check "rank 2 stopped in the checkpoint's first dataset write ($n)" \
    grep -q "rank 2/3\] fault injection: stopping this process at write $n .*step-0*20.h5.tmp" "$log"
check "the others name it, in the checkpoint write" \
    grep -q "rank [01]/3\] stall: rank 2 has not reached the checkpoint write (parallel HDF5) (collective [0-9]* of the world's ranks, at step 20 of 1800)" \
    "$log"
check "and abort the job (exit $code; 124: the timeout ended it)" \
    grep -q "^fatal: rank [01] on .*: stall: rank 2 has not reached the checkpoint write" "$log"
kill -CONT "$STOPPED_PID" 2>/dev/null || true
kill -KILL "$STOPPED_PID" 2>/dev/null || true
STOPPED_PID=
show_log_on_failure "$log" "$failed_before"

# Rank 1 stopped until a warning names it, under a watchdog that only warns: the run goes on.
ranks 3 "${ARGS[@]}" --out "$SCRATCH/ref" >/dev/null 2>&1
log=$SCRATCH/paused.log
failed_before=$FAILURES
RANKLAB_FAULT=stop@100:1 timeout $JOB_SECONDS mpiexec --oversubscribe -n 3 "$RANKLAB" \
    "${ARGS[@]}" run.stall_warn_seconds=2 run.stall_abort_seconds=0 --out "$SCRATCH/paused" \
    >"$log" 2>&1 &
job=$!
wait_for_line "$log" "rank 1/3\] fault injection: raising stop at step 100" 60
STOPPED_PID=$(rank_pid "$SCRATCH/paused" 1)
check "a warning names the paused rank" wait_for_line "$log" "stall: rank 1 has not reached" 30
kill -CONT "$STOPPED_PID"
STOPPED_PID=
set +e
wait $job
code=$?
set -e
check "the paused run completes (exit $code)" test $code -eq 0
check "with no abort" bash -c "! grep -q '^fatal' '$log'"
check "and the results of an undisturbed run" \
    same_results "$SCRATCH/ref/results.h5" "$SCRATCH/paused/results.h5"
show_log_on_failure "$log" "$failed_before"
finish
