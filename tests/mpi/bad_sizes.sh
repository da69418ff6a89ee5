# Absurd sizes and shapes are refused with the numbers and a HINT before anything is allocated or
# written (issue 12): huge layers, chunks and data sets from config, IDX headers claiming too
# much, a CNN whose input shape is not the data's, in every experiment; the benchmarks check
# their arguments. Everything runs under `ulimit -v`, so a size that was not checked would fail
# allocating (or abort) instead of being refused. An allocation that still fails ends the job
# with "out of memory" and a hint on the rank, not SIGABRT.
source "$(dirname "$0")/lib.bash"
# Whatever the machine has: 8 GB of address space per process (ulimit -v, KiB), and the memory
# of a Slurm job asking --mem=8G for its two ranks (4 GB each). Under AddressSanitizer, which
# reserves terabytes of address space for its shadow memory (check-sanitize sets ASAN_OPTIONS),
# only the latter.
[ -n "${ASAN_OPTIONS:-}" ] || ulimit -v 8000000
export SLURM_MEM_PER_NODE=8000
SIZE="needs .* GB but only .* GB are available"

# Base models for the experiments that start from a trained one.
ranks 2 run train "${SMALL_TRAIN[@]}" train.epochs=1 --out "$SCRATCH/base" >/dev/null 2>&1
ranks 2 run train data.name=blobs data.dim=20 model.spec=mlp:20-16-4 train.epochs=1 \
    --out "$SCRATCH/blobs-base" >/dev/null 2>&1

REFUSAL_BASE=(run train "${SMALL_TRAIN[@]}")
expect_refusal "a layer of 2e9 outputs" "expected a layer size (1..16777216)" \
    model.spec=mlp:784-2000000000-10
expect_refusal "a 51 GB layer" "model mlp:784-16000000-10 (12720000010 parameters.* $SIZE" \
    model.spec=mlp:784-16000000-10
expect_refusal "a petabyte model" "parameters and their gradients) $SIZE" \
    model.spec=mlp:784-16777216-16777216-10
expect_refusal "a CNN input whose size overflows" "the input 16777216x16777216x16777216 has more" \
    model.spec=cnn:16777216x16777216x16777216-fc10
expect_refusal "train.chunk=1000000 with a big model" \
    "model mlp:784-4096-4096-10 on chunks of 1000000 examples $SIZE" \
    model.spec=mlp:784-4096-4096-10 train.chunk=1000000
expect_refusal "synthetic data.train_size x data.dim" \
    "blobs: 100000000 training examples of 1048576 features $SIZE" data.name=blobs \
    data.train_size=100000000 data.dim=1048576 data.train_limit=0 model.spec=mlp:1048576-4

# A CNN whose input shape is not the data's: both shapes named; flat data has no image shape.
expect_refusal "CNN input 3x32x32 on Fashion-MNIST" \
    "takes images of 3x32x32, but the data fashion-mnist has images of 1x28x28" \
    model.spec=cnn:3x32x32-conv8k5-relu-maxpool2-fc10
expect_refusal "CNN input 1x784x1 on Fashion-MNIST (the same size)" \
    "takes images of 1x784x1, but the data fashion-mnist has images of 1x28x28" \
    model.spec=cnn:1x784x1-fc10
expect_refusal "a CNN on flat synthetic data" \
    "takes images of 1x28x28, but the data blobs has flat features (784 per example" \
    data.name=blobs data.dim=784 model.spec=cnn:1x28x28-conv4k3-relu-fc4

# IDX headers: 2^31-1 images of 28x28 (gzip: only memory can tell; plain: the file is too
# short for its header), and 60000 images of 4096x4096 (the largest image accepted).
idx() { # idx DIR COUNT ROWS COLS GZIP : both splits, headers and a few bytes of examples
    mkdir -p "$1"
    /usr/bin/python3 - "$@" <<'PY'
import gzip, struct, sys
d, (n, rows, cols), gz = sys.argv[1], map(int, sys.argv[2:5]), sys.argv[5] == "1"
files = {"images-idx3-ubyte.gz": struct.pack(">IIII", 0x803, n, rows, cols) + bytes(1000),
         "labels-idx1-ubyte.gz": struct.pack(">II", 0x801, n) + bytes(1000)}
for split in ("train", "t10k"):
    for name, data in files.items():
        with (gzip.open if gz else open)(f"{d}/{split}-{name}", "wb") as f:
            f.write(data)
PY
}
idx "$SCRATCH/idx-gz" 2147483647 28 28 1
idx "$SCRATCH/idx-plain" 2147483647 28 28 0
idx "$SCRATCH/idx-wide" 60000 4096 4096 1
expect_refusal "IDX (gzip) claiming 2^31-1 images" \
    "2147483647 images of 28 x 28 pixels from .*train-images-idx3-ubyte.gz $SIZE" \
    data.dir="$SCRATCH/idx-gz" data.train_limit=0
expect_refusal "IDX (plain) claiming 2^31-1 images" \
    "holds 1016 bytes but its header claims 2147483647 images of 28 x 28 pixels: 1683627179264" \
    data.dir="$SCRATCH/idx-plain" data.train_limit=0
expect_refusal "IDX claiming 60000 images of 4096x4096" \
    "60000 images of 4096 x 4096 pixels from .* $SIZE" data.dir="$SCRATCH/idx-wide" \
    data.train_limit=0

# The other experiments.
REFUSAL_BASE=(run zoqo-train init.from="$SCRATCH/base" data.train_limit=3000 data.test_limit=1000
              zoqo.steps=10 zoqo.batch=128 zoqo.arms=zoqo8,sgd)
expect_refusal "zoqo-train: train.chunk=1000000" \
    "model mlp:784-64-10 on chunks of 1000000 examples $SIZE" train.chunk=1000000
expect_refusal "zoqo-train: a base model of other data" \
    "blobs-base, mlp:20-16-4 takes 20 inputs and gives 4 outputs; the data fashion-mnist has 784" \
    init.from="$SCRATCH/blobs-base"
REFUSAL_BASE=(run zoqo-attack init.from="$SCRATCH/base" data.train_limit=3000
              data.test_limit=1000 attack.images=5 attack.max_queries=20)
expect_refusal "zoqo-attack: a base model of other data" "blobs-base, mlp:20-16-4 takes 20 inputs" \
    init.from="$SCRATCH/blobs-base"
REFUSAL_BASE=(run mw-train "${SMALL_TRAIN[@]}")
expect_refusal "mw-train: every one of 100000 epochs saved" \
    "state for 60000 examples and 100000 saved epochs $SIZE" data.train_limit=0 \
    train.epochs=100000 mw.save_epochs=all
expect_refusal "mw-train: CNN input 3x32x32" "takes images of 3x32x32" \
    model.spec=cnn:3x32x32-conv8k5-relu-maxpool2-fc10
REFUSAL_BASE=(run subset-select data.train_limit=2900 data.test_limit=500 subset.pca_dim=16
              "subset.budgets=10,40,120")
expect_refusal "subset-select: an autoencoder bottleneck wider than 784 (it overran an array)" \
    "narrowest inner layer gives 1000 features, more than the 784" data.name=blobs \
    data.dim=2000 subset.encoder=autoencoder subset.ae_spec=mlp:2000-1000-2000
expect_refusal "subset-select: MLP classifier too big to train" \
    "mlp:784-500000-10.* $SIZE" \
    subset.classifier=mlp subset.mlp_spec=mlp:784-500000-10
expect_refusal "subset-select: CNN classifier input 3x32x32" \
    "subset.mlp_spec cnn:3x32x32-conv8k5-relu-maxpool2-fc10 takes images of 3x32x32" \
    subset.classifier=mlp subset.mlp_spec=cnn:3x32x32-conv8k5-relu-maxpool2-fc10
REFUSAL_BASE=(run gor-train "${SMALL_TRAIN[@]}" model.spec=cnn:1x28x28-conv8k3-relu-fc10)
expect_refusal "gor-train: CNN input 1x32x32" "takes images of 1x32x32" \
    model.spec=cnn:1x32x32-conv8k3-relu-fc10
REFUSAL_BASE=(run prune-init train.epochs=1)
expect_refusal "prune-init: the pruning state of 100M parameters" \
    "pruning the 100200001 parameters of model mlp:1000-100000-1 $SIZE" \
    model.spec=mlp:1000-100000-1

# An allocation that still fails (injected: every allocation of 40 MB or more, here the 47 MB of
# training images and labels the node's ranks share) ends the job with the rank, the size and a
# hint, not SIGABRT.
set +e
RANKLAB_FAULT_ALLOC=40000000 timeout 60 mpiexec --oversubscribe -n 2 "$RANKLAB" run train \
    "${SMALL_TRAIN[@]}" data.train_limit=0 --out "$SCRATCH/oom" >"$SCRATCH/oom.log" 2>&1
code=$?
set -e
check "out of memory fails the job" test "$code" -ne 0 -a "$code" -ne 124
check "naming the rank, the host and the size" \
    grep -q "fatal: rank [01] on .*: out of memory allocating 47280000 bytes" "$SCRATCH/oom.log"
check "with a hint" grep -q "^HINT: reduce the model" "$SCRATCH/oom.log"
check "without SIGABRT" bash -c "! grep -qi 'signal 6\|Aborted' '$SCRATCH/oom.log'"
check "and writes nothing" test ! -e "$SCRATCH/oom"

# Benchmarks: arguments parsed strictly and in range, buffers sized from them.
bench=$(dirname "$RANKLAB")
check "bench_zo runs batch 512 (it overwrote the heap)" \
    timeout 120 "$bench/bench_zo" mlp:784-32-10 512 2
refused "bench_zo: BATCH not a number" "bench.batch = '512x' is not an integer" \
    "$bench/bench_zo" mlp:784-32-10 512x
refused "bench_zo: BATCH out of range" "allowed range for bench.batch" \
    "$bench/bench_zo" mlp:784-32-10 0
refused "bench_zo: STEPS out of range" "allowed range for bench.steps" \
    "$bench/bench_zo" mlp:784-32-10 64 -3
refused "bench_zo: a CNN with group norm (no int8 version)" "has no int8 version" \
    "$bench/bench_zo" cnn:1x28x28-conv4k3-gn2-relu-fc10
refused "bench_zo: COMPUTE not a path" "bench.compute = '9' is not one of the choices" \
    "$bench/bench_zo" mlp:784-32-10 64 2 9
refused "bench_zo: too many arguments" "too many arguments: 5 given, at most 4" \
    "$bench/bench_zo" mlp:784-32-10 64 2 exact 9
refused "bench_mw_epoch: CHUNK not a number" "train.chunk = '3e' is not an integer" \
    "$bench/bench_mw_epoch" mlp:784-32-10 64 1000 3e
refused "bench_mw_epoch: a 51 GB model" "(12720000010 parameters and their gradients) needs" \
    "$bench/bench_mw_epoch" mlp:784-16000000-10
refused "bench_gor_penalty takes no arguments" "too many arguments: 1 given, at most 0" \
    "$bench/bench_gor_penalty" 7
refused "bench_int8_forward takes no arguments" "too many arguments: 1 given, at most 0" \
    "$bench/bench_int8_forward" --fast
check "bench_transformer times every case and part of a tiny decoder, and its memory" \
    bash -c "timeout 120 '$bench/bench_transformer' gpt:L1-D16-H2-T48 50 8 2 |
             grep -cE '^(time|memory|part) [a-z_]+ 8 [0-9]' | grep -qx 20"
check "bench_transformer skips the prompt cases, with a note, below their context" \
    bash -c "timeout 120 '$bench/bench_transformer' gpt:L1-D16-H2-T8 50 3 2 2>&1 |
             grep -q 'no prompt cases: they need a context of 45 tokens'"
check "bench_transformer skips the prompt cases, with a note, below 10 tokens of vocabulary" \
    bash -c "timeout 120 '$bench/bench_transformer' gpt:L1-D16-H2-T48 8 4 2 2>&1 |
             grep -q 'and a vocabulary of more than 9'"
refused "bench_transformer: heads not dividing the width" "not divisible by 3 heads" \
    "$bench/bench_transformer" gpt:L1-D16-H3-T8
refused "bench_transformer: BATCH out of range" "allowed range for bench.batch" \
    "$bench/bench_transformer" gpt:L1-D16-H2-T8 50 0
finish
