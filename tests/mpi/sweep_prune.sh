# Early stopping (issue 18, item 5), without Slurm: a small sweep of three learning rates, one
# of them far too small, run one cell at a time (so the order, on which the rule depends, is
# fixed): with early_stop = median, the clearly worse cell is pruned at its first rung, being
# below the median of the two cells before it; its results say status "pruned" and why (/pruned),
# status and run --all count it done, and nothing else changes: the run ids are those of the
# sweep without early stopping, which runs every cell to the end (off by default). Bad settings
# are refused before anything is written.
source "$(dirname "$0")/lib.bash"
S=$SCRATCH
sweep_file() { # sweep_file FILE [sweep] LINES...
    local file=$1
    shift
    {
        printf '[sweep]\nexperiment = train\ntrain.lr = 0.05, 0.03, 0.000001\n'
        printf '%s\n' "$@"
        printf '[data]\ntrain_limit = 1000\ntest_limit = 300\n[model]\nspec = mlp:784-16-10\n'
        printf '[train]\nepochs = 4\nbatch = 50\noptim = sgd\n'
    } >"$file"
}
sweep_file "$S/es.ini" "early_stop = median" "rungs = 1, 2"
sweep_file "$S/plain.ini"
"$RANKLAB" sweep plan "$S/es.ini" --dir "$S/es" >/dev/null
"$RANKLAB" sweep plan "$S/plain.ini" --dir "$S/plain" >/dev/null
check "early stopping changes no run id" \
    cmp -s <(cut -f2 "$S/es/manifest.tsv") <(cut -f2 "$S/plain/manifest.tsv")

"$RANKLAB" sweep run "$S/es" --all --jobs 1 >"$S/es.log" 2>&1 || true
cat "$S/es.log"
check "run --all: done, cell 2 pruned" \
    grep -q "all 3 cells of $S/es are done: 2 complete, 1 pruned by early stopping" "$S/es.log"
check "cell 2 was pruned at rung 1" grep -q "cell 2 pruned (.*): median rule at rung 1: " "$S/es.log"
set +e
"$RANKLAB" sweep status "$S/es" >"$S/status.log"
code=$?
set -e
cat "$S/status.log"
check "status: a pruned cell is done (exit $code)" test "$code" -eq 0
check "status counts it" grep -q "^3 cells: 2 complete, 0 running, 0 failed, 0 missing, 1 pruned" \
    "$S/status.log"
check "and says why" grep -q "^2 *pruned .*median rule at rung 1: test_acc = .* < .*, the median of 2 peers (cell 0: .*, cell 1: .*)" \
    "$S/status.log"
check "the results record the decision and its inputs" /usr/bin/python3 - "$S/es" <<'EOF'
import csv, h5py, sys
rows = list(csv.DictReader(open(sys.argv[1] + "/manifest.tsv"), delimiter="\t"))
cells = [h5py.File(f"{sys.argv[1]}/{r['dir']}/results.h5") for r in rows]
pruned = cells[2]
why = dict(pruned["pruned"].attrs)
print(dict(pruned.attrs)["status"], why)
peers = [c["metrics/test_acc"][0] for c in cells[:2]]
ok = (pruned.attrs["status"] == "pruned" and why["rule"] == "median" and
      why["metric"] == "test_acc" and why["mode"] == "max" and why["rung"] == 1 and
      why["peers"] == 2 and abs(why["median"] - sum(peers) / 2) < 1e-12 and
      why["value"] == pruned["metrics/test_acc"][0] and why["value"] < why["median"] and
      len(pruned["metrics/step"]) == 1 and
      all(c.attrs["status"] == "complete" and len(c["metrics/step"]) == 4 for c in cells[:2]))
sys.exit(not ok)
EOF
"$RANKLAB" sweep run "$S/es" --all --jobs 1 >"$S/again.log" 2>&1
check "run --all again: nothing to run" grep -q "; nothing to run$" "$S/again.log"
check "ranklab verify accepts the pruned results" \
    "$RANKLAB" verify "$(awk -F'\t' 'NR == 4 { print $3 }' "$S/es/manifest.tsv" | sed "s|^|$S/es/|")"

"$RANKLAB" sweep run "$S/plain" --all --jobs 1 >"$S/plain.log" 2>&1 || cat "$S/plain.log"
check "off by default: every cell runs to its end" \
    grep -q "all 3 cells of $S/plain are complete (3 run now)" "$S/plain.log"
check "and the cells run before the pruning are the same" \
    same_results "$S/plain/$(awk -F'\t' 'NR == 2 { print $3 }' "$S/plain/manifest.tsv")/results.h5" \
    "$S/es/$(awk -F'\t' 'NR == 2 { print $3 }' "$S/es/manifest.tsv")/results.h5"

# Bad settings.
plan_refused "early_stop without rungs" "early_stop = median needs its rungs" "early_stop = median"
plan_refused "a rung that is not a number" "sweep.rungs: 'x' is not a whole number" \
    "early_stop = median" "rungs = 2, x"
plan_refused "an unknown rule" "sweep.early_stop = 'mean' is not one of the choices" \
    "early_stop = mean" "rungs = 2"
check "no refused plan wrote its directory" test ! -e "$S/never"
sweep_file "$S/metric.ini" "early_stop = median" "rungs = 1" "metric = test_accuracy"
"$RANKLAB" sweep plan "$S/metric.ini" --dir "$S/metric" >/dev/null
refused "a metric the experiment does not record" \
    "early stopping reads the metric test_accuracy, which train does not record" \
    mpiexec -n 1 "$RANKLAB" sweep run "$S/metric" --cell 0
check "with the metrics it does record" grep -q "HINT: it records: .*test_acc" "$SCRATCH/refused.log"
check "and nothing written" test ! -e "$S/metric/cells"
finish
