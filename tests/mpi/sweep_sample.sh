# Sampled sweeps (issue 18, item 2), without Slurm: loguniform / uniform / choice keys with
# samples = N and sample_seed, drawn at plan time by the counter RNG, so that planning twice (in
# another directory, with the keys in another order, with another key sampled beside them) gives
# the same draws and run ids; draws stay in their bounds; a cell's run id is the one
# `ranklab run` gives its values; bad expressions are refused before anything is written.
source "$(dirname "$0")/lib.bash"
S=$SCRATCH
sweep_file() { # sweep_file FILE [sweep] LINES...: a sweep of train with these [sweep] lines
    local file=$1
    shift
    {
        printf '[sweep]\nexperiment = train\n'
        printf '%s\n' "$@"
        printf '[data]\ntrain_limit = 1000\n[model]\nspec = mlp:784-16-10\n[train]\nepochs = 1\n'
    } >"$file"
}
column() { # column SWEEP_DIR KEY: the values of KEY in the manifest, one per line
    awk -F'\t' -v key="$2" 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == key) c = i; next }
                            { print $c }' "$1/manifest.tsv"
}
LR='train.lr = loguniform(1e-5, 1e-1)'
BATCH='train.batch = uniform(16, 256)'
OPTIM='train.optim = choice(sgd, adam)'

sweep_file "$S/a.ini" "run.seed = 1, 2" "$LR" "$BATCH" "$OPTIM" "samples = 12" "sample_seed = 7"
"$RANKLAB" sweep plan "$S/a.ini" --dir "$S/a" >"$S/plan.log"
check "12 samples x 2 seeds = 24 cells" \
    grep -q "^sweep of train: 24 cells (run.seed 2 x train.lr+train.batch+train.optim 12 samples)" \
    "$S/plan.log"
"$RANKLAB" sweep plan "$S/a.ini" --dir "$S/again" >/dev/null
check "planned twice: the same run ids and values" cmp -s "$S/a/manifest.tsv" "$S/again/manifest.tsv"
check "the run ids are all different" test "$(cut -f2 "$S/a/manifest.tsv" | sort -u | wc -l)" -eq 25
check "draw i is the same for both seeds (one sample axis)" \
    test "$(column "$S/a" train.lr | head -12)" = "$(column "$S/a" train.lr | tail -12)"
check "loguniform draws lie in [1e-5, 1e-1)" test "$(column "$S/a" train.lr |
    awk '$1 < 1e-5 || $1 >= 0.1 { bad++ } END { print bad + 0 }')" -eq 0
check "and spread over 3 decades or more" test "$(column "$S/a" train.lr |
    awk '{ print int(log($1) / log(10) + 100) }' | sort -u | wc -l)" -ge 3
check "uniform draws of an integer key are whole numbers in [16, 256]" test "$(column "$S/a" train.batch |
    awk '$1 !~ /^[0-9]+$/ || $1 < 16 || $1 > 256 { bad++ } END { print bad + 0 }')" -eq 0
check "choice draws are the items, each of them" \
    test "$(column "$S/a" train.optim | sort -u | tr '\n' ' ')" = "adam sgd "

# The draws of a key depend on its name, sample_seed and the draw number only.
sweep_file "$S/b.ini" "$OPTIM" "$BATCH" "train.momentum = uniform(0.5, 0.99)" "samples = 12" \
    "sample_seed = 7" "$LR" "run.seed = 3"
"$RANKLAB" sweep plan "$S/b.ini" --dir "$S/b" >/dev/null
for key in train.lr train.batch train.optim; do
    check "$key: the same draws in another order, beside another sampled key" \
        test "$(column "$S/a" $key | head -12)" = "$(column "$S/b" $key)"
done
sweep_file "$S/c.ini" "run.seed = 1, 2" "$LR" "$BATCH" "$OPTIM" "samples = 12" "sample_seed = 8"
"$RANKLAB" sweep plan "$S/c.ini" --dir "$S/c" >/dev/null
check "another sample_seed draws other values" \
    test "$(column "$S/a" train.lr)" != "$(column "$S/c" train.lr)"

# A cell is the run `ranklab run` makes of its values.
row=$(sed -n '4p' "$S/a/manifest.tsv")
lr=$(echo "$row" | cut -f5)
batch=$(echo "$row" | cut -f6)
optim=$(echo "$row" | cut -f7)
id=$("$RANKLAB" show-config train data.train_limit=1000 model.spec=mlp:784-16-10 train.epochs=1 \
    run.seed=1 train.lr="$lr" train.batch="$batch" train.optim="$optim" |
    sed -n '1s/.*run id \([0-9a-f]*\).*/\1/p')
check "cell 2's run id is show-config's of its draws ($id)" test "$(echo "$row" | cut -f2)" = "$id"
check "the sweep.ini of the plan keeps the expressions" grep -qxF "$LR" "$S/a/sweep.ini"

# Bad sampled keys.
plan_refused "a sampled key without samples" "train.lr = loguniform(1e-5, 1e-1) is sampled, but samples is 0" "$LR"
plan_refused "samples without a sampled key" "samples = 4, but no key is sampled" \
    "samples = 4" "train.lr = 0.1, 0.2"
plan_refused "loguniform from 0" "the bounds must be 0 < a < b" "samples = 4" \
    "train.lr = loguniform(0, 1)"
plan_refused "uniform with bounds reversed" "the bounds must be a < b" "samples = 4" \
    "train.lr = uniform(0.2, 0.1)"
plan_refused "uniform with three bounds" "uniform takes two bounds, not 3" "samples = 4" \
    "train.lr = uniform(0.1, 0.2, 0.3)"
plan_refused "a bound that is not a number" "'x' is not a number" "samples = 4" \
    "train.lr = uniform(x, 1)"
plan_refused "uniform of a key that is not a number" "train.optim is not a number" "samples = 4" \
    "train.optim = uniform(0, 1)"
plan_refused "a sampled key given a list too" "a sampled key takes one draw expression and no list" \
    "samples = 4" "$LR" "train.lr = 0.1"
plan_refused "zip naming a sampled key" "zip names train.lr, which is sampled" "samples = 4" \
    "$LR" "train.batch = 10, 20, 30, 40" "zip = train.batch, train.lr"
plan_refused "choice draws that repeat a cell" "have the same config" "samples = 8" \
    "train.optim = choice(sgd, adam)"
check "with a hint about choice" grep -q "HINT: draws of choice(...) can repeat" "$SCRATCH/refused.log"
check "no refused plan wrote its directory" test ! -e "$S/never"
finish
