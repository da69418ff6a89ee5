# Preemption on the local Slurm: USR2 to a running cell's batch script (what --signal=B:USR2@T
# sends before the time limit) is forwarded to the ranks, which checkpoint and exit 75; the task
# requeues itself and resumes. With sweep.max_requeues = 1 a second stop is not requeued; the
# cell is then failed and `resubmit --failed` finishes it. It ends bit-identical to the same
# cell run without interruption.
source "$(dirname "$0")/lib.bash"
SW="$SCRATCH/sweep"
REF="$SCRATCH/ref"
# One cell long enough to interrupt twice: 320 steps, a checkpoint every 20.
small_sweep_file "$SCRATCH/sweep.ini" "run.seed = 1" "max_requeues = 1"
sed -i 's/^spec = .*/spec = mlp:784-256-10/' "$SCRATCH/sweep.ini"
# 20 epochs (800 steps): long enough that the cell is still running when it is signalled.
sed -i 's/^epochs = .*/epochs = 20\nbatch = 50\n[ckpt]\nevery = 20/' "$SCRATCH/sweep.ini"
"$RANKLAB" sweep plan "$SCRATCH/sweep.ini" --dir "$SW" >/dev/null
"$RANKLAB" sweep plan "$SCRATCH/sweep.ini" --dir "$REF" >/dev/null
CELL="$SW/$(awk -F'\t' 'NR == 2 { print $3 }' "$SW/manifest.tsv")"

newest_step() { # the step of the newest checkpoint of the cell, or 0
    local f
    f=$(ls "$CELL/ckpt" 2>/dev/null | grep '^step-[0-9]*\.h5$' | sort | tail -n1)
    f=${f#step-}
    f=${f%.h5}
    echo $((10#${f:-0}))
}

interrupt_after() { # interrupt_after STEP: USR2 to the batch shell once a checkpoint > STEP exists
    local job
    for _ in $(seq 600); do
        [ "$(newest_step)" -gt "$1" ] && break
        sleep 0.1
    done
    job=$(sweep_jobs "$SW")
    scancel --batch --signal=USR2 "$job"
    echo "USR2 sent at checkpoint step $(newest_step)"
}

"$RANKLAB" sweep submit "$SW"
interrupt_after 0
# Wait for the stop, the requeue (the local Slurm holds a requeued job 10 s) and the resume.
for _ in $(seq 900); do
    grep -q "SLURM_RESTART_COUNT=1" "$SW"/logs/*.out 2>/dev/null && break
    sleep 0.1
done
first=$(grep -oh 'checkpointing at step [0-9]*' "$SW"/logs/*.out | sed -n '1s/.* //p')
interrupt_after "$first"
wait_sweep "$SW" 120
LOG=$(ls "$SW"/logs/*.out)
cat "$LOG"
check "the trap forwarded USR2 twice" \
    test "$(grep -c 'USR2: forwarding it to the ranks' "$LOG")" -eq 2
check "the ranks checkpointed and stopped twice" \
    test "$(grep -c 'stopped; checkpoint in .*cells/0000-' "$LOG")" -eq 2
check "the task requeued itself once" test "$(grep -c 'requeueing (restart 1 of 1)' "$LOG")" -eq 1
check "the restart logged SLURM_RESTART_COUNT=1" \
    grep -q "cell 0 of 1 .*SLURM_RESTART_COUNT=1" "$LOG"
check "the restart resumed from step $first" grep -q "from step $first " "$LOG"
check "the second stop was not requeued" grep -q "not requeueing again" "$LOG"
set +e
"$RANKLAB" sweep status "$SW" >"$SCRATCH/status.log"
code=$?
set -e
cat "$SCRATCH/status.log"
check "status: the cell failed (code $code)" \
    grep -q "1 cells: 0 complete, 0 running, 1 failed" "$SCRATCH/status.log"
check "status shows the stop" \
    grep -q "exited with code 75 (stopped after a checkpoint)" "$SCRATCH/status.log"

"$RANKLAB" sweep resubmit "$SW" --failed | tee "$SCRATCH/resubmit.log"
check "resubmit names cell 0" \
    grep -q "resubmitting 1 of 1 cells (1 failed, 0 missing): 0$" "$SCRATCH/resubmit.log"
wait_sweep "$SW" 120
check "the resubmitted cell resumed" test "$(cat "$SW"/logs/*.out | grep -c 'resuming')" -eq 2
check "status: complete" "$RANKLAB" sweep status "$SW"

# The same cell, uninterrupted, outside Slurm.
ranks 2 sweep run "$REF" --cell 0 >"$SCRATCH/ref.log" 2>&1
check "interrupted twice == uninterrupted" same_results "$REF"/cells/*/results.h5 "$CELL/results.h5"
finish
