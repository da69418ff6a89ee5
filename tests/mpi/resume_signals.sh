# A run stopped by SIGTERM and resumed, and one killed by SIGKILL and resumed, end with the same
# parameters and metrics as an uninterrupted run (DESIGN.md invariant 3).
source "$(dirname "$0")/lib.bash"
ARGS=(run train "${SMALL_TRAIN[@]}" ckpt.every=20)

ranks 2 "${ARGS[@]}" --out "$SCRATCH/ref" >/dev/null 2>&1

# SIGTERM raised on rank 1 at step 45: both ranks agree, checkpoint step 45, exit 75.
set +e
RANKLAB_FAULT=term@45:1 ranks 2 "${ARGS[@]}" --out "$SCRATCH/term" >"$SCRATCH/term.log" 2>&1
code=$?
set -e
check "SIGTERM exits with code 75 (got $code)" test "$code" -eq 75
check "SIGTERM leaves a checkpoint at step 45" test -f "$SCRATCH/term/ckpt/step-0000000045.h5"
check "SIGTERM leaves no results.h5" test ! -e "$SCRATCH/term/results.h5"
ranks 2 "${ARGS[@]}" --out "$SCRATCH/term" >"$SCRATCH/term2.log" 2>&1
check "resume after SIGTERM starts at step 45" grep -q "from step 45" "$SCRATCH/term2.log"
check "resumed after SIGTERM == uninterrupted" same_results "$SCRATCH/ref/results.h5" "$SCRATCH/term/results.h5"

# SIGKILL on rank 0 at step 50: the job dies; the newest checkpoint is step 40.
set +e
RANKLAB_FAULT=kill@50:0 ranks 2 "${ARGS[@]}" --out "$SCRATCH/kill" >"$SCRATCH/kill.log" 2>&1
code=$?
set -e
check "SIGKILL fails the job (code $code)" test "$code" -ne 0 -a "$code" -ne 75
check "SIGKILL leaves no results.h5" test ! -e "$SCRATCH/kill/results.h5"
ranks 2 "${ARGS[@]}" --out "$SCRATCH/kill" >"$SCRATCH/kill2.log" 2>&1
check "resume after SIGKILL starts at step 40" grep -q "from step 40" "$SCRATCH/kill2.log"
check "resumed after SIGKILL == uninterrupted" same_results "$SCRATCH/ref/results.h5" "$SCRATCH/kill/results.h5"

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
