# A full disk (issue 12): the run directory on a small tmpfs, sized so that the disk fills at
# every stage of a run (the first checkpoint, a later one with ckpt.keep=1, results.h5, the
# final checkpoint). Every run ends with exit 0 or with exit 74 and "the file system is full",
# never a crash or a hang; no temporary is left; every checkpoint left verifies; and once
# there is room the same command finishes with the same results as a run that had room.
source "$(dirname "$0")/lib.bash"
[ "$(id -u)" = 0 ] || { echo "SKIP: mounting a tmpfs needs root"; exit 77; }
mnt=$SCRATCH/tmpfs
mkdir -p "$mnt"
mount -t tmpfs -o size=64k tmpfs "$mnt" || { echo "SKIP: cannot mount a tmpfs here"; exit 77; }
trap 'umount "$mnt" 2>/dev/null; rm -rf "$SCRATCH"' EXIT
ARGS=(run train "${SMALL_TRAIN[@]}" ckpt.keep=1)
ranks 2 "${ARGS[@]}" --out "$SCRATCH/ref" >"$SCRATCH/ref.log" 2>&1
run_on_tmpfs() { # run_on_tmpfs CKPT_EVERY
    set +e
    timeout 300 mpiexec --oversubscribe -n 2 "$RANKLAB" "${ARGS[@]}" ckpt.every=$1 \
        --out "$mnt/run" >"$SCRATCH/log" 2>&1
    code=$?
    set -e
}
full=0
from_final=0
# Checkpoints every 10 steps: the disk fills at the first one or at a later one (keep = 1 needs
# room for two). No periodic checkpoints: it fills at the final checkpoint or, after it, while
# results.h5 is written.
for case in 10:100k 10:400k 10:700k 10:1000k 10:1300k 10:1500k 10:2000k \
            0:200k 0:320k 0:400k 0:520k; do
    every=${case%%:*} size=${case#*:}
    rm -rf "$mnt/run"
    mount -o remount,size=$size "$mnt"
    run_on_tmpfs $every
    [ $code = 74 ] && full=$((full + 1))
    check "$case: exit 0, or 74 for a full disk (exit $code)" test $code = 0 -o $code = 74
    if [ $code = 74 ]; then
        check "$case: the error says the disk is full" grep -q "file system is full" "$SCRATCH/log"
        check "$case: and a HINT" grep -q "HINT: free space" "$SCRATCH/log"
    else
        [ $code = 0 ] || cat "$SCRATCH/log"
    fi
    check "$case: no temporary file left" test -z "$(find "$mnt/run" -name '*.tmp')"
    check "$case: every checkpoint left verifies" eval '"$RANKLAB" verify "$mnt/run" >/dev/null'
    had_final=$([ $code = 74 ] && [ -e "$mnt/run/ckpt/final.h5" ] && echo 1 || echo 0)
    mount -o remount,size=16m "$mnt"
    run_on_tmpfs $every
    check "$case: with room, the same command finishes (exit $code)" test $code = 0
    check "$case: with the results of a run that had room" \
        same_results "$SCRATCH/ref/results.h5" "$mnt/run/results.h5"
    if [ $had_final = 1 ]; then
        from_final=$((from_final + 1))
        check "$case: completed from the final checkpoint" grep -q "nothing is recomputed" "$SCRATCH/log"
    fi
done
check "the disk was full in several runs ($full)" test $full -ge 6
check "and in some after the final checkpoint ($from_final)" test $from_final -ge 1
finish
