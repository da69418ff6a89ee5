# Stages on this machine (issue 18, item 1): a fine-tuning sweep whose cells start from the
# cells of a pretraining sweep with the same run.seed (init.from = sweep:../pretrain?run.seed),
# resolved at plan to the upstream cell's directory (and run id); its cells are "waiting" while
# their upstream cells are not complete, `run --cell` refuses them, and `run --all` runs the
# upstream cells first, then each cell once the cell it starts from is complete. References
# that match no cell, several cells, no key or the sweep itself are refused at plan.
source "$(dirname "$0")/lib.bash"
S=$SCRATCH
mkdir -p "$S/runs"
base() { printf '[data]\ntrain_limit = 600\ntest_limit = 200\n[model]\nspec = mlp:784-16-10\n'; }
{
    printf '[sweep]\nexperiment = train\nrun.seed = 1, 2\n'
    base
    printf '[train]\nepochs = 2\nbatch = 100\n'
} >"$S/pretrain.ini"
sweep_file() { # sweep_file FILE INIT_FROM [sweep] LINES...: a fine-tuning sweep
    local file=$1 from=$2
    shift 2
    {
        printf '[sweep]\nexperiment = train\ninit.from = %s\n' "$from"
        printf '%s\n' "$@"
        base
        printf '[train]\nepochs = 1\nbatch = 100\noptim = sgd\n'
    } >"$file"
}
sweep_file "$S/finetune.ini" "sweep:../pretrain?run.seed" "train.lr = 0.01, 0.003" "run.seed = 1, 2"
PRE=$S/runs/pretrain
FT=$S/runs/finetune
column() { awk -F'\t' -v key="$2" 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == key) c = i; next }
                                    { print $c }' "$1/manifest.tsv"; }
cell_dir() { echo "$1/$(awk -F'\t' -v row=$(($2 + 2)) 'NR == row { print $3 }' "$1/manifest.tsv")"; }

refused "a stage before its upstream is planned" "$PRE is not a planned sweep" \
    "$RANKLAB" sweep plan "$S/finetune.ini" --dir "$FT"
check "and no plan was written" test ! -e "$FT"
"$RANKLAB" sweep plan "$S/pretrain.ini" --dir "$PRE" >/dev/null
(cd "$S" && "$RANKLAB" sweep plan finetune.ini --dir runs/finetune >"$S/plan.log")
check "plan: 4 cells" grep -q "^sweep of train: 4 cells" "$S/plan.log"
real_pre=$(realpath "$PRE")
check "init.from resolves to the upstream cell of the same seed (absolute)" \
    test "$(column "$FT" init.from | tr '\n' ' ')" = \
    "$real_pre/$(column "$PRE" dir | sed -n 1p) $real_pre/$(column "$PRE" dir | sed -n 2p) $real_pre/$(column "$PRE" dir | sed -n 1p) $real_pre/$(column "$PRE" dir | sed -n 2p) "
id3=$("$RANKLAB" show-config train -c <(base; printf '[train]\nepochs = 1\nbatch = 100\noptim = sgd\n') \
    train.lr=0.003 run.seed=2 init.from="$(column "$FT" init.from | sed -n 4p)" |
    sed -n '1s/.*run id \([0-9a-f]*\).*/\1/p')
check "a cell's run id is ranklab run's of that init.from ($id3)" \
    test "$(column "$FT" run_id | sed -n 4p)" = "$id3"
"$RANKLAB" sweep plan "$S/finetune.ini" --dir "$FT" >"$S/again.log"
check "planned again from elsewhere: the same plan" grep -q "already holds this plan" "$S/again.log"

# Waiting: the upstream cells are missing.
set +e
"$RANKLAB" sweep status "$FT" >"$S/status.log"
code=$?
set -e
cat "$S/status.log"
check "status: every cell waiting (exit $code)" \
    grep -q "^4 cells: 0 complete, 0 running, 0 failed, 0 missing, 4 waiting" "$S/status.log"
check "status names the cell waited for" grep -q "^3 *waiting .*waits for $PRE cell 1 (missing)" \
    "$S/status.log"
refused "a waiting cell does not run" "cell 3 starts from cell 1 of $PRE, which is missing" \
    mpiexec -n 1 "$RANKLAB" sweep run "$FT" --cell 3
check "and writes nothing" test ! -e "$(cell_dir "$FT" 3)"

# run --all: the upstream cells first, each cell after the one it starts from.
"$RANKLAB" sweep run "$FT" --all >"$S/all.log" 2>&1 || true
cat "$S/all.log"
check "run --all: all complete" \
    grep -q "all 4 cells of $FT are complete (4 run now, and 2 of the sweeps they start from)" \
    "$S/all.log"
line_of() { grep -n "$1" "$S/all.log" | head -n1 | cut -d: -f1; }
for cell in 0 1 2 3; do
    up=$((cell % 2))
    check "cell $cell started after $PRE cell $up completed" \
        test "$(line_of "\] $PRE cell $up complete")" -lt "$(line_of "\] cell $cell started")"
done
check "the upstream cells are complete in their sweep" "$RANKLAB" sweep status "$PRE"
check "status: all complete" "$RANKLAB" sweep status "$FT"
{
    base
    printf '[train]\nepochs = 1\nbatch = 100\noptim = sgd\n'
} >"$S/ft-base.ini"
mpiexec -n 1 "$RANKLAB" run train -c "$S/ft-base.ini" train.lr=0.003 run.seed=2 \
    init.from="$(cell_dir "$PRE" 1)" --out "$S/direct" >/dev/null 2>&1
check "cell 3 == ranklab run from the pretrained cell" \
    same_results "$S/direct/results.h5" "$(cell_dir "$FT" 3)/results.h5"

# KEY=VALUE picks one upstream cell for all.
sweep_file "$S/fixed.ini" "sweep:../pretrain?run.seed=2" "train.lr = 0.01, 0.003"
"$RANKLAB" sweep plan "$S/fixed.ini" --dir "$S/runs/fixed" >/dev/null
check "KEY=VALUE: every cell starts from the cell of seed 2" \
    test "$(column "$S/runs/fixed" init.from | sort -u)" = "$real_pre/$(column "$PRE" dir | sed -n 2p)"
"$RANKLAB" sweep status "$S/runs/fixed" >"$S/fixed.log" || true
check "its upstream cell is complete: its cells are missing, not waiting" \
    grep -q "^2 cells: 0 complete, 0 running, 0 failed, 2 missing, 0 waiting" "$S/fixed.log"

# References refused at plan (from $S/never, where plan_refused plans).
plan_refused "no key for a sweep of 2 cells" "has 2 cells, and no key says which" \
    "sweep:../runs/pretrain" "train.lr = 0.01, 0.003"
plan_refused "a key that matches two cells" "cells 0 and 1 of $PRE both match" \
    "sweep:../runs/pretrain?train.lr" "run.seed = 1, 2"
plan_refused "a seed the upstream sweep has not" "no cell of $PRE has run.seed = 3" \
    "sweep:../runs/pretrain?run.seed" "run.seed = 1, 3"
plan_refused "a key no experiment has" "the cells of $PRE (train) have no key run.sed" \
    "sweep:../runs/pretrain?run.sed" "run.seed = 1, 2"
plan_refused "a value of the wrong type" "run.seed = 'abc' is not an integer" \
    "sweep:../runs/pretrain?run.seed=abc" "run.seed = 1, 2"
plan_refused "an empty term" "has an empty term" "sweep:../runs/pretrain?run.seed&" "run.seed = 1, 2"
plan_refused "no directory" "names no sweep directory" "sweep:?run.seed" "run.seed = 1, 2"
sweep_file "$S/self.ini" "sweep:.?run.seed" "run.seed = 1, 2"
refused "a sweep that starts from itself" "names this sweep's own directory" \
    "$RANKLAB" sweep plan "$S/self.ini" --dir "$PRE"
check "no refused plan wrote its directory" test ! -e "$S/never"

# The two-stage example of README.md plans as it is.
readme_ini() { # readme_ini NAME: the README's ```ini block that starts with "# NAME"
    awk -v name="# $1" '/^```ini$/ { inside = 1; n = 0; next } /^```$/ { inside = 0 }
        inside { n++; if (n == 1 && index($0, name) != 1) inside = 0; else print }' \
        "$RANKLAB_SRC/README.md"
}
mkdir -p "$S/readme"
readme_ini pretrain.ini >"$S/readme/pretrain.ini"
readme_ini finetune.ini >"$S/readme/finetune.ini"
"$RANKLAB" sweep plan "$S/readme/pretrain.ini" --dir "$S/readme/runs/pretrain" >/dev/null
"$RANKLAB" sweep plan "$S/readme/finetune.ini" --dir "$S/readme/runs/finetune" >"$S/readme.log" 2>&1 ||
    cat "$S/readme.log"
check "README's two stages plan (3 + 6 cells)" grep -q "^sweep of train: 6 cells" "$S/readme.log"
finish
