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

# 20 images on 2 ranks: 10 rounds per (attack, ε), 60 in all; SIGTERM to rank 1 at round 25,
# resumed on 4 ranks from the 50 attacks done.
stop_and_resume "zoqo-attack" term@25:1 "50 of 120 attacks done" 4 "$SCRATCH/ref/results.h5" \
    "$SCRATCH/term" "${ATTACK[@]}"
# SIGKILL on rank 0 at round 40: the newest checkpoint is the one after round 34 (70 done).
stop_and_resume "zoqo-attack" kill@40:0 "70 of 120 attacks done" 1 "$SCRATCH/ref/results.h5" \
    "$SCRATCH/kill" "${ATTACK[@]}"
finish
