# Sweep directories and what goes into batch scripts (issue 12), without Slurm: a manifest edited
# to point outside the sweep directory, values that would break the sbatch script, a sweep.ini
# edited after plan, and bad cell numbers and options are refused with a hint, writing nothing.
# The sweep files of README.md, `sweep --help` and sweeps/ plan as they are.
source "$(dirname "$0")/lib.bash"
: "${RANKLAB_SRC:?RANKLAB_SRC must point at the source tree}"
export RANKLAB_SLURM_TEMPLATE=$RANKLAB_SRC/slurm/sweep.sbatch
S=$SCRATCH
sweep_file() { # sweep_file FILE [[sweep] lines...]: two small cells of train
    local file=$1
    shift
    {
        printf '[sweep]\nexperiment = train\n'
        printf '%s\n' "$@" | grep -q '^time = ' || echo "time = 00:10:00"
        printf 'run.seed = 1, 2\n'
        printf '%s\n' "$@"
        printf '[data]\ntrain_limit = 600\ntest_limit = 200\n[model]\nspec = mlp:784-8-10\n'
        printf '[train]\nepochs = 1\nbatch = 100\n'
    } >"$file"
}
nothing_new() { # nothing_new "what": no file appeared outside the sweep directories since mark
    check "$1: nothing written outside" test -z "$(find "$S" -newer "$S/mark" -type f \
        ! -path "$S/sw/*" ! -path "$S/refused.log" ! -name '*.ini' -print -quit)"
}

sweep_file "$S/sweep.ini"
"$RANKLAB" sweep plan "$S/sweep.ini" --dir "$S/sw" >/dev/null
"$RANKLAB" sweep plan <(cat "$S/sweep.ini") --dir "$S/piped" >/dev/null
check "a sweep file from a pipe is planned as it was read" cmp -s "$S/sweep.ini" "$S/piped/sweep.ini"
"$RANKLAB" sweep --help | sed -n '/^  \[sweep\]$/,/^$/s/^  //p' >"$S/help.ini"
"$RANKLAB" sweep plan "$S/help.ini" --dir "$S/help" >"$S/help.log" 2>&1 || true
check "the example in sweep --help plans as it is" test -f "$S/help/manifest.tsv"
awk '/^```ini$/ { n++; next } /^```$/ && n == 1 { exit } n == 1' "$RANKLAB_SRC/README.md" \
    >"$S/readme.ini" # the first sweep of README.md
"$RANKLAB" sweep plan "$S/readme.ini" --dir "$S/readme" >"$S/readme.log" 2>&1 || cat "$S/readme.log"
check "the sweep example in README.md plans as it is" test -f "$S/readme/manifest.tsv"
# the experiments' grids, and the count they state; the sweeps that others start from
# (init.from = sweep:../NAME) first, each planned into grids/NAME as the references expect
for file in $(grep -L "sweep:" "$RANKLAB_SRC"/sweeps/*.ini) $(grep -l "sweep:" "$RANKLAB_SRC"/sweeps/*.ini); do
    name=$(basename "$file" .ini)
    "$RANKLAB" sweep plan "$file" --dir "$S/grids/$name" >"$S/grid.log" 2>&1 || cat "$S/grid.log"
    cells=$(sed -n 's/^sweep of [^:]*: \([0-9]*\) cells .*/\1/p' "$S/grid.log")
    check "sweeps/$name.ini plans as it is, ${cells:-no} cells as its comment says" \
        grep -q "(${cells:-no} cells" "$file"
done
M=$S/sw/manifest.tsv
cp "$M" "$S/manifest.good"
id1=$(sed -n '3p' "$M" | cut -f2)

# 1. The dir column of the manifest is derived (cells/NNNN-RUNID): anything else is refused.
touch "$S/mark"
edit_manifest() { # edit_manifest SED-SCRIPT: the good manifest, edited
    sed "$1" "$S/manifest.good" >"$M"
}
edit_manifest "3s|cells/0001-$id1|../escape|"
refused "a ../ dir in the manifest" "manifest.tsv:3: the directory of cell 1 is '../escape'" \
    mpiexec -n 1 "$RANKLAB" sweep run "$S/sw" --cell 1
check "and no escape directory" test ! -e "$S/escape"
edit_manifest "3s|cells/0001-$id1|$S/abs|"
refused "an absolute dir in the manifest" "the directory of cell 1 is '$S/abs', not cells/0001-$id1" \
    "$RANKLAB" sweep run "$S/sw" --cell 1
edit_manifest "3s|cells/0001-$id1|cells/0001-$id1/../../..|"
refused "a dir that starts right but climbs out" "manifest.tsv:3: the directory of cell 1" \
    "$RANKLAB" sweep status "$S/sw"
edit_manifest "3s|$id1\tcells/0001-$id1|../../../../tmpx\tcells/0001-../../../../tmpx|"
refused "a run id that is a path" "manifest.tsv:3: run id '../../../../tmpx' of cell 1 is not 16 hex" \
    "$RANKLAB" sweep run "$S/sw" --cell 1
edit_manifest '2s|^0\t|7\t|'
refused "a row of another cell" "manifest.tsv:2: cell '7' where cell 0 belongs" \
    "$RANKLAB" sweep run "$S/sw" --cell 1
edit_manifest '2s/$/\n/'
refused "an empty line in the manifest" "manifest.tsv:3: 1 columns, but the header has 4" \
    "$RANKLAB" sweep status "$S/sw"
edit_manifest '1s|run.seed|train.lr|'
refused "a header that is not sweep.ini's" "manifest.tsv:1: the columns are not cell, run_id, dir" \
    "$RANKLAB" sweep submit "$S/sw" --dry-run --max-array-size 100
nothing_new "edited manifests"
check "and no cell directory" test ! -e "$S/sw/cells"
cp "$S/manifest.good" "$M"

# A good cell still runs where the plan says, on one rank, outside Slurm.
mpiexec -n 1 "$RANKLAB" sweep run "$S/sw" --cell 1 >"$S/run.log" 2>&1
check "a planned cell runs into cells/0001-RUNID" test -f "$S/sw/cells/0001-$id1/results.h5"
"$RANKLAB" sweep status "$S/sw" >"$S/status.log" || true
check "and status sees it complete" grep -q "2 cells: 1 complete, 0 running, 0 failed, 1 missing" \
    "$S/status.log"

# 2. Values that go into the sbatch script: Slurm names, Slurm times, safe paths.
touch "$S/mark"
plan_refused "a partition with a space" \
    "sweep.partition = 'gpu short' has the character ' ' (a space)" "partition = gpu short"
plan_refused "a partition with ;" "sweep.partition = 'gpu;reboot' has the character ';'" \
    "partition = gpu;reboot"
plan_refused 'a partition with $(...)' "sweep.partition = '\$(id)' has the character '\$'" \
    'partition = $(id)'
plan_refused "a partition with a quote" "sweep.partition = 'a\"b' has the character '\"'" \
    'partition = a"b'
plan_refused "a partition list with an empty name" "sweep.partition = 'a,,b' has an empty name" \
    "partition = a,,b"
plan_refused "a time with ;" "sweep.time = '1:00:00;x' is not a Slurm time" "time = 1:00:00;x"
plan_refused "a negative time" "sweep.time = '-5' is not a Slurm time" "time = -5"
plan_refused "a time too long to count" "sweep.time = '99999999999' is not a Slurm time" \
    "time = 99999999999"
plan_refused "a setting given twice" "sweep.ranks is set twice in this file" "ranks = 2" "ranks = 3"
sweep_file "$S/good.ini" "partition = batch,short.1,gpu_a-2" "time = 1-00:30"
mkdir -p "$S/with space"
refused "a sweep directory with a space" "the sweep directory '$S/with space/sw' has the character ' '" \
    "$RANKLAB" sweep plan "$S/good.ini" --dir "$S/with space/sw"
check "nothing is planned there" test ! -e "$S/with space/sw"
check "no refused plan wrote its directory" test ! -e "$S/never"
"$RANKLAB" sweep plan "$S/good.ini" --dir "$S/ok" >/dev/null
"$RANKLAB" sweep submit "$S/ok" --dry-run --max-array-size 100 >"$S/dry.log"
check "a partition list goes into the script" grep -q '^#SBATCH --partition=batch,short.1,gpu_a-2$' \
    "$S/dry.log"
check "a time with days goes into the script" grep -q '^#SBATCH --time=1-00:30$' "$S/dry.log"
# Paths known at submit time: the sweep directory (moved since plan), the program.
mv "$S/ok" "$S/with space/ok"
refused "a sweep directory moved to a path with a space" \
    "the sweep directory '$S/with space/ok' has the character ' '" \
    "$RANKLAB" sweep submit "$S/with space/ok" --dry-run --max-array-size 100
mkdir -p "$S/bin\$x"
cp "$RANKLAB" "$S/bin\$x/ranklab"
refused "a program path with \$" "the path of the ranklab program '$S/bin\$x/ranklab' has the character '\$'" \
    "$S/bin\$x/ranklab" sweep submit "$S/sw" --dry-run --max-array-size 100
check "no job script was written" test -z "$(find "$S" -path '*/jobs/*' -print -quit)"

# 3. sweep.ini edited after plan, checked wherever it is read.
cp "$S/sw/sweep.ini" "$S/sweep.ini.good"
sed -i 's/^time = .*/time = 00:10:00\npartition = a b/' "$S/sw/sweep.ini"
refused "sweep.ini edited to a bad partition" "sw/sweep.ini: sweep.partition = 'a b'" \
    "$RANKLAB" sweep submit "$S/sw" --dry-run --max-array-size 100
sed 's/^epochs = 1$/epochs = 1\nepochs = 2/' "$S/sweep.ini.good" >"$S/sw/sweep.ini"
refused "sweep.ini edited to set a key twice" \
    "sweep.ini:13: train.epochs is set twice in this file (lines 12 and 13)" \
    "$RANKLAB" sweep status "$S/sw"
sed 's/^epochs = 1$/epochs = 2/' "$S/sweep.ini.good" >"$S/sw/sweep.ini"
refused "sweep.ini edited to other values" "cell 0 now resolves to run id" \
    "$RANKLAB" sweep run "$S/sw" --cell 0
ln -sf /dev/zero "$S/sw/sweep.ini"
refused "sweep.ini replaced by an endless file" "sweep.ini is larger than 1048576 bytes" \
    "$RANKLAB" sweep status "$S/sw"
rm "$S/sw/sweep.ini"
cp "$S/sweep.ini.good" "$S/sw/sweep.ini"
check "cell 0 never started" test ! -e "$S/sw/cells/0000-$(sed -n '2p' "$M" | cut -f2)"

# Cells and options on the command line.
for cell in -1 1x 2 99999999999999999999 "" " 1" +1; do
    refused "--cell '$cell'" "cell '$cell' is not one of the 2 cells" \
        "$RANKLAB" sweep run "$S/sw" --cell "$cell"
done
refused "--cell given twice" "unexpected argument '--cell'" \
    "$RANKLAB" sweep run "$S/sw" --cell 0 --cell 1
refused "a bad SLURM_ARRAY_TASK_ID" "cell '-3' is not one of the 2 cells" \
    env SLURM_ARRAY_TASK_ID=-3 "$RANKLAB" sweep run "$S/sw"
for n in 0 5x -1 99999999999999999999; do
    refused "--max-array-size $n" "--max-array-size '$n' is not a whole number above 0" \
        "$RANKLAB" sweep submit "$S/sw" --dry-run --max-array-size "$n"
done
for s in abc 0 -5 1e400 nan; do
    refused "--stale $s" "--stale '$s' is not a number of seconds above 0" \
        "$RANKLAB" sweep status "$S/sw" --stale "$s"
done
finish
