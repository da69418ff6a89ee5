# Stages on the local Slurm (issue 18, item 1): a pretraining sweep (2 seeds) and two sweeps
# whose cells start from its cell of the same run.seed. `submit` makes Slurm wait: aftercorr
# for the sweep whose array pairs 1:1 with the pretraining array, afterok for the grid that does
# not; while the pretraining job is held, the cells are "waiting" in `status` and Slurm keeps
# them pending on the dependency; released, every cell runs after the cell it starts from. A
# stage whose upstream cells are in no queued job is refused.
source "$(dirname "$0")/lib.bash"
R=$SCRATCH/runs
mkdir -p "$R"
small_sweep_file "$SCRATCH/pretrain.ini" "run.seed = 1, 2"
small_sweep_file "$SCRATCH/paired.ini" "init.from = sweep:../pretrain?run.seed" "run.seed = 1, 2"
small_sweep_file "$SCRATCH/grid.ini" "init.from = sweep:../pretrain?run.seed" \
    "train.lr = 0.01, 0.003" "run.seed = 1, 2"
sed -i 's/^ranks = 2$/ranks = 1/' "$SCRATCH"/*.ini
for s in pretrain paired grid; do
    "$RANKLAB" sweep plan "$SCRATCH/$s.ini" --dir "$R/$s" >/dev/null
done

refused "a stage whose upstream is in no queued job" \
    "cell 0 starts from cell 0 of $R/pretrain, which is missing and in no queued job" \
    "$RANKLAB" sweep submit "$R/paired"
check "and submits nothing" test ! -e "$R/paired/jobs"

# The pretraining array, held until the stages are submitted.
sed 's/^#SBATCH --requeue$/#SBATCH --requeue\n#SBATCH --hold/' "$RANKLAB_SRC/slurm/sweep.sbatch" \
    >"$SCRATCH/held.sbatch"
"$RANKLAB" sweep submit "$R/pretrain" --template "$SCRATCH/held.sbatch" | tee "$SCRATCH/pre.log"
PRE_JOB=$(sed -n 's/^submitted job \([0-9]*\):.*/\1/p' "$SCRATCH/pre.log")
"$RANKLAB" sweep submit "$R/paired" | tee "$SCRATCH/paired.log"
"$RANKLAB" sweep submit "$R/grid" | tee "$SCRATCH/grid.log"
check "paired 1:1: aftercorr on the pretraining array" \
    grep -qx "#SBATCH --dependency=aftercorr:$PRE_JOB" "$R/paired/jobs/001.sbatch"
check "the grid does not pair: afterok" \
    grep -qx "#SBATCH --dependency=afterok:$PRE_JOB" "$R/grid/jobs/001.sbatch"
check "a cell whose upstream fails is cancelled, not left pending" \
    grep -qx "#SBATCH --kill-on-invalid-dep=yes" "$R/grid/jobs/001.sbatch"
set +e
"$RANKLAB" sweep status "$R/grid" >"$SCRATCH/status-held.log"
set -e
cat "$SCRATCH/status-held.log"
check "status: the cells wait for the pretraining cells" \
    grep -q "^4 cells: 0 complete, 0 running, 0 failed, 0 missing, 4 waiting" \
    "$SCRATCH/status-held.log"
sleep 5 # a scheduling pass or two
check "Slurm keeps them pending on the dependency" \
    test "$(squeue --me -h -o '%k %r' | awk -v d="$(realpath "$R/grid")" '$1 == d { print $2 }' |
        sort -u)" = "Dependency"
scontrol release "$PRE_JOB"
for s in pretrain paired grid; do
    wait_sweep "$R/$s" 300
done
for s in pretrain paired grid; do
    check "$s: every cell complete" "$RANKLAB" sweep status "$R/$s"
done
check "each cell started after the cell it starts from was complete" \
    /usr/bin/python3 - "$R" <<'EOF'
import calendar, csv, h5py, os, sys, time
runs = sys.argv[1]
def rows(sweep):
    return list(csv.DictReader(open(f"{runs}/{sweep}/manifest.tsv"), delimiter="\t"))
done = {os.path.realpath(f"{runs}/pretrain/{r['dir']}"): os.path.getmtime(f"{runs}/pretrain/{r['dir']}/results.h5")
        for r in rows("pretrain")}
bad = 0
for sweep in ("paired", "grid"):
    for r in rows(sweep):
        f = h5py.File(f"{runs}/{sweep}/{r['dir']}/results.h5")
        created = calendar.timegm(time.strptime(f.attrs["created_utc"], "%Y-%m-%dT%H:%M:%SZ"))
        up = r["init.from"]
        print(sweep, r["cell"], "created", created, "upstream done", int(done[up]), up[-30:])
        bad += created < int(done[up])
sys.exit(bad)
EOF
finish
