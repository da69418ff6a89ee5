# Failure summaries (issue 18, item 9): a rank that fails writes failure-rank-R.txt in the run
# directory (its time, host, pid, step, error and hint), and `ranklab sweep status` prints the
# first failure of each failed cell. Here a sweep of two cells on 2 ranks, each failing mid-run
# when a checkpoint write fails (RANKLAB_FAULT_IO): cell 0 on rank 1 at step 6, cell 1 on rank 0
# at step 12. Once cell 0 runs again and completes, its summaries are gone. A run refused for its
# input leaves nothing; a sweep cell refused so (run by the local pool, `sweep run --all`) shows
# failed with the error its log holds, not missing.
source "$(dirname "$0")/lib.bash"
S=$SCRATCH
cat >"$S/sweep.ini" <<'EOF'
[sweep]
experiment = train
model.spec = mlp:784-16-10, mlp:784-32-10
ranks = 2
[data]
train_limit = 1000
test_limit = 500
[train]
epochs = 2
batch = 100
chunk = 16
[ckpt]
every = 6
EOF
"$RANKLAB" sweep plan "$S/sweep.ini" --dir "$S/sweep" >/dev/null
cell_dir() { # cell_dir CELL: the cell's directory, from the manifest
    echo "$S/sweep/$(awk -F'\t' -v row=$(($1 + 2)) 'NR == row { print $3 }' "$S/sweep/manifest.tsv")"
}

# The numbers of the writes to fail, from traced runs of the cells: rank 1's first (a checkpoint
# dataset at step 6) in cell 0, rank 0's first into the checkpoint of step 12 in cell 1.
n=$(first_traced_write "$S/sweep.ini" 0 1 step-)
m=$(first_traced_write "$S/sweep.ini" 1 0 step-0000000012)
check "rank 1 writes a checkpoint in cell 0 (write $n), rank 0 in cell 1 (write $m)" \
    test -n "$n" -a -n "$m"

set +e
RANKLAB_FAULT_IO=write@$n:1 mpiexec --oversubscribe -n 2 "$RANKLAB" sweep run "$S/sweep" \
    --cell 0 >"$S/cell0.log" 2>&1
code0=$?
RANKLAB_FAULT_IO=write@$m:0 mpiexec --oversubscribe -n 2 "$RANKLAB" sweep run "$S/sweep" \
    --cell 1 >"$S/cell1.log" 2>&1
code1=$?
set -e
check "both cells fail (exit $code0, $code1)" test $code0 -ne 0 -a $code1 -ne 0
dir0=$(cell_dir 0)
dir1=$(cell_dir 1)
summary=$dir0/failure-rank-1.txt
check "rank 1 of cell 0 left its failure summary" test -f "$summary"
check "with time, rank, host, pid and step" grep -q \
    "^20[0-9-]*T[0-9:.]*Z rank 1 of 2 on $(hostname), pid [0-9]*, at step 6 of 20$" "$summary"
check "and the error" grep -q "^error: .*step-0000000006.h5.tmp: cannot write" "$summary"
check "with its hint" grep -q "^HINT: check the disk" "$summary"
check "no temporary is left" test -z "$(find "$dir0" -name 'failure-*.tmp')"
check "cell 1 failed at step 12, on rank 0" \
    grep -q "rank 0 of 2 on .*, at step 12 of 20$" "$dir1/failure-rank-0.txt"
check "which alone writes a summary (rank 1 only relayed the error)" \
    test ! -e "$dir1/failure-rank-1.txt"

set +e
"$RANKLAB" sweep status "$S/sweep" >"$S/status.log" 2>&1
set -e
row() { awk -v c="$1" '$1 == c' "$S/status.log"; }
check "status: cell 0 failed, with its first failure (rank 1, step 6, the error)" \
    bash -c "grep -q '^0 *failed .*first failure: 20[^ ]*Z rank 1 of 2 on .*, at step 6 of 20: .*step-0000000006.h5.tmp: cannot write' <<<'$(row 0)'"
check "status: cell 1 failed, with its first failure (rank 0, step 12)" \
    bash -c "grep -q '^1 *failed .*first failure: 20[^ ]*Z rank 0 of 2 on .*, at step 12 of 20: .*step-0000000012.h5.tmp: cannot write' <<<'$(row 1)'"

# Cell 0 again, without the fault: it resumes, completes, and its summaries go.
mpiexec --oversubscribe -n 2 "$RANKLAB" sweep run "$S/sweep" --cell 0 >"$S/again.log" 2>&1
check "cell 0 completes when run again" grep -q "results: " "$S/again.log"
check "its failure summaries are gone" test -z "$(find "$dir0" -name 'failure-rank-*')"
set +e
"$RANKLAB" sweep status "$S/sweep" >"$S/status.log" 2>&1
set -e
check "status: cell 0 complete" bash -c "grep -q '^0 *complete' <<<'$(row 0)'"

# A run refused for its input writes nothing, no summary either.
set +e
ranks 2 run train model.spec=mlp:784-16-9 --out "$S/refused" >/dev/null 2>&1
set -e
check "a refused run leaves no directory" test ! -e "$S/refused"

# A sweep cell refused at start (9 outputs for 10 classes, seen once the data is read) takes no
# directory: `sweep status` shows it failed with the first error of its log, and its hint.
sed 's/^model.spec = .*/model.spec = mlp:784-16-9, mlp:784-16-10/; s/^epochs = .*/epochs = 1/' \
    "$S/sweep.ini" >"$S/refusing.ini"
"$RANKLAB" sweep plan "$S/refusing.ini" --dir "$S/refusing" >/dev/null
set +e
"$RANKLAB" sweep status "$S/refusing" >"$S/status.log" 2>&1
set -e
check "status before the run: cell 0 missing" bash -c "grep -q '^0 *missing' <<<'$(row 0)'"
set +e
"$RANKLAB" sweep run "$S/refusing" --all >"$S/pool.log" 2>&1
"$RANKLAB" sweep status "$S/refusing" >"$S/status.log" 2>&1
set -e
log0=$S/refusing/logs/cell-0000.out
check "cell 0 took no directory" \
    test ! -e "$S/refusing/$(awk -F'\t' 'NR == 2 { print $3 }' "$S/refusing/manifest.tsv")"
check "status: cell 0 failed at start, with the error and hint from its log" \
    bash -c "grep -qF 'failed at start: [rank 0/2] model.spec mlp:784-16-9 takes 784 inputs and gives 9 outputs; the data fashion-mnist has 784 features and needs 10 outputs; [rank 0/2] HINT: match the first and last numbers of the model spec to the data (log $log0)' <<<'$(row 0)'"
check "status: cell 1 complete" bash -c "grep -q '^1 *complete' <<<'$(row 1)'"
check "status counts 1 failed, 0 missing" grep -q "2 cells: 1 complete, 0 running, 1 failed, 0 missing" \
    "$S/status.log"
# Another attempt begins (the line the pool writes as it starts a cell): until it fails, the
# cell is missing again, the error of the attempt before is not its own.
echo "[$(date '+%F %T')] sweep cell 0: \`ranklab sweep run --all\` starts mpiexec" >>"$log0"
set +e
"$RANKLAB" sweep status "$S/refusing" >"$S/status.log" 2>&1
set -e
check "status: cell 0 missing while a new attempt starts" bash -c "grep -q '^0 *missing' <<<'$(row 0)'"
finish
