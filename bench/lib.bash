# Setup shared by the benchmark scripts (sourced): one BLAS and OpenMP thread per process, Open
# MPI allowed to run as root, the machine line every result in bench/RESULTS.md starts with
# (CPU model, cores, date; bench/benchlib.py's machine() for the Python ones), and the selection
# time of a subset-select log.
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1

bench_machine() { # prints the machine line
    echo "machine: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc --all) cores; $(date -u +%F)"
}

selection_seconds() { # selection_seconds LOG: a subset-select run's selection time, from its log
    # (the slowest budget's, or the nested selection's), plus ProbCover's radius search
    local radius t
    radius=$(sed -n 's/.*ProbCover radius .*, \([0-9.]*\) s)$/\1/p' "$1")
    t=$(sed -n -e 's/.* selected B=[0-9]* in \([0-9.]*\) s .*/\1/p' \
        -e 's/.* test accuracy .*, \([0-9.]*\) s)$/\1/p' "$1" | sort -g | tail -n 1)
    awk -v t="$t" -v r="${radius:-0}" 'BEGIN { printf "%.3f\n", t + r }'
}
