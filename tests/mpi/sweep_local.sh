# `ranklab sweep run SWEEP_DIR --all --jobs 2` (issue 13): the cells of a sweep run on this machine
# two at a time, each under its own mpiexec with the sweep's ranks (a sweep of 1-rank cells and
# one of 2-rank cells). A cell that fails does not stop the others and is named (exit 1); a cell
# running elsewhere is left alone (exit 3) until its process is gone; the same command then runs
# only what is left, and once all is complete it does nothing. A cell equals `ranklab run` of the
# same config. SIGTERM to the command stops the running cells at a checkpoint (exit 75); run
# again, they end bit-identical to an uninterrupted run (here: the same cells on 1 rank, so
# rank-independence is checked too) and to the cell run alone with `mpiexec -n 2 ... --cell I`.
source "$(dirname "$0")/lib.bash"
S=$SCRATCH
# 4 cells (seeds 1-4) of a small train: 400 steps each, a checkpoint every 20.
cat >"$S/base.ini" <<'EOF'
[data]
train_limit = 3000
test_limit = 500
[model]
spec = mlp:784-256-10
[train]
epochs = 4
batch = 30
[ckpt]
every = 20
EOF
sweep_file() { # sweep_file FILE RANKS
    printf '[sweep]\nexperiment = train\nrun.seed = 1, 2, 3, 4\nranks = %s\ntime = 00:10:00\n' \
        "$2" >"$1"
    cat "$S/base.ini" >>"$1"
}
sweep_file "$S/one.ini" 1
sweep_file "$S/two.ini" 2
"$RANKLAB" sweep plan "$S/one.ini" --dir "$S/one" >/dev/null
"$RANKLAB" sweep plan "$S/two.ini" --dir "$S/two" >/dev/null
cell_dir() { # cell_dir SWEEP_DIR CELL: the cell's directory, from the manifest
    echo "$1/$(awk -F'\t' -v row=$(($2 + 2)) 'NR == row { print $3 }' "$1/manifest.tsv")"
}
max_running() { # the most cells running at once, from the progress lines of `run --all`
    awk '/\] cell [0-9]+ started / { n++; if (n > m) m = n }
         /\] cell [0-9]+ (complete|FAILED|stopped after|ended by) / { n-- }
         END { print m + 0 }' "$1"
}

# Bad command lines are refused before anything runs.
refused "--jobs 0" "--jobs '0' is not a whole number above 0" \
    "$RANKLAB" sweep run "$S/one" --all --jobs 0
refused "--all with --cell" "--all and --cell exclude each other" \
    "$RANKLAB" sweep run "$S/one" --all --cell 1
refused "--jobs without --all" "--jobs needs --all" "$RANKLAB" sweep run "$S/one" --jobs 2
refused "a directory that is not a planned sweep" "$S/nowhere is not a planned sweep" \
    "$RANKLAB" sweep run "$S/nowhere" --all
refused "--all under mpiexec" "was started as an MPI process" \
    mpiexec -n 1 "$RANKLAB" sweep run "$S/one" --all
check "nothing ran" test ! -e "$S/one/cells" -a ! -e "$S/one/logs"

# 1. Cell 2 cannot make its directory (a file stands there): it fails, the others complete.
mkdir -p "$S/one/cells"
touch "$(cell_dir "$S/one" 2)"
code=0
"$RANKLAB" sweep run "$S/one" --all --jobs 2 >"$S/first.log" 2>&1 || code=$?
check "a failed cell: exit code 1 (got $code)" test "$code" -eq 1
check "the failed cell is named" grep -qF "error: 1 of the 4 cells of $S/one failed: 2" \
    "$S/first.log"
check "with a hint" grep -q "^HINT: the end of each one's log says why" "$S/first.log"
check "the failed cell's error is shown" grep -q "cell 2 FAILED (exit code 1.*" "$S/first.log"
check "with the cause from its log" grep -q "cells/0002-.* exists and is not a directory" \
    "$S/first.log"
check "and how to rerun" grep -qF "run \`ranklab sweep run $S/one --all --jobs 2\` again" \
    "$S/first.log"
"$RANKLAB" sweep status "$S/one" >"$S/status.log" || true
check "the other cells completed; cell 2 failed, not missing" \
    grep -q "^4 cells: 3 complete, 0 running, 1 failed, 0 missing" "$S/status.log"
check "status shows why cell 2 failed at start, from its log" \
    grep -q "^2 *failed .*failed at start: .*cells/0002-.* exists and is not a directory" \
    "$S/status.log"
check "two cells ran at once, never more (--jobs 2)" test "$(max_running "$S/first.log")" -eq 2
check "each cell has its log" test "$(ls "$S/one/logs" | tr '\n' ' ')" = \
    "cell-0000.out cell-0001.out cell-0002.out cell-0003.out "
check "a log says how its cell ended" grep -q "sweep cell 3: exit code 0 (complete)" \
    "$S/one/logs/cell-0003.out"

# 2. A cell whose heartbeat names a live process is running elsewhere: left alone. Once that
# process is gone (killed before it could write how it ended), the cell is not running, whatever
# the age of its heartbeat, and the same command runs it, and only it.
rm "$(cell_dir "$S/one" 2)"
mkdir "$(cell_dir "$S/one" 2)"
heartbeat() { # heartbeat PID [HOST]: cell 2 "running" in process PID of HOST (this machine)
    echo "running on ${2:-$(cat /proc/sys/kernel/hostname)} (pid $1) since now" \
        >"$(cell_dir "$S/one" 2)/sweep-cell.txt"
}
state_of_2() { "$RANKLAB" sweep status "$S/one" | awk '$1 == 2 { print }' || true; }
heartbeat $$
code=0
"$RANKLAB" sweep run "$S/one" --all --jobs 2 >"$S/elsewhere.log" 2>&1 || code=$?
check "a cell running elsewhere: exit code 3 (got $code)" test "$code" -eq 3
check "it is named and left alone" grep -q "^cell 2 is running elsewhere" "$S/elsewhere.log"
check "no cell started" test "$(grep -c ' started ' "$S/elsewhere.log")" -eq 0
sleep 0 &
gone=$!
wait "$gone"
heartbeat "$gone"
check "status: a heartbeat whose process is gone is not running" \
    grep -q "^2 *failed .*its process is gone" <(state_of_2)
# Another machine's heartbeat is running while it is younger than --stale, then failed.
heartbeat "$gone" elsewhere.example
check "status: another machine's fresh heartbeat is running" grep -q "^2 *running " <(state_of_2)
touch -d '-5 minutes' "$(cell_dir "$S/one" 2)/sweep-cell.txt"
check "status: a stale heartbeat is not running" \
    grep -q "^2 *failed .*no heartbeat for [0-9]* s" <(state_of_2)
"$RANKLAB" sweep run "$S/one" --all --jobs 2 >"$S/second.log" 2>&1 || cat "$S/second.log"
check "the rerun completes the sweep" grep -q "all 4 cells of $S/one are complete (1 run now)" \
    "$S/second.log"
check "and starts cell 2 only" test "$(grep -o 'cell [0-9]* started' "$S/second.log")" = \
    "cell 2 started"
check "status: every cell complete" "$RANKLAB" sweep status "$S/one"

# 3. A cell is the run `ranklab run` makes of the same config.
mpiexec -n 1 "$RANKLAB" run train -c "$S/base.ini" run.seed=2 --out "$S/direct" >/dev/null 2>&1
check "cell 1 == ranklab run of its config" \
    same_results "$S/direct/results.h5" "$(cell_dir "$S/one" 1)/results.h5"
run_id=$("$RANKLAB" show-config train -c "$S/base.ini" run.seed=2 |
    sed -n '1s/.*run id \(.*\))/\1/p')
check "with the run id of the manifest" test "$(basename "$(cell_dir "$S/one" 1)")" = "0001-$run_id"

# 4. Once all is complete, the command does no work.
snapshot() { find "$S/one" -type f -printf '%P %s %T@\n' | sort; }
snapshot >"$S/before"
"$RANKLAB" sweep run "$S/one" --all --jobs 2 >"$S/third.log" 2>&1
check "a complete sweep: exit 0, nothing to run" grep -q "; nothing to run$" "$S/third.log"
check "no cell started" test "$(grep -c ' started ' "$S/third.log")" -eq 0
check "no file changed" cmp -s "$S/before" <(snapshot)

# 5. SIGTERM to the command once cells have checkpointed: they stop at a checkpoint (75).
"$RANKLAB" sweep run "$S/two" --all --jobs 2 >"$S/stop.log" 2>&1 &
job=$!
for _ in $(seq 600); do
    ls "$S"/two/cells/*/ckpt/step-*.h5 >/dev/null 2>&1 && break
    sleep 0.05
done
kill -TERM "$job"
set +e
wait "$job"
code=$?
set -e
cat "$S/stop.log"
check "stopped: exit code 75 (got $code)" test "$code" -eq 75
check "the stop was passed on" grep -q "SIGTERM: no new cell starts" "$S/stop.log"
check "a running cell stopped after a checkpoint" \
    grep -q "cell [0-9] stopped after a checkpoint (exit code 75" "$S/stop.log"
check "no new cell started after the stop" \
    test "$(sed -n '/SIGTERM: no new cell/,$p' "$S/stop.log" | grep -c ' started ')" -eq 0
set +e
"$RANKLAB" sweep status "$S/two" >"$S/status-two.log"
code=$?
set -e
check "the sweep is not complete (status exit $code)" test "$code" -eq 3
check "no process of the sweep is left" test -z "$(pgrep -f "sweep run $S/two" || true)"
stopped=$(sed -n 's/.*\] cell \([0-9]\) stopped after a checkpoint .*/\1/p' "$S/stop.log" |
    head -n 1)
step=$(sed -n 's/.*checkpointing at step \([0-9]*\)$/\1/p' "$S/two/logs/cell-000${stopped:-0}.out")
"$RANKLAB" sweep run "$S/two" --all --jobs 2 >"$S/resume.log" 2>&1 || cat "$S/resume.log"
check "run again: the sweep completes" grep -q "all 4 cells of $S/two are complete (4 run now)" \
    "$S/resume.log"
check "cell ${stopped:-?} resumed from the step it stopped at (${step:-none})" \
    grep -q "resuming .* from step ${step:-none} " "$S/two/logs/cell-000${stopped:-0}.out"
for cell in 0 1 2 3; do
    check "cell $cell: stopped and resumed on 2 ranks == uninterrupted on 1" \
        same_results "$(cell_dir "$S/one" $cell)/results.h5" "$(cell_dir "$S/two" $cell)/results.h5"
done
"$RANKLAB" sweep plan "$S/two.ini" --dir "$S/alone" >/dev/null
mpiexec -n 2 "$RANKLAB" sweep run "$S/alone" --cell "${stopped:-0}" >"$S/alone.log" 2>&1 ||
    cat "$S/alone.log"
check "cell ${stopped:-?} under --all == the cell run alone (mpiexec -n 2 sweep run --cell)" \
    same_results "$(cell_dir "$S/alone" "${stopped:-0}")/results.h5" \
    "$(cell_dir "$S/two" "${stopped:-0}")/results.h5"
# 6. Two `run --all` on one sweep: each cell runs once, and a cell the other command took is
# its (run by another process), not a failure of this one.
"$RANKLAB" sweep plan "$S/one.ini" --dir "$S/shared" >/dev/null
"$RANKLAB" sweep run "$S/shared" --all --jobs 1 >"$S/shared-a.log" 2>&1 &
first=$!
for _ in $(seq 600); do # until the first command's cell 0 runs
    [ -e "$(cell_dir "$S/shared" 0)/sweep-cell.txt" ] && break
    sleep 0.05
done
code_b=0
"$RANKLAB" sweep run "$S/shared" --all --jobs 1 >"$S/shared-b.log" 2>&1 || code_b=$?
code_a=0
wait "$first" || code_a=$?
cat "$S/shared-a.log" "$S/shared-b.log"
check "two commands on one sweep: no failure (exit codes $code_a and $code_b, 0 or 3)" \
    bash -c "[[ $code_a =~ ^[03]$ && $code_b =~ ^[03]$ ]]"
check "no cell is reported failed" \
    test "$(cat "$S"/shared-[ab].log | grep -c 'FAILED\|cells of .* failed')" -eq 0
check "the second command leaves the first one's cell 0 to it" \
    grep -q "cell 0 is running elsewhere\|cells\? 0[0-9,-]* done by another process" "$S/shared-b.log"
check "a command says which cells another process ran" \
    grep -q "are complete (.*done by another process)" "$S/shared-a.log" "$S/shared-b.log"
check "every cell is complete" "$RANKLAB" sweep status "$S/shared"
refusals=$(cat "$S"/shared/logs/*.out | grep -c "is in use by another run" || true)
check "each start refused by the lock ($refusals) is reported as another process's cell" \
    test "$(cat "$S"/shared-[ab].log | grep -c ': run by another process, not failed\|: done by another process (complete), not failed')" -eq "$refusals"
finish
