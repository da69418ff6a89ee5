# What `sweep plan` refuses before it writes anything: --dir that holds anything but this
# sweep's own plan (a user's files, a run, another sweep's plan) is left as it was; planning the
# same sweep file into its own directory again is a no-op. And `verify` of a directory that is
# not a run (an empty one, a sweep's) is an error that says what to do instead; `sweep status`
# of a killed cell shows the step its checkpoints reached; a key both swept and fixed in one file
# is refused.
source "$(dirname "$0")/lib.bash"
S=$SCRATCH
sweep_file() { # sweep_file FILE [lines...]: two small cells of train; the lines go into [sweep]
    local file=$1
    shift
    {
        printf '[sweep]\nexperiment = train\ntime = 00:10:00\nrun.seed = 1, 2\n'
        [ $# -eq 0 ] || printf '%s\n' "$@"
        printf '[data]\ntrain_limit = 600\ntest_limit = 200\n[model]\nspec = mlp:784-8-10\n'
        printf '[train]\nepochs = 1\nbatch = 100\n'
    } >"$file"
}
snapshot() { find "$1" -printf '%P %s %T@\n' | sort; }
sweep_file "$S/tiny.ini"

# 1. --dir must be new, empty, or this sweep's own plan; what is there stays as it was.
mkdir "$S/user"
echo "my own sweep.ini" >"$S/user/sweep.ini"
snapshot "$S/user" >"$S/before"
refused "a directory with the user's sweep.ini" "$S/user is not empty and holds no sweep plan: it has sweep.ini" \
    "$RANKLAB" sweep plan "$S/tiny.ini" --dir "$S/user"
check "the user's sweep.ini is left as it was" cmp -s "$S/before" <(snapshot "$S/user")
mkdir "$S/tables"
printf 'name\tvalue\n' >"$S/tables/manifest.tsv"
refused "a directory with another kind of manifest.tsv" \
    "$S/tables is not empty and holds no sweep plan: it has manifest.tsv" \
    "$RANKLAB" sweep plan "$S/tiny.ini" --dir "$S/tables"
mkdir -p "$S/run/ckpt"
touch "$S/run/results.h5" "$S/run/run.lock"
refused "a run's directory" "$S/run is not empty and holds no sweep plan: it has ckpt, results.h5, run.lock" \
    "$RANKLAB" sweep plan "$S/tiny.ini" --dir "$S/run"
touch "$S/afile"
refused "--dir naming a file" "--dir $S/afile exists and is not a directory" \
    "$RANKLAB" sweep plan "$S/tiny.ini" --dir "$S/afile"
check "the hint names --dir, not --out" grep -q "^HINT: choose another --dir" "$S/refused.log"
mkdir "$S/empty"
"$RANKLAB" sweep plan "$S/tiny.ini" --dir "$S/empty" >/dev/null
check "an empty directory is planned into" test -f "$S/empty/manifest.tsv"
"$RANKLAB" sweep plan "$S/tiny.ini" --dir "$S/sw" >/dev/null
mkdir "$S/sw/logs" # as after `run --all`
snapshot "$S/sw" >"$S/before"
"$RANKLAB" sweep plan "$S/tiny.ini" --dir "$S/sw" >"$S/again.log"
check "the same sweep file into its own directory again: a no-op" \
    grep -q "already holds this plan; nothing written" "$S/again.log"
check "and nothing changed" cmp -s "$S/before" <(snapshot "$S/sw")
sweep_file "$S/other.ini" "train.lr = 0.1, 0.2"
refused "another sweep's plan" "$S/sw already holds the plan of another sweep" \
    "$RANKLAB" sweep plan "$S/other.ini" --dir "$S/sw"
check "that plan is left as it was" cmp -s "$S/before" <(snapshot "$S/sw")
# 3. verify is for runs: an empty directory or a sweep directory is refused, not "0 problem(s)".
mkdir "$S/nothing"
refused "verify an empty directory" \
    "$S/nothing is not a run directory: it has no results.h5, results.h5.partial or ckpt/" \
    "$RANKLAB" verify "$S/nothing"
refused "verify a sweep directory" "$S/sw is a sweep directory, not a run directory" \
    "$RANKLAB" verify "$S/sw"
check "the hint points at sweep status and the cells" \
    grep -qF "HINT: \`ranklab sweep status $S/sw\` shows its cells; each cell is a run" "$S/refused.log"
# 4. status of a killed cell: the step of its newest checkpoint when its heartbeat (rewritten
# every log.progress_seconds) is behind.
sweep_file "$S/killed.ini"
printf '[ckpt]\nevery = 5\n[log]\nprogress_seconds = 3600\n' >>"$S/killed.ini"
sed -i 's/^epochs = 1$/epochs = 2/; s/^batch = 100$/batch = 20/' "$S/killed.ini"
"$RANKLAB" sweep plan "$S/killed.ini" --dir "$S/killed" >/dev/null
RANKLAB_FAULT=kill@37:0 mpiexec -n 1 "$RANKLAB" sweep run "$S/killed" --cell 0 >"$S/killed.log" 2>&1 || true
"$RANKLAB" sweep status "$S/killed" >"$S/status.log" || true
cat "$S/status.log"
check "the heartbeat of the killed cell is at step 0" \
    grep -q "^step 0 of 60 " "$S"/killed/cells/0000-*/sweep-cell.txt
check "status shows the step of its newest checkpoint, 35 of 60" \
    grep -q "^0 *failed *35/60 .*newest checkpoint step-0000000035.h5" "$S/status.log"
# 5. A key swept in [sweep] and fixed in its own section of the same file is refused, naming both
# lines (the sweep's values used to win silently).
sweep_file "$S/both.ini" "train.batch = 50, 100"
refused "a key both swept and fixed" \
    "both.ini: train.batch is both swept ([sweep], line 5) and fixed ([train] batch, line 13)" \
    "$RANKLAB" sweep plan "$S/both.ini" --dir "$S/never"
check "nothing planned" test ! -e "$S/never"

# 6. Messages: an unknown sampler is named as one (was: "samples = 3, but no key is sampled").
sweep_file "$S/gauss.ini" "samples = 3" "train.lr = gaussian(0, 1)"
refused "an unknown sampler" \
    "[sweep] train.lr: 'gaussian' is not a known sampler (they are uniform, loguniform and choice)" \
    "$RANKLAB" sweep plan "$S/gauss.ini" --dir "$S/never"
check "nothing planned" test ! -e "$S/never"
finish
