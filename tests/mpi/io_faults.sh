# Injected I/O failures, SQLite-style (issue 13, item 5; src/io/fault.h): a traced run lists every
# write and read it makes; the test then fails one of each kind (run.lock, results.h5 and its
# config, metrics rows, every dataset and attribute of a checkpoint, the seals, the final
# checkpoint, the finals), on rank 0 and on rank 1. After each failed write: an error with a
# hint, no temporary left, no checkpoint that does not verify, the checkpoint being written
# absent, and the same command resumes from the previous good checkpoint to the results of a
# run that never failed. After each failed read while resuming: an error with a hint and no
# file changed, or (a read while verifying a checkpoint) the previous good checkpoint used; the
# results are always those of a run that never failed, so no garbage from a failed read is used.
source "$(dirname "$0")/lib.bash"
ARGS=(run train data.train_limit=1000 data.test_limit=500 model.spec=mlp:784-16-10 train.epochs=2
      train.batch=100 train.chunk=16 ckpt.every=6 ckpt.keep=5)
ranks 2 "${ARGS[@]}" --out "$SCRATCH/ref" >/dev/null 2>&1
RANKLAB_FAULT_IO=trace ranks 2 "${ARGS[@]}" --out "$SCRATCH/traced" >"$SCRATCH/trace.log" 2>&1
check "the traced run has the reference's results" \
    same_results "$SCRATCH/ref/results.h5" "$SCRATCH/traced/results.h5"

# choose KIND RANK [last]: the number of the first traced KIND (write or read) of each kind of
# place of each kind of file (and of the last, given `last`): run.lock, results.h5.partial,
# checkpoints (step-N.h5, .tmp or not; final.h5), results.h5; in them a root attribute, a config
# attribute, a dataset, a dataset's attribute, or the whole file (its seal).
choose() {
    /usr/bin/python3 - "$SCRATCH/trace.log" "$@" <<'EOF'
import re, sys
log, kind, rank = sys.argv[1:4]
last = len(sys.argv) > 4
first, final = {}, {}
for line in open(log):
    m = re.match(r"\[rank (\d+)/\d+\] io trace: (\w+) (\d+) (\S+) ?(\S*)", line.strip())
    if not m or m[1] != rank or m[2] != kind:
        continue
    path, place = m[4], m[5]
    file = re.sub(r"step-\d+", "step-N", path.rsplit("/", 1)[-1])
    place = ("whole file" if not place else "root attribute" if place.startswith("/@")
             else "config attribute" if place.startswith("/config@")
             else "dataset attribute" if "@" in place else "dataset")
    first.setdefault((file, place), m[3])
    final[(file, place)] = m[3]
chosen = set(first.values()) | (set(final.values()) if last else set())
print(" ".join(sorted(chosen, key=int)))
EOF
}
WRITES0=$(choose write 0 last)
WRITES1=$(choose write 1)
check "the trace lists writes of rank 0 ($WRITES0) and rank 1 ($WRITES1)" \
    test "$(wc -w <<<"$WRITES0")" -ge 12 -a "$(wc -w <<<"$WRITES1")" -ge 3

# A checkpoint that exists verifies; no temporary is left.
intact() {
    local dir=$1 f
    [ -z "$(find "$dir" -name '*.tmp')" ] || return 1
    for f in "$dir"/ckpt/*.h5; do
        [ -e "$f" ] || continue
        "$RANKLAB" verify "$f" >/dev/null 2>&1 || return 1
    done
}

# run_faulted SPEC: the job with RANKLAB_FAULT_IO=SPEC into $out; sets its exit code and the
# file whose read or write failed.
run_faulted() {
    set +e
    RANKLAB_FAULT_IO=$1 timeout 120 mpiexec --oversubscribe -n 2 "$RANKLAB" "${ARGS[@]}" \
        --out "$out" >"$out.log" 2>&1
    code=$?
    set -e
    failed_file=$(sed -n "s/.*fault injection: failing ${1%@*} [0-9]* (\(\S*\).*/\1/p" "$out.log")
}

# judge WHAT: the run in $out ends with the reference's results, unless $why already names a
# failure; a failure is counted in $bad and shown with the log's end. The run's files go.
judge() {
    [ -z "$why" ] && same_results "$SCRATCH/ref/results.h5" "$out/results.h5" >/dev/null ||
        why=${why:-"results differ from the reference"}
    if [ -n "$why" ]; then
        echo "failed $1: $why"
        tail -5 "$out.log"
        bad=$((bad + 1))
    fi
    rm -rf "$out"
}

bad=0
for spec in $(printf 'write@%s:0 ' $WRITES0) $(printf 'write@%s:1 ' $WRITES1); do
    out=$SCRATCH/w-${spec//[@:]/-}
    run_faulted "$spec"
    step=$(sed -n 's/.*step-0*\([0-9][0-9]*\)\.h5\.tmp$/\1/p' <<<"$failed_file")
    why=""
    [ -n "$failed_file" ] || why="the fault was not hit"
    [ -z "$why" ] && { [ "$code" -eq 1 ] || [ "$code" -eq 74 ]; } || why=${why:-"exit $code"}
    [ -z "$why" ] && grep -q "HINT" "$out.log" || why=${why:-"no hint"}
    [ -z "$why" ] && intact "$out" || why=${why:-"a temporary left or a checkpoint that fails to verify"}
    if [ -z "$why" ] && [ -n "$step" ] && [ -e "$out/ckpt/step-$(printf %010d "$step").h5" ]; then
        why="checkpoint $step exists after its write failed"
    fi
    if [ -z "$why" ]; then
        timeout 120 mpiexec --oversubscribe -n 2 "$RANKLAB" "${ARGS[@]}" --out "$out" \
            >"$out.resume.log" 2>&1 || why="the resume failed"
    fi
    if [ -z "$why" ] && [ -n "$step" ] && [ "$step" -gt 6 ]; then
        grep -q "resuming .* from step $((step - 6)) " "$out.resume.log" ||
            why="did not resume from the checkpoint before step $step"
    fi
    judge "write $spec ($failed_file)"
done
check "every failed write: an error, files intact, resume to the reference's results" test $bad -eq 0

# Reads: resume a run stopped at step 14 (checkpoints 6, 12, 14), failing one read of each kind.
set +e
RANKLAB_FAULT=term@14:0 ranks 2 "${ARGS[@]}" --out "$SCRATCH/stopped" >/dev/null 2>&1
set -e
cp -a "$SCRATCH/stopped" "$SCRATCH/stopped-traced"
RANKLAB_FAULT_IO=trace ranks 2 "${ARGS[@]}" --out "$SCRATCH/stopped-traced" \
    >"$SCRATCH/trace.log" 2>&1
READS0=$(choose read 0)
READS1=$(choose read 1)
check "the trace lists reads of rank 0 ($READS0) and rank 1 ($READS1)" \
    test "$(wc -w <<<"$READS0")" -ge 6 -a "$(wc -w <<<"$READS1")" -ge 1
# The checkpoints' bytes (results.h5.partial is rebuilt from them on every start).
listing() { (cd "$1" && find ckpt -type f | sort | xargs md5sum); }
bad=0
for spec in $(printf 'read@%s:0 ' $READS0) $(printf 'read@%s:1 ' $READS1); do
    out=$SCRATCH/r-${spec//[@:]/-}
    cp -a "$SCRATCH/stopped" "$out"
    run_faulted "$spec"
    why=""
    [ -n "$failed_file" ] || why="the fault was not hit"
    if [ -z "$why" ] && [ "$code" -eq 0 ]; then
        grep -q "skipping damaged checkpoint" "$out.log" || why="completed without the read"
    elif [ -z "$why" ]; then
        [ "$code" -eq 1 ] && grep -q "HINT" "$out.log" || why="exit $code or no hint"
        if [ -e "$SCRATCH/stopped/${failed_file#"$out"/}" ]; then # reading what was there
            [ -z "$why" ] && [ "$(listing "$out")" = "$(listing "$SCRATCH/stopped")" ] ||
                why=${why:-"checkpoints changed by a run that failed to read them"}
        else # verifying a checkpoint it wrote
            [ -z "$why" ] && intact "$out" || why=${why:-"a temporary left or a bad checkpoint"}
        fi
        [ -z "$why" ] && timeout 120 mpiexec --oversubscribe -n 2 "$RANKLAB" "${ARGS[@]}" \
            --out "$out" >"$out.resume.log" 2>&1 || why=${why:-"the resume failed"}
    fi
    judge "read $spec ($failed_file)"
done
check "every failed read: an error and no checkpoint changed, or the previous one; reference results" \
    test $bad -eq 0
finish
