# `ranklab sweep plan` and friends without Slurm: grid and zip order, the manifest, a plan that
# is idempotent, and bad sweep files or arguments refused with a hint before anything is written.
source "$(dirname "$0")/../mpi/lib.bash"
S="$SCRATCH"
base() { printf '[sweep]\nexperiment = train\n'; printf '%s\n' "$@"; printf '[data]\ntrain_limit = 1000\n'; }
fails() { # fails "what" FILE "expected message": plan must fail, print it and write nothing
    refused "$1" "$3" "$RANKLAB" sweep plan "$2" --dir "$S/never"
    check "$1: writes nothing" test ! -e "$S/never"
}

# Grid: the last key moves fastest; zip moves lists together.
base "train.lr = 0.1, 0.01" "train.batch = 32, 64" "run.seed = 1, 2, 3" \
    "zip = train.lr, train.batch" >"$S/zip.ini"
"$RANKLAB" sweep plan "$S/zip.ini" --dir "$S/zip" >"$S/plan.log"
check "zip: 2 x 3 = 6 cells" \
    grep -q "^sweep of train: 6 cells (train.lr+train.batch 2 x run.seed 3)" "$S/plan.log"
check "zip: cell 0 is lr 0.1, batch 32, seed 1" \
    grep -qP '^0\t[0-9a-f]{16}\tcells/0000-[0-9a-f]{16}\t0.1\t32\t1$' "$S/zip/manifest.tsv"
check "zip: cell 4 is lr 0.01, batch 64, seed 2" \
    grep -qP '^4\t\w+\t\S+\t0.01\t64\t2$' "$S/zip/manifest.tsv"
base "train.lr = 0.10, 0.01" "run.seed = 1, 2, 3" >"$S/grid.ini"
"$RANKLAB" sweep plan "$S/grid.ini" --dir "$S/grid" >/dev/null
check "grid: cell 2 is lr 0.1, seed 3" grep -qP '^2\t\w+\t\S+\t0.1\t3$' "$S/grid/manifest.tsv"
check "grid: values are canonical (0.10 -> 0.1)" \
    test "$(cut -f4 "$S/grid/manifest.tsv" | sort -u | tr '\n' ' ')" = "0.01 0.1 train.lr "
base 'init.from = "a,b", c' >"$S/quoted.ini"
"$RANKLAB" sweep plan "$S/quoted.ini" --dir "$S/quoted" >/dev/null
check "a quoted value keeps its comma" grep -qP '^0\t\w+\t\S+\ta,b$' "$S/quoted/manifest.tsv"

# Planning again: the same file is a no-op, another file is refused.
"$RANKLAB" sweep plan "$S/grid.ini" --dir "$S/grid" >"$S/again.log"
check "the same plan again writes nothing" grep -q "already holds this plan" "$S/again.log"
set +e
"$RANKLAB" sweep plan "$S/zip.ini" --dir "$S/grid" >"$S/other.log" 2>&1
code=$?
set -e
check "another plan into the same directory is refused (code $code)" \
    grep -q "already holds the plan of another sweep" "$S/other.log"

# Bad sweep files.
base "rank = 2" >"$S/bad1.ini"
fails "unknown setting" "$S/bad1.ini" "unknown config key 'sweep.rank'"
check "unknown setting: names the closest" grep -q "did you mean 'sweep.ranks'" "$SCRATCH/refused.log"
base "train.lrr = 0.1, 0.2" >"$S/bad2.ini"
fails "unknown swept key" "$S/bad2.ini" "unknown config key 'train.lrr'"
base "train.lr = 0.1, abc" >"$S/bad3.ini"
fails "bad value" "$S/bad3.ini" "cell 1: $S/bad3.ini [sweep]: train.lr = 'abc' is not a number"
base "train.lr = 0.1, 0.2" "run.seed = 1, 2, 3" "zip = train.lr, run.seed" >"$S/bad4.ini"
fails "zip of unequal lists" "$S/bad4.ini" "zipped keys train.lr and run.seed have 2 and 3 values"
base "ckpt.every = 10, 20" >"$S/bad5.ini"
fails "cells with the same config" "$S/bad5.ini" "cells 0 and 1 have the same config"
printf '[sweep]\ntrain.lr = 0.1, 0.2\n' >"$S/bad6.ini"
fails "no experiment" "$S/bad6.ini" "bad6.ini names no experiment: a sweep file needs a [sweep]"
printf '[train]\nlr = 0.1\n' >"$S/bad6b.ini"
fails "no [sweep] section" "$S/bad6b.ini" "needs a [sweep] section with \`experiment = NAME\`"
refused "--dir without its value" "--dir needs a value" "$RANKLAB" sweep plan "$S/bad6.ini" --dir
base "time = 00:01:00" "signal_seconds = 120" >"$S/bad7.ini"
fails "signal after the time limit" "$S/bad7.ini" \
    "sweep.signal_seconds = 120 is not shorter than sweep.time"
base "model.spec = mlp:784-10, mlp:784-xx-10" >"$S/bad10.ini"
fails "a cell's model spec, refused by the experiment's check at plan time" "$S/bad10.ini" \
    "cell 1: model.spec: model spec \"mlp:784-xx-10\": expected a layer size"
base "time = soon" >"$S/bad8.ini"
fails "bad time" "$S/bad8.ini" "sweep.time = 'soon' is not a Slurm time"
base "train.lr = 0.1,, 0.2" >"$S/bad9.ini"
fails "empty list item" "$S/bad9.ini" "empty item in the list"

# Bad arguments.
refused "cell out of range" "cell '6' is not one of the 6 cells" \
    "$RANKLAB" sweep run "$S/grid" --cell 6
refused "no cell outside Slurm" "SLURM_ARRAY_TASK_ID is not set" \
    env -u SLURM_ARRAY_TASK_ID "$RANKLAB" sweep run "$S/grid"
refused "status of a non-sweep" "is not a planned sweep" "$RANKLAB" sweep status "$S"
refused "resubmit without --failed" "resubmit needs --failed" \
    "$RANKLAB" sweep resubmit "$S/grid"
"$RANKLAB" sweep submit "$S/grid" --dry-run --max-array-size 1000 >"$S/dry1.log"
check "--dry-run prints the script" grep -q '^#SBATCH --array=0-5$' "$S/dry1.log"
check "--dry-run writes and submits no job" test ! -e "$S/grid/jobs"
"$RANKLAB" sweep submit "$S/grid" --dry-run --max-array-size 4 >"$S/dry.log"
check "--dry-run prints one script per block of 4 cells" \
    test "$(grep -c '^#!/bin/bash' "$S/dry.log")" -eq 2
check "the script asks for USR2 before the time limit" \
    grep -q '^#SBATCH --signal=B:USR2@120$' "$S/dry.log"
check "the script is requeueable and appends its log" \
    test "$(grep -c '^#SBATCH --requeue$\|^#SBATCH --open-mode=append$' "$S/dry.log")" -eq 4
check "an unset partition is left out" test "$(grep -c '^#SBATCH --partition' "$S/dry.log")" -eq 0
finish
