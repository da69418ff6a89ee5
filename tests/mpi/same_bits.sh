# Same bits on every CPU (issue 14): a heterogeneous cluster simulated on one machine. The same
# config of `train` (MLP and CNN), `mw-train`, `zoqo-train` and `gor-train` runs once per ISA
# level of the project's kernels (RANKLAB_ISA=generic|avx2|avx512, as far as this CPU goes) and
# once as one job whose ranks are forced to different levels (mpiexec's MPMD form); all must
# hold the same bits (`ranklab compare`, timings left out). OpenBLAS's own choice is not touched
# (OPENBLAS_CORETYPE stays as the machine sets it): the exact path does not use OpenBLAS. Then
# `ranklab compare` itself: a parameter changed, the BLAS path, an unreadable file; and bad
# RANKLAB_ISA values are refused.
source "$(dirname "$0")/lib.bash"

LEVELS=(generic avx2)
grep -qw avx512bw /proc/cpuinfo && grep -qw avx512vl /proc/cpuinfo && grep -qw avx512dq /proc/cpuinfo &&
    LEVELS+=(avx512)

SPEC_CNN=cnn:1x28x28-conv4k3-gn2-relu-maxpool2-conv8k3-gn2-relu-maxpool2-fc10
ranks 1 run train data.train_limit=600 data.test_limit=200 model.spec=mlp:784-32-10 \
    train.epochs=1 --out "$SCRATCH/base" >"$SCRATCH/base.log" 2>&1
declare -A CONFIGS=(
    [train-mlp]="run train data.train_limit=1000 data.test_limit=300 model.spec=mlp:784-32-10 train.epochs=2 train.batch=100 train.chunk=16"
    [train-cnn]="run train data.train_limit=300 data.test_limit=100 model.spec=$SPEC_CNN train.epochs=1 train.batch=50 train.chunk=10"
    [mw-train]="run mw-train data.train_limit=600 data.test_limit=200 model.spec=mlp:784-32-10 train.epochs=2 train.batch=100 train.chunk=16 data.noise=symmetric data.noise_rate=0.4"
    [zoqo-train]="run zoqo-train init.from=$SCRATCH/base data.train_limit=600 data.test_limit=200 zoqo.steps=10 zoqo.eval_every=5 zoqo.batch=64 zo.perturbations=2 zoqo.arms=zoqo8,sign,mezo,sgd"
    [gor-train]="run gor-train data.train_limit=300 data.test_limit=100 model.spec=$SPEC_CNN train.epochs=1 train.batch=50 train.chunk=10 gor.groups=2 gor.lambda=0.1"
)

compare_quietly() { # ranklab compare A B, its report shown only when they differ
    "$RANKLAB" compare "$1" "$2" >"$SCRATCH/compare.log" 2>&1 || { cat "$SCRATCH/compare.log"; return 1; }
}

for name in "${!CONFIGS[@]}"; do
    read -r -a args <<<"${CONFIGS[$name]}"
    for level in "${LEVELS[@]}"; do
        RANKLAB_ISA=$level ranks 1 "${args[@]}" --out "$SCRATCH/$name-$level" \
            >"$SCRATCH/$name-$level.log" 2>&1
    done
    # One job, one rank per level (rank 0 at the best level, the last at generic).
    mpmd=()
    for ((i = ${#LEVELS[@]} - 1; i >= 0; i--)); do
        mpmd+=(${mpmd[@]:+:} -n 1 -x RANKLAB_ISA="${LEVELS[$i]}" "$RANKLAB" "${args[@]}"
               --out "$SCRATCH/$name-mixed")
    done
    mpiexec --oversubscribe "${mpmd[@]}" >"$SCRATCH/$name-mixed.log" 2>&1
    for run in "${LEVELS[@]:1}" mixed; do
        check "$name: $run == generic" compare_quietly "$SCRATCH/$name-generic" "$SCRATCH/$name-$run"
    done
done
check "the mixed job records each rank's level in its fingerprint" \
    /usr/bin/python3 -c "import h5py, sys; isa = h5py.File('$SCRATCH/train-mlp-mixed/results.h5').attrs['fingerprint.isa']; \
sys.exit(not ('(rank 0)' in isa and 'generic (forced by RANKLAB_ISA) (rank' in isa))"
check "every fingerprint attribute is in results.h5" /usr/bin/python3 -c "import h5py; a = h5py.File('$SCRATCH/train-mlp-avx2/results.h5').attrs; \
assert all('fingerprint.' + k in a for k in 'compute isa int8 blas blas_core compiler libc cpu cpu_flags mpi hdf5'.split()), list(a)"

# compare: identical (above), one parameter changed, another compute path, an unreadable file.
read -r -a mlp <<<"${CONFIGS[train-mlp]}"
ranks 1 "${mlp[@]}" train.lr=0.002 --out "$SCRATCH/lr" >/dev/null 2>&1
ranks 1 "${mlp[@]}" run.compute=blas --out "$SCRATCH/blas" >/dev/null 2>&1
compare_says() { # compare_says EXIT PATTERN... A B: the exit code and every pattern in the output
    local want=$1 code
    shift
    local -a patterns=()
    while [ $# -gt 2 ]; do
        patterns+=("$1")
        shift
    done
    set +e
    "$RANKLAB" compare "$1" "$2" >"$SCRATCH/compare.log" 2>&1
    code=$?
    set -e
    [ "$code" -eq "$want" ] || { cat "$SCRATCH/compare.log"; return 1; }
    for p in "${patterns[@]}"; do
        grep -qF -- "$p" "$SCRATCH/compare.log" || { echo "missing: $p"; cat "$SCRATCH/compare.log"; return 1; }
    done
}
check "compare: another train.lr differs, names the first dataset and the key" \
    compare_says 1 "DIFFERENT: the first differing dataset is /metrics/" "largest difference" \
    "train.lr: 0.001 | 0.002" "$SCRATCH/train-mlp-generic" "$SCRATCH/lr"
check "compare: the BLAS path differs, and the fingerprint says why" \
    compare_says 1 "DIFFERENT" "run.compute: exact | blas" "fingerprint.compute: exact | blas" \
    "$SCRATCH/train-mlp-generic" "$SCRATCH/blas"
check "compare: another ISA level is identical, its fingerprint difference cannot change bits" \
    compare_says 0 "IDENTICAL" "fingerprint.isa: generic (forced by RANKLAB_ISA) | avx2" \
    "$SCRATCH/train-mlp-generic" "$SCRATCH/train-mlp-avx2"
check "compare: runs of two experiments say so, and their inputs" \
    compare_says 1 "these are runs of different experiments: A is train, B is mw-train" \
    "inputs that differ" "$SCRATCH/train-mlp-generic" "$SCRATCH/mw-train-generic"
check "compare: a missing file is an error (exit 2) with a hint about the path" \
    compare_says 2 "HINT: check the path" "$SCRATCH/train-mlp-generic" \
    "$SCRATCH/nothing/results.h5"
mkdir -p "$SCRATCH/unfinished" && touch "$SCRATCH/unfinished/results.h5.partial"
check "compare: an unfinished run says so" \
    compare_says 2 "the run is not finished (only results.h5.partial is there)" \
    "$SCRATCH/train-mlp-generic" "$SCRATCH/unfinished"

refused "an unknown RANKLAB_ISA is refused" "RANKLAB_ISA=avx3 is not an ISA level" \
    env RANKLAB_ISA=avx3 "$RANKLAB" "${mlp[@]}" --out "$SCRATCH/bad-isa"
check "a refused level writes nothing" test ! -e "$SCRATCH/bad-isa"
finish
