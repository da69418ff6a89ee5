# `ranklab verify` and `inspect` on files (issue 12): verify takes a file as well as a run
# directory and reports a results file that is not finished; a results.h5 that is not a
# finished, sealed ranklab file is refused by a run on its directory (never taken for a complete
# run); inspect prints array-valued attributes and datasets of any shape instead of crashing.
source "$(dirname "$0")/lib.bash"
ranks 2 run train "${SMALL_TRAIN[@]}" ckpt.every=20 --out "$SCRATCH/run" >/dev/null 2>&1
run=$SCRATCH/run
check "verify FILE: a results.h5" "$RANKLAB" verify "$run/results.h5"
check "verify FILE: a checkpoint" "$RANKLAB" verify "$run/ckpt/final.h5"

# A stopped run: results.h5.partial, status "running".
set +e
RANKLAB_FAULT=term@25:0 ranks 2 run train "${SMALL_TRAIN[@]}" ckpt.every=20 --out "$SCRATCH/stopped" \
    >/dev/null 2>&1
"$RANKLAB" verify "$SCRATCH/stopped/results.h5.partial" >"$SCRATCH/v.txt" 2>&1
code=$?
set -e
check "verify on a running results file fails" test $code -ne 0
check "saying it is not a finished run" grep -q 'not a finished run: its status is "running"' "$SCRATCH/v.txt"
set +e
"$RANKLAB" verify "$SCRATCH/nothing-here" >"$SCRATCH/v.txt" 2>&1
code=$?
set -e
check "verify on a missing path fails with a hint" test $code -ne 0 -a -n "$(grep HINT "$SCRATCH/v.txt")"
echo "not hdf5" >"$SCRATCH/junk.h5"
set +e
"$RANKLAB" verify "$SCRATCH/junk.h5" >"$SCRATCH/v.txt" 2>&1
code=$?
set -e
check "verify on a file that is not ranklab's fails" test $code -ne 0
check "saying it has no checksum seal" grep -q "no checksum seal" "$SCRATCH/v.txt"

# The partial file copied to results.h5 (a finished-looking run with an empty /final): a run on
# that directory refuses it and changes nothing.
fake=$SCRATCH/fake
mkdir -p "$fake"
cp "$SCRATCH/stopped/results.h5.partial" "$fake/results.h5"
before=$(md5sum "$fake/results.h5")
set +e
ranks 2 run train "${SMALL_TRAIN[@]}" ckpt.every=20 --out "$fake" >"$SCRATCH/fake.log" 2>&1
code=$?
set -e
check "a results.h5 that is not a finished run is refused" test $code -ne 0
check "naming the file and the problem" grep -q "existing results in .*no checksum seal" "$SCRATCH/fake.log"
check "and left as it was" test "$before" = "$(md5sum "$fake/results.h5")"
"$RANKLAB" verify "$fake" >"$SCRATCH/v.txt" 2>&1 || true
check "verify reports it BAD" grep -q "^BAD .*results.h5" "$SCRATCH/v.txt"

# Array-valued attributes, a 2-D and a string dataset (h5py), in a partial file inspect reads.
/usr/bin/python3 - "$SCRATCH/odd.h5.partial" <<'PY'
import sys, h5py, numpy as np
with h5py.File(sys.argv[1], "w") as f:
    f.attrs["run_id"] = "0123456789abcdef"
    f.attrs["shape"] = np.arange(5)
    f.attrs["matrix"] = np.ones((2, 3))
    f.attrs["names"] = np.array([b"a", b"b"])
    f.create_group("metrics").create_dataset("grid", data=np.zeros((3, 4)))
    f.create_group("final").create_dataset("label", data="text")
    f.create_group("arrays").create_dataset("empty", shape=(0,), dtype="f4")
PY
set +e
"$RANKLAB" inspect "$SCRATCH/odd.h5.partial" >"$SCRATCH/inspect.txt" 2>&1
code=$?
set -e
cat "$SCRATCH/inspect.txt"
check "inspect with array attributes exits 0" test $code -eq 0
check "and describes the array attribute" grep -q "shape .*integer array (5)" "$SCRATCH/inspect.txt"
check "and the 2-D dataset" grep -q "grid .*float array (3, 4)" "$SCRATCH/inspect.txt"
finish
