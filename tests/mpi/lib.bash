# Helpers for the MPI shell tests (sourced). ctest sets RANKLAB (the program) and the Open MPI
# environment; each test works in its own scratch directory.
set -euo pipefail
: "${RANKLAB:?RANKLAB must point at build/ranklab}"
SCRATCH=$(mktemp -d "${TMPDIR:-/tmp}/ranklab-test.XXXXXX")
trap 'rm -rf "$SCRATCH"' EXIT
FAILURES=0
CHECKS=0

# A small but real Fashion-MNIST job: a few seconds on 2 cores.
SMALL_TRAIN=(data.train_limit=3000 data.test_limit=1000 model.spec=mlp:784-64-10 train.epochs=3
             train.batch=100 train.chunk=16)

ranks() { # ranks P ARGS... : run the program on P ranks
    local p=$1
    shift
    mpiexec --oversubscribe -n "$p" "$RANKLAB" "$@"
}

check() { # check "what" COMMAND... : the command must succeed; counts a pass or a failure
    local what=$1
    shift
    CHECKS=$((CHECKS + 1))
    if "$@"; then
        echo "ok: $what"
    else
        echo "FAILED: $what"
        FAILURES=$((FAILURES + 1))
    fi
}

# Same metrics, final values (but wall time) and arrays, bit for bit.
same_results() {
    /usr/bin/python3 "$(dirname "${BASH_SOURCE[0]}")/same_results.py" "$1" "$2"
}

# same_on_ranks NAME "what" ARGS... : `ranks P ARGS --out $SCRATCH/NAME-P` on 1, 2 and 4 ranks
# (logs $SCRATCH/NAME-P.log); 2 and 4 ranks must give 1 rank's results, bit for bit.
same_on_ranks() {
    local name=$1 what=$2 p
    shift 2
    for p in 1 2 4; do
        ranks "$p" "$@" --out "$SCRATCH/$name-$p" >"$SCRATCH/$name-$p.log" 2>&1
    done
    for p in 2 4; do
        check "$what: $p ranks == 1 rank" \
            same_results "$SCRATCH/$name-1/results.h5" "$SCRATCH/$name-$p/results.h5"
    done
}

# stop_and_resume "what" FAULT RESUMED P REFERENCE OUT ARGS... : `ranks 2 ARGS --out OUT` with
# RANKLAB_FAULT=FAULT (term@STEP:RANK or kill@STEP:RANK) must stop: exit 75 after a SIGTERM, fail
# otherwise after a SIGKILL, leaving a checkpoint and no results.h5; rerun on P ranks, it must
# resume (its output holds the fixed text RESUMED, e.g. "from step 45") and end with the same
# results as the uninterrupted run's REFERENCE (results.h5). Logs: OUT.log, OUT-resume.log.
stop_and_resume() {
    local what=$1 fault=$2 resumed=$3 p=$4 reference=$5 out=$6 code
    shift 6
    set +e
    RANKLAB_FAULT=$fault ranks 2 "$@" --out "$out" >"$out.log" 2>&1
    code=$?
    set -e
    case $fault in
    term@*) check "$what: SIGTERM ($fault) exits with code 75 (got $code)" test "$code" -eq 75 ;;
    kill@*) check "$what: SIGKILL ($fault) fails the job (code $code)" \
        test "$code" -ne 0 -a "$code" -ne 75 ;;
    *) echo "stop_and_resume: FAULT must be term@STEP:RANK or kill@STEP:RANK, not '$fault'" >&2
       exit 2 ;;
    esac
    check "$what: the stopped run leaves a checkpoint and no results.h5" \
        bash -c "ls '$out'/ckpt/step-*.h5 >/dev/null 2>&1 && [ ! -e '$out/results.h5' ]"
    ranks "$p" "$@" --out "$out" >"$out-resume.log" 2>&1
    check "$what: resumed on $p ranks ($resumed)" grep -qF -- "$resumed" "$out-resume.log"
    check "$what: stopped on 2 ranks, resumed on $p == uninterrupted" \
        same_results "$reference" "$out/results.h5"
}

# feature_cache_round_trip NAME P ARGS... : `ranks P run subset-select ARGS` with the feature
# cache $SCRATCH/NAME.h5 trains the encoder (ARGS set 2 epochs) and writes the cache, then on 1
# rank the same command
# reads the cache instead of training; both runs ($SCRATCH/NAME-w, $SCRATCH/NAME-r) must select
# and score as the uncached run $SCRATCH/NAME-1 (results.h5).
feature_cache_round_trip() {
    local name=$1 p=$2 run
    shift 2
    ranks "$p" run subset-select "$@" subset.feature_cache="$SCRATCH/$name.h5" \
        --out "$SCRATCH/$name-w" >"$SCRATCH/$name-w.log" 2>&1
    ranks 1 run subset-select "$@" subset.feature_cache="$SCRATCH/$name.h5" \
        --out "$SCRATCH/$name-r" >"$SCRATCH/$name-r.log" 2>&1
    check "$name: the feature cache is written, then read instead of training" bash -c \
        "[ -s '$SCRATCH/$name.h5' ] && grep -q 'epoch 2' '$SCRATCH/$name-w.log' &&
         ! grep -q epoch '$SCRATCH/$name-r.log' && grep -q 'from the cache' '$SCRATCH/$name-r.log'"
    for run in "$name-w" "$name-r"; do
        check "$run: a cached run selects (and scores) as an uncached one" \
            same_results "$SCRATCH/$name-1/results.h5" "$SCRATCH/$run/results.h5"
    done
}

# first_traced_write INI CELL RANK FILE : the number of RANK's first write into a path matching
# FILE (a sed pattern, e.g. step-) in a traced run (RANKLAB_FAULT_IO=trace, 2 ranks) of CELL of
# the sweep file INI, planned into $SCRATCH/traced-CELL (log: $SCRATCH/trace-CELL.log); empty if
# there is none. RANKLAB_FAULT_IO=write@N:RANK then fails that write in a run of the same cell.
first_traced_write() {
    local ini=$1 cell=$2 rank=$3 file=$4
    "$RANKLAB" sweep plan "$ini" --dir "$SCRATCH/traced-$cell" >/dev/null
    RANKLAB_FAULT_IO=trace ranks 2 sweep run "$SCRATCH/traced-$cell" --cell "$cell" \
        >"$SCRATCH/trace-$cell.log" 2>&1
    sed -n "s/^\[rank $rank\/2\] io trace: write \([0-9]*\) .*$file.*/\1/p" \
        "$SCRATCH/trace-$cell.log" | head -1
}

# expect_refusal "what" "message pattern" ARGS... : `ranks 2 "${REFUSAL_BASE[@]}" ARGS --out NEW`
# must fail quickly (a refusal that hangs fails after 60 s) with a message matching the pattern
# and a HINT, and write nothing. Each test sets REFUSAL_BASE to its experiment and small
# settings, e.g. REFUSAL_BASE=(run train "${SMALL_TRAIN[@]}").
expect_refusal() {
    local what=$1 pattern=$2
    shift 2
    local out=$SCRATCH/refused-$CHECKS
    set +e
    timeout 60 mpiexec --oversubscribe -n 2 "$RANKLAB" "${REFUSAL_BASE[@]}" "$@" --out "$out" \
        >"$SCRATCH/refused.log" 2>&1
    local code=$?
    set -e
    CHECKS=$((CHECKS + 1))
    if [ "$code" -ne 0 ] && grep -q -- "$pattern" "$SCRATCH/refused.log" &&
        grep -q "HINT" "$SCRATCH/refused.log" && [ ! -e "$out" ]; then
        echo "ok: $what"
    else
        echo "FAILED: $what (exit $code, output below; wrote $out: $([ -e "$out" ] && echo yes || echo no))"
        cat "$SCRATCH/refused.log"
        FAILURES=$((FAILURES + 1))
    fi
}

# refused "what" "message" COMMAND... : the command must fail (within 60 s) with output that
# holds the message (a fixed string) and a HINT.
refused() {
    local what=$1 expect=$2 code
    shift 2
    set +e
    timeout 60 "$@" >"$SCRATCH/refused.log" 2>&1
    code=$?
    set -e
    CHECKS=$((CHECKS + 1))
    if [ "$code" -ne 0 ] && [ "$code" -ne 124 ] && grep -qF -- "$expect" "$SCRATCH/refused.log" &&
        grep -q "HINT: " "$SCRATCH/refused.log"; then
        echo "ok: $what"
    else
        echo "FAILED: $what (exit $code, expected '$expect'; output below)"
        cat "$SCRATCH/refused.log"
        FAILURES=$((FAILURES + 1))
    fi
}

# plan_refused "what" "message" ARGS... : `sweep plan` of the file that the test's own
# `sweep_file FILE ARGS...` writes must be refused (as `refused` says), planning nothing into
# $SCRATCH/never.
plan_refused() {
    local what=$1 expect=$2
    shift 2
    sweep_file "$SCRATCH/bad.ini" "$@"
    refused "$what" "$expect" "$RANKLAB" sweep plan "$SCRATCH/bad.ini" --dir "$SCRATCH/never"
}

finish() {
    echo "$((CHECKS - FAILURES)) passed, $FAILURES failed"
    [ "$FAILURES" -eq 0 ]
}
