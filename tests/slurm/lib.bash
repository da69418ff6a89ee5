# Helpers for the Slurm tests (sourced): the MPI test helpers (check, finish, same_results,
# SCRATCH), plus a local one-node Slurm started for the test and stopped afterwards, unless it
# was already up. Needs root and the Debian packages slurm-wlm and munge (`make check` installs
# them); without root the test is skipped (exit 77).
if [ "$(id -u)" != 0 ]; then
    echo "skipped: the local Slurm cluster needs root"
    exit 77
fi
source "$(dirname "${BASH_SOURCE[0]}")/../mpi/lib.bash"
: "${RANKLAB_SRC:?RANKLAB_SRC must point at the source tree}"
CLUSTER="$RANKLAB_SRC/slurm/local-cluster.sh"

# A small train for the cells: a second or two each on 2 ranks.
small_sweep_file() { # small_sweep_file FILE [extra [sweep] lines...]
    local file=$1
    shift
    {
        echo "[sweep]"
        echo "experiment = train"
        echo "ranks = 2"
        echo "time = 00:05:00"
        echo "signal_seconds = 60"
        printf '%s\n' "$@"
        echo "[data]"
        echo "train_limit = 2000"
        echo "test_limit = 1000"
        echo "[model]"
        echo "spec = mlp:784-32-10"
        echo "[train]"
        echo "epochs = 2"
    } >"$file"
}

sweep_jobs() { # job ids of the sweep in directory $1 still in the queue
    local dir
    dir=$(realpath "$1")
    squeue --me -h -o "%A %k" | awk -v d="$dir" '$2 == d { print $1 }' | sort -u
}

wait_sweep() { # wait_sweep DIR SECONDS: until no job of the sweep is queued; 1 on timeout
    local deadline=$((SECONDS + $2))
    while [ -n "$(sweep_jobs "$1")" ]; do
        if [ "$SECONDS" -ge "$deadline" ]; then
            echo "timeout waiting for the sweep $1"
            squeue
            return 1
        fi
        sleep 1
    done
}

cleanup_slurm() {
    local jobs
    jobs=$(squeue --me -h -o "%A %k" 2>/dev/null |
        awk -v d="$SCRATCH" 'index($2, d) == 1 { print $1 }')
    [ -z "$jobs" ] || scancel $jobs || true
    [ -n "$WAS_UP" ] || "$CLUSTER" down >/dev/null || true
    rm -rf "$SCRATCH"
}

WAS_UP=$("$CLUSTER" status >/dev/null 2>&1 && echo yes || true)
trap cleanup_slurm EXIT
"$CLUSTER" up
