# Errors printed once on 4 ranks, not once per rank (issue 18, item 10): a bad key, a bad value,
# a missing config file, a missing data file, a bad `sweep run` cell give one "error:" line and
# one HINT; an error that one rank alone finds (a config file only rank 2 is given, MPMD) is still
# printed, naming that rank. Progress lines show "—", not nan, before the first epoch's metrics.
source "$(dirname "$0")/lib.bash"
S=$SCRATCH
BASE=(run train data.train_limit=300 data.test_limit=100 model.spec=mlp:784-16-10 train.epochs=1)

count() { # count PATTERN FILE: lines of FILE matching PATTERN
    grep -c -- "$1" "$2" || true
}

once() { # once "what" "message" ARGS... : 4 ranks of ranklab ARGS fail with the message once
    local what=$1 message=$2 code
    shift 2
    set +e
    timeout 60 mpiexec --oversubscribe -n 4 "$RANKLAB" "$@" >"$S/once.log" 2>&1
    code=$?
    set -e
    local errors hints
    errors=$(count "^error: " "$S/once.log")
    hints=$(count "HINT: " "$S/once.log")
    check "$what: printed once (exit $code, $errors error and $hints HINT lines)" \
        test "$code" -ne 0 -a "$code" -ne 124 -a "$errors" -eq 1 -a "$hints" -eq 1
    check "$what: the message" grep -qF -- "$message" "$S/once.log"
}

once "unknown key" "unknown config key 'train.bogus'" "${BASE[@]}" train.bogus=1 --out "$S/o"
once "bad value" "train.lr = 'abc' is not a number" "${BASE[@]}" train.lr=abc --out "$S/o"
once "missing config file" "cannot open config file $S/missing.ini" \
    "${BASE[@]}" -c "$S/missing.ini" --out "$S/o"
once "missing data file" "cannot open $S/nodata/train-images-idx3-ubyte.gz" \
    "${BASE[@]}" data.dir="$S/nodata" --out "$S/o"
check "nothing was written" test ! -e "$S/o"

printf '[sweep]\nexperiment = train\nrun.seed = 1, 2\nranks = 4\n[train]\nepochs = 1\n' \
    >"$S/sweep.ini"
"$RANKLAB" sweep plan "$S/sweep.ini" --dir "$S/sweep" >/dev/null
once "sweep run of a cell that is not planned" "cell '7' is not one of the 2 cells" \
    sweep run "$S/sweep" --cell 7

# Only rank 2 is given a config file that does not exist.
printf '[train]\nepochs = 1\n' >"$S/good.ini"
set +e
timeout 60 mpiexec --oversubscribe -n 2 "$RANKLAB" "${BASE[@]}" -c "$S/good.ini" --out "$S/o" : \
    -n 1 "$RANKLAB" "${BASE[@]}" -c "$S/only-rank-2.ini" --out "$S/o" : \
    -n 1 "$RANKLAB" "${BASE[@]}" -c "$S/good.ini" --out "$S/o" >"$S/one.log" 2>&1
code=$?
set -e
check "an error of rank 2 alone stops every rank (exit $code)" test $code -ne 0 -a $code -ne 124
check "rank 2 prints it" \
    grep -q "^error: \[rank 2/4\] cannot open config file $S/only-rank-2.ini" "$S/one.log"
check "rank 0 prints it naming rank 2" \
    grep -q "^error: \[rank 0/4\] rank 2: cannot open config file $S/only-rank-2.ini" "$S/one.log"
check "and no other rank" test "$(count "^error: " "$S/one.log")" -eq 2

# Progress lines from the first step: no nan before the first epoch's metrics.
mpiexec --oversubscribe -n 4 "$RANKLAB" run train data.train_limit=12000 data.test_limit=500 \
    model.spec=mlp:784-64-10 train.epochs=2 train.batch=50 log.progress_seconds=0.1 \
    --out "$S/progress" >"$S/progress.log" 2>&1
grep "^train [0-9]*/480 " "$S/progress.log" >"$S/lines.log"
check "progress lines were printed ($(wc -l <"$S/lines.log"))" test -s "$S/lines.log"
check "none shows nan" bash -c "! grep -qi nan '$S/lines.log'"
check "those of the first epoch show — for its metrics" \
    grep -q "^train [0-9]*/480 epoch 1 | train loss — | test acc — |" "$S/lines.log"
check "later ones show numbers" grep -q "epoch 2 | train loss [0-9.]* | test acc [0-9.]* |" \
    "$S/lines.log"
finish
