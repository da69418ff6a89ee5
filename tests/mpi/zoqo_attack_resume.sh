# `zoqo-attack` stopped by SIGTERM or killed by SIGKILL between images and resumed (on another
# rank count) ends with the same per-image query counts and adversarial images as an
# uninterrupted run: the checkpoint holds every finished image's result, the resumed run attacks
# only the others.
source "$(dirname "$0")/lib.bash"
ranks 2 run train "${SMALL_TRAIN[@]}" --out "$SCRATCH/base" >"$SCRATCH/base.log" 2>&1
ATTACK=(run zoqo-attack data.train_limit=3000 data.test_limit=1000 init.from="$SCRATCH/base"
        attack.images=20 attack.max_queries=300 attack.eps=0.05,0.2 attack.save_images=6
        ckpt.every=7)
ranks 2 "${ATTACK[@]}" --out "$SCRATCH/ref" >/dev/null 2>&1

# 20 images on 2 ranks: 10 rounds per (attack, ε), 60 in all; SIGTERM to rank 1 at round 25.
set +e
RANKLAB_FAULT=term@25:1 ranks 2 "${ATTACK[@]}" --out "$SCRATCH/term" >"$SCRATCH/term.log" 2>&1
code=$?
set -e
check "SIGTERM exits with code 75 (got $code)" test "$code" -eq 75
check "SIGTERM leaves a checkpoint and no results.h5" \
    bash -c "ls '$SCRATCH/term/ckpt/'step-*.h5 >/dev/null && [ ! -e '$SCRATCH/term/results.h5' ]"
ranks 4 "${ATTACK[@]}" --out "$SCRATCH/term" >"$SCRATCH/term2.log" 2>&1
check "resume after SIGTERM starts from the 50 attacks done" \
    grep -q "50 of 120 attacks done" "$SCRATCH/term2.log"
check "stopped on 2 ranks, resumed on 4 == uninterrupted" \
    same_results "$SCRATCH/ref/results.h5" "$SCRATCH/term/results.h5"

# SIGKILL on rank 0 at round 40: the newest checkpoint is the one after round 34 (70 done).
set +e
RANKLAB_FAULT=kill@40:0 ranks 2 "${ATTACK[@]}" --out "$SCRATCH/kill" >"$SCRATCH/kill.log" 2>&1
code=$?
set -e
check "SIGKILL fails the job (code $code)" test "$code" -ne 0 -a "$code" -ne 75
ranks 1 "${ATTACK[@]}" --out "$SCRATCH/kill" >"$SCRATCH/kill2.log" 2>&1
check "resume after SIGKILL starts from the 70 attacks done" \
    grep -q "70 of 120 attacks done" "$SCRATCH/kill2.log"
check "killed on 2 ranks, resumed on 1 == uninterrupted" \
    same_results "$SCRATCH/ref/results.h5" "$SCRATCH/kill/results.h5"
finish
