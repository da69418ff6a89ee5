# What a run is made from is part of it (issue 12): a run stopped on one copy of the data and
# resumed with data.dir pointing at other data (one test label changed) is refused naming both
# digests, and writes nothing; the same data in another directory resumes and ends as an
# uninterrupted run; results.h5 records the digests in its "inputs" attribute.
source "$(dirname "$0")/lib.bash"
src=/usr/share/datasets/fashion-mnist
mkdir -p "$SCRATCH/copy" "$SCRATCH/other"
cp "$src"/*.gz "$SCRATCH/copy/"
cp "$src"/*.gz "$SCRATCH/other/"
gunzip "$SCRATCH/other/t10k-labels-idx1-ubyte.gz"
label=$(od -An -tu1 -j20 -N1 "$SCRATCH/other/t10k-labels-idx1-ubyte" | tr -d ' ')
printf "\\$(printf '%03o' $(((label + 1) % 10)))" |
    dd of="$SCRATCH/other/t10k-labels-idx1-ubyte" bs=1 seek=20 conv=notrunc status=none
gzip "$SCRATCH/other/t10k-labels-idx1-ubyte"

ARGS=(run train "${SMALL_TRAIN[@]}" ckpt.every=20)
ranks 2 "${ARGS[@]}" --out "$SCRATCH/ref" >/dev/null 2>&1
set +e
RANKLAB_FAULT=term@40:0 ranks 2 "${ARGS[@]}" --out "$SCRATCH/run" >/dev/null 2>&1
set -e
listing() { find "$SCRATCH/run" -type f -exec md5sum {} + | sort; }
before=$(listing)
set +e
ranks 2 "${ARGS[@]}" data.dir="$SCRATCH/other" --out "$SCRATCH/run" >"$SCRATCH/other.log" 2>&1
code=$?
set -e
check "resuming with other data is refused" test $code -ne 0
check "naming the checkpoint's inputs and this run's" \
    grep -q "was made from other inputs than this run's (checkpoint: fashion-mnist: train 3000x1x28x28 crc32 [0-9a-f]*, test 1000x1x28x28 crc32 [0-9a-f]*; this run: .*)" \
    "$SCRATCH/other.log"
check "the two test digests differ" test "$(grep -o 'test 1000x1x28x28 crc32 [0-9a-f]*' "$SCRATCH/other.log" | sort -u | wc -l)" -eq 2
check "with a hint" grep -q "HINT: resume with the same data" "$SCRATCH/other.log"
check "and the run directory is untouched" test "$before" = "$(listing)"
ranks 2 "${ARGS[@]}" data.dir="$SCRATCH/copy" --out "$SCRATCH/run" >"$SCRATCH/copy.log" 2>&1
check "the same data elsewhere resumes" grep -q "resuming" "$SCRATCH/copy.log"
check "and ends as an uninterrupted run" same_results "$SCRATCH/ref/results.h5" "$SCRATCH/run/results.h5"
check "results.h5 records its inputs" /usr/bin/python3 -c "
import h5py, sys
inputs = h5py.File('$SCRATCH/run/results.h5').attrs['inputs']
sys.exit(0 if inputs.startswith('fashion-mnist: train 3000x1x28x28 crc32 ') else 1)"
finish
