# A truncated or corrupted checkpoint is detected, reported by `ranklab verify`, and skipped on
# resume in favour of the previous good one (DESIGN.md invariant 4).
source "$(dirname "$0")/lib.bash"
ARGS=(run train "${SMALL_TRAIN[@]}" ckpt.every=20 ckpt.keep=3)
ranks 2 "${ARGS[@]}" --out "$SCRATCH/ref" >/dev/null 2>&1

set +e
RANKLAB_FAULT=term@50:0 ranks 2 "${ARGS[@]}" --out "$SCRATCH/run" >/dev/null 2>&1
set -e
ckpt=$SCRATCH/run/ckpt
check "three checkpoints (20, 40, 50)" test "$(ls "$ckpt" | tr '\n' ' ')" = \
    "step-0000000020.h5 step-0000000040.h5 step-0000000050.h5 "
"$RANKLAB" verify "$SCRATCH/run" >"$SCRATCH/verify-good.txt"
check "verify passes intact checkpoints" grep -q "0 problem(s)" "$SCRATCH/verify-good.txt"

# Truncate the newest; overwrite bytes in the middle of the data of the one before.
size=$(stat -c %s "$ckpt/step-0000000050.h5")
truncate -s $((size / 2)) "$ckpt/step-0000000050.h5"
size=$(stat -c %s "$ckpt/step-0000000040.h5")
printf 'ranklab-corruption-ranklab-corruption' |
    dd of="$ckpt/step-0000000040.h5" bs=1 seek=$((size / 2)) conv=notrunc status=none

set +e
"$RANKLAB" verify "$SCRATCH/run" >"$SCRATCH/verify.txt"
code=$?
set -e
cat "$SCRATCH/verify.txt"
check "verify exits 1 on damage" test "$code" -eq 1
check "verify reports the truncated checkpoint" grep -q "BAD .*step-0000000050.h5 has no checksum seal" "$SCRATCH/verify.txt"
check "verify reports the corrupted checkpoint" grep -q "BAD .*step-0000000040.h5 fails its checksum" "$SCRATCH/verify.txt"
check "verify passes the good one" grep -q "^ok .*step-0000000020.h5" "$SCRATCH/verify.txt"

ranks 2 "${ARGS[@]}" --out "$SCRATCH/run" >"$SCRATCH/resume.log" 2>&1
check "resume warns about both damaged checkpoints" test "$(grep -c "skipping damaged checkpoint" "$SCRATCH/resume.log")" -eq 2
check "resume starts from step 20" grep -q "from step 20" "$SCRATCH/resume.log"
check "resumed from the older checkpoint == uninterrupted" same_results "$SCRATCH/ref/results.h5" "$SCRATCH/run/results.h5"
finish
