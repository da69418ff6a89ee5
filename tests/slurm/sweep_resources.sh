# Per-cell resources on the local Slurm (issue 18, item 3): a sweep whose cells need 1 or 2
# ranks (zipped with the model) is submitted as one array per resource tuple, keeping cell
# numbers; each cell runs on its own number of ranks (its results record it).
source "$(dirname "$0")/lib.bash"
SW="$SCRATCH/sweep"
small_sweep_file "$SCRATCH/sweep.ini" "model.spec = mlp:784-16-10, mlp:784-32-10" \
    "ranks = 1, 2" "zip = model.spec, ranks" "run.seed = 1, 2"
sed -i "/^spec = /d; /^ranks = 2$/d" "$SCRATCH/sweep.ini"
"$RANKLAB" sweep plan "$SCRATCH/sweep.ini" --dir "$SW" >/dev/null
"$RANKLAB" sweep submit "$SW" | tee "$SCRATCH/submit.log"
check "two array jobs, one per resource tuple" \
    test "$(grep -c '^submitted job' "$SCRATCH/submit.log")" -eq 2
check "cells 0-1 on 1 rank" grep -q '^#SBATCH --ntasks=1$' "$SW/jobs/001.sbatch"
check "as tasks 0-1" grep -q '^#SBATCH --array=0-1$' "$SW/jobs/001.sbatch"
check "cells 2-3 on 2 ranks" grep -q '^#SBATCH --ntasks=2$' "$SW/jobs/002.sbatch"
check "as tasks 2-3 (cell numbers kept)" grep -q '^#SBATCH --array=2-3$' "$SW/jobs/002.sbatch"
wait_sweep "$SW" 240
check "status: 4 complete" "$RANKLAB" sweep status "$SW"
check "cells 0-1 ran on 1 rank, 2-3 on 2" /usr/bin/python3 - "$SW" <<'PY'
import csv, h5py, sys
rows = list(csv.DictReader(open(sys.argv[1] + "/manifest.tsv"), delimiter="\t"))
got = [int(h5py.File(f"{sys.argv[1]}/{r['dir']}/results.h5")["/"].attrs["world_size"]) for r in rows]
print("world sizes", got)
sys.exit(got != [1, 1, 2, 2])
PY
finish
