# A run stopped by SIGTERM and resumed, and one killed by SIGKILL and resumed, end with the same
# parameters and metrics as an uninterrupted run (DESIGN.md invariant 3).
source "$(dirname "$0")/lib.bash"
ARGS=(run train "${SMALL_TRAIN[@]}" ckpt.every=20)

ranks 2 "${ARGS[@]}" --out "$SCRATCH/ref" >/dev/null 2>&1

# SIGTERM raised on rank 1 at step 45: both ranks agree, checkpoint step 45, exit 75; resumed
# from step 45.
stop_and_resume "train" term@45:1 "from step 45" 2 "$SCRATCH/ref/results.h5" "$SCRATCH/term" \
    "${ARGS[@]}"
# SIGKILL on rank 0 at step 50: the job dies; the newest checkpoint is step 40.
stop_and_resume "train" kill@50:0 "from step 40" 2 "$SCRATCH/ref/results.h5" "$SCRATCH/kill" \
    "${ARGS[@]}"

# A real signal from outside, at whatever step it lands, resumed on another rank count (60
# epochs: the run is still going when the signal comes).
ranks 2 "${ARGS[@]}" train.epochs=60 --out "$SCRATCH/ext" >"$SCRATCH/ext.log" 2>&1 &
job=$!
for _ in $(seq 1 600); do
    [ -n "$(ls "$SCRATCH/ext/ckpt" 2>/dev/null)" ] && break
    sleep 0.05
done
pkill -TERM -f "^$RANKLAB run .*--out $SCRATCH/ext$" || true
set +e
wait $job
code=$?
set -e
check "external SIGTERM exits with code 75 (got $code)" test "$code" -eq 75
ranks 2 "${ARGS[@]}" train.epochs=60 --out "$SCRATCH/ext-ref" >/dev/null 2>&1
ranks 4 "${ARGS[@]}" train.epochs=60 --out "$SCRATCH/ext" >"$SCRATCH/ext2.log" 2>&1
check "resume after external SIGTERM resumes" grep -q "resuming" "$SCRATCH/ext2.log"
check "stopped on 2 ranks, resumed on 4 == uninterrupted" same_results "$SCRATCH/ext-ref/results.h5" "$SCRATCH/ext/results.h5"

# A complete run is not rerun.
before=$(stat -c %Y.%s "$SCRATCH/ref/results.h5")
ranks 2 "${ARGS[@]}" --out "$SCRATCH/ref" >"$SCRATCH/again.log" 2>&1
check "a complete run is not rerun" grep -q "already complete" "$SCRATCH/again.log"
check "and its results are untouched" test "$before" = "$(stat -c %Y.%s "$SCRATCH/ref/results.h5")"
finish
