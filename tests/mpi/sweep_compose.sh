# Config composition (issue 18, item 4), without Slurm: repeated -c files and `include = FILE`
# give the resolved config and run id of the flat file, for `ranklab run`/`show-config` and for
# sweep files; a planned sweep keeps what its includes set (it no longer needs them); a later
# file replaces an earlier one's keys and lists; cycles and missing files are refused naming the
# include line, before anything is written.
source "$(dirname "$0")/lib.bash"
S=$SCRATCH
mkdir -p "$S/conf/parts"
run_id() { # run_id ARGS...: the run id show-config gives train with ARGS
    "$RANKLAB" show-config train "$@" | sed -n '1s/.*run id \([0-9a-f]*\).*/\1/p'
}
resolved() { "$RANKLAB" show-config train "$@" | tail -n +2; }

# 1. ranklab run / show-config: -c FILE repeated, include = FILE (from the including file's
# directory, nested, a comma list), the same as the flat file.
printf '[data]\ntrain_limit = 1000\n[train]\nepochs = 2\nlr = 0.02\n[model]\nspec = mlp:784-16-10\n' \
    >"$S/conf/flat.ini"
printf '[data]\ntrain_limit = 1000\n[train]\nepochs = 2\nlr = 0.5\n' >"$S/conf/parts/data.ini"
printf '[model]\nspec = mlp:784-16-10\n' >"$S/conf/parts/model.ini"
printf 'include = data.ini, model.ini\n' >"$S/conf/parts/all.ini"
printf '[train]\nlr = 0.02\n' >"$S/conf/lr.ini"
printf 'include = parts/all.ini\n[train]\nlr = 0.02\n' >"$S/conf/top.ini"
flat=$(run_id -c "$S/conf/flat.ini")
check "the flat file has a run id ($flat)" test -n "$flat"
check "-c repeated == the flat file" test "$(run_id -c "$S/conf/parts/data.ini" \
    -c "$S/conf/parts/model.ini" -c "$S/conf/lr.ini")" = "$flat"
check "include (nested, a list, relative to the including file) == the flat file" \
    test "$(run_id -c "$S/conf/top.ini")" = "$flat"
(cd "$S" && check "and from another directory" test "$(run_id -c conf/top.ini)" = "$flat")
check "the resolved configs are the same" \
    cmp -s <(resolved -c "$S/conf/flat.ini") <(resolved -c "$S/conf/top.ini")
check "an override still wins over an included file" \
    test "$(run_id -c "$S/conf/top.ini" train.lr=0.5)" = "$(run_id -c "$S/conf/flat.ini" train.lr=0.5)"

printf 'include = b.ini\n[train]\nlr = 0.1\n' >"$S/conf/a.ini"
printf '# b\ninclude = a.ini\n' >"$S/conf/b.ini"
refused "an include cycle" "$S/conf/b.ini:2: include = $S/conf/a.ini: a cycle" \
    "$RANKLAB" show-config train -c "$S/conf/a.ini"
printf 'include = parts/none.ini\n' >"$S/conf/missing.ini"
refused "a missing include" "$S/conf/missing.ini:1: include: cannot open included config file $S/conf/parts/none.ini" \
    "$RANKLAB" show-config train -c "$S/conf/missing.ini"
REFUSAL_BASE=(run train)
expect_refusal "a run with an include cycle writes nothing" "a cycle" -c "$S/conf/a.ini"

# 2. Sweep files: include brings sections and [sweep] settings and lists; the including file's
# own keys win (a list replaces the included list in its place); the plan is the flat file's.
cat >"$S/flat.ini" <<'EOF'
[sweep]
experiment = train
time = 00:10:00
train.lr = 0.1, 0.03
run.seed = 1, 2
[data]
train_limit = 1000
[model]
spec = mlp:784-16-10
[train]
epochs = 1
EOF
# (a key swept in one file may be fixed in another, here parts/lr.ini; not in the same file)
printf '[train]\nlr = 0.7\n' >"$S/conf/parts/lr.ini"
cat >"$S/conf/sweep-base.ini" <<'EOF'
include = parts/model.ini, parts/lr.ini
[sweep]
experiment = train
time = 00:20:00
train.lr = 0.5, 0.2, 0.1
run.seed = 1, 2
[train]
epochs = 1
EOF
cat >"$S/composed.ini" <<'EOF'
include = conf/sweep-base.ini
[sweep]
time = 00:10:00
train.lr = 0.1
  0.03
[data]
train_limit = 1000
EOF
"$RANKLAB" sweep plan "$S/flat.ini" --dir "$S/flat" >/dev/null
"$RANKLAB" sweep plan "$S/composed.ini" --dir "$S/composed" >"$S/plan.log"
check "a composed sweep plans the flat sweep's cells (same manifest)" \
    cmp -s "$S/flat/manifest.tsv" "$S/composed/manifest.tsv"
check "with the later time" grep -q "time limit 00:10:00" "$S/plan.log"
check "its sweep.ini is what the files set, as one file" \
    grep -q "^# $S/composed.ini with the 3 files it includes" "$S/composed/sweep.ini"
check "with no include left" test -z "$(grep '^include' "$S/composed/sweep.ini" || true)"
"$RANKLAB" sweep plan "$S/composed.ini" --dir "$S/composed" >"$S/again.log"
check "planning it again is a no-op" grep -q "already holds this plan" "$S/again.log"
mv "$S/conf" "$S/conf.moved"
set +e
"$RANKLAB" sweep status "$S/composed" >"$S/status.log" 2>&1
code=$?
set -e
check "the planned sweep needs its includes no more (status exit $code)" test "$code" -eq 3
mpiexec -n 1 "$RANKLAB" sweep run "$S/composed" --cell 1 >"$S/cell.log" 2>&1 || cat "$S/cell.log"
cell1=$(awk -F'\t' 'NR == 3 { print $3 }' "$S/composed/manifest.tsv")
mpiexec -n 1 "$RANKLAB" run train data.train_limit=1000 model.spec=mlp:784-16-10 train.epochs=1 \
    train.lr=0.1 run.seed=2 --out "$S/direct" >/dev/null 2>&1
check "its cell 1 == ranklab run of the flat config" \
    same_results "$S/direct/results.h5" "$S/composed/$cell1/results.h5"
mv "$S/conf.moved" "$S/conf"

printf 'include = loop.ini\n[sweep]\nexperiment = train\n' >"$S/loop.ini"
refused "a sweep file that includes itself" "$S/loop.ini:1: include = $S/loop.ini: a cycle" \
    "$RANKLAB" sweep plan "$S/loop.ini" --dir "$S/never-planned"
printf 'include = conf/none.ini\n[sweep]\nexperiment = train\n' >"$S/gone.ini"
refused "a sweep file with a missing include" "$S/gone.ini:1: include: cannot open" \
    "$RANKLAB" sweep plan "$S/gone.ini" --dir "$S/never-planned"
check "no refused plan wrote its directory" test ! -e "$S/never-planned"
finish
