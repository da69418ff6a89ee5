# Setup shared by the benchmark scripts (sourced): one BLAS and OpenMP thread per process, Open
# MPI allowed to run as root, and the machine line every result in bench/RESULTS.md starts with
# (CPU model, cores, date; bench/benchlib.py's machine() for the Python ones).
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1

bench_machine() { # prints the machine line
    echo "machine: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc --all) cores; $(date -u +%F)"
}
