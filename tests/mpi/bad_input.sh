# Bad input gets a clear error with a hint and a non-zero exit, and writes nothing
# (DESIGN.md invariant 6): config keys, values, dataset files, output directory, checkpoints.
source "$(dirname "$0")/lib.bash"

REFUSAL_BASE=(run train "${SMALL_TRAIN[@]}")

expect_refusal "unknown key names the closest" "did you mean 'train.epochs'" train.epoch=3
expect_refusal "bad type" "train.batch = 'many' is not an integer" train.batch=many
expect_refusal "out of range" "allowed range for train.lr" train.lr=-1
expect_refusal "bad choice" "choose one of: adam|sgd" train.optim=lbfgs
expect_refusal "bad model spec" "mlp:784-256-256-10" model.spec=mlp:784
expect_refusal "model does not fit the data" "match the first and last numbers" model.spec=mlp:10-10
expect_refusal "missing config file" "cannot open config file" -c "$SCRATCH/nope.ini"

# Dataset files: missing, truncated, wrong magic, damaged (checked to the end of the gzip stream).
data=$SCRATCH/data
mkdir -p "$data/missing" "$data/truncated" "$data/magic"
src=/usr/share/datasets/fashion-mnist
cp "$src"/*.gz "$data/truncated/"
cp "$src"/*.gz "$data/magic/"
gunzip "$data/truncated/train-images-idx3-ubyte.gz"
truncate -s 100000 "$data/truncated/train-images-idx3-ubyte"
gzip "$data/truncated/train-images-idx3-ubyte"
cp "$src/train-labels-idx1-ubyte.gz" "$data/magic/train-images-idx3-ubyte.gz"
mkdir -p "$data/damaged"
cp "$src"/*.gz "$data/damaged/"
/usr/bin/python3 - "$data/damaged/train-images-idx3-ubyte.gz" <<'PY'
import sys
path = sys.argv[1]
b = bytearray(open(path, "rb").read())
for i in range(len(b) // 2, len(b) // 2 + 50):  # past the examples a small run reads
    b[i] ^= 255
open(path, "wb").write(b)
PY
expect_refusal "missing dataset file" "apt-get install dataset-fashion-mnist" data.dir="$data/missing"
expect_refusal "truncated dataset file" "truncated" data.dir="$data/truncated" data.train_limit=0
expect_refusal "wrong IDX magic" "magic" data.dir="$data/magic"
expect_refusal "damaged gzip file, past the examples read" \
    "train-images-idx3-ubyte.gz is damaged (its gzip check failed" data.dir="$data/damaged"

# Output directory that cannot be created: under a regular file.
touch "$SCRATCH/a-file"
set +e
ranks 2 run train "${SMALL_TRAIN[@]}" --out "$SCRATCH/a-file/run" >"$SCRATCH/log" 2>&1
code=$?
set -e
check "unwritable output directory fails" test "$code" -ne 0
check "and says so with a hint" grep -q "HINT: choose .*--out" "$SCRATCH/log"

# A checkpoint of another config in the output directory: refused, directory untouched.
set +e
RANKLAB_FAULT=term@25:0 ranks 2 run train "${SMALL_TRAIN[@]}" ckpt.every=10 --out "$SCRATCH/other" \
    >/dev/null 2>&1
ranks 2 run train "${SMALL_TRAIN[@]}" train.lr=0.01 --out "$SCRATCH/other" >"$SCRATCH/log" 2>&1
code=$?
set -e
listing() { find "$SCRATCH/other" -type f -exec md5sum {} + | sort; }
check "checkpoint of another config is refused" test "$code" -ne 0
check "with a message naming it" grep -q "holds a checkpoint of another config" "$SCRATCH/log"
check "and the key that changed" grep -q "changed since: train.lr: 0.001 -> 0.01$" "$SCRATCH/log"
check "printed once, not by every rank" test "$(grep -c "^error: " "$SCRATCH/log")" -eq 1
before=$(listing)
set +e
ranks 2 run train "${SMALL_TRAIN[@]}" train.lr=0.01 --out "$SCRATCH/other" >/dev/null 2>&1
set -e
check "and the directory is untouched" test "$before" = "$(listing)"

# List keys whose items name finals or arrays: a repeated item would only fail when every result
# is computed, so it is refused before anything runs (issue 12).
REFUSAL_BASE=(run zoqo-attack data.train_limit=3000 data.test_limit=500 attack.images=5)
expect_refusal "attack.eps with a radius twice" "attack.eps lists '0.1' twice" attack.eps=0.1,0.1
expect_refusal "attack.eps with one radius written twice" \
    "attack.eps lists the radius 0.1 twice ('0.1' and '0.10')" attack.eps=0.1,0.10
expect_refusal "attack.methods with an attack twice" "attack.methods lists 'sign' twice" \
    attack.methods=sign,zoqo,sign
expect_refusal "attack.eps with an empty item" "empty item in the list" attack.eps=0.1,,0.2
REFUSAL_BASE=(run zoqo-train data.train_limit=3000 data.test_limit=500)
expect_refusal "zoqo.arms with an arm twice" "zoqo.arms lists 'zoqo8' twice" zoqo.arms=zoqo8,sign,zoqo8
expect_refusal "zoqo.arms with too many arms" "zoqo.arms lists 9 values, more than the 8 allowed" \
    zoqo.arms=zoqo2,zoqo3,zoqo4,zoqo5,zoqo6,zoqo7,zoqo8,sign,mezo
REFUSAL_BASE=(run subset-select data.train_limit=1000 data.test_limit=500)
expect_refusal "subset.budgets with a budget twice" "subset.budgets lists 10 twice" \
    subset.budgets=10,40,010
expect_refusal "a feature cache in a directory that does not exist, before any training" \
    "subset.feature_cache=$SCRATCH/nodir/f.h5: the directory $SCRATCH/nodir does not exist" \
    subset.encoder=autoencoder subset.feature_cache="$SCRATCH/nodir/f.h5"
REFUSAL_BASE=(run train "${SMALL_TRAIN[@]}" --out "$SCRATCH/first-out")
expect_refusal "--out given twice" "--out is given twice"
REFUSAL_BASE=(run mw-train "${SMALL_TRAIN[@]}")
expect_refusal "mw.save_epochs with an epoch twice" "mw.save_epochs lists '2' twice" \
    mw.save_epochs=2,1,2
expect_refusal "mw.save_epochs with one epoch written twice" "mw.save_epochs lists 2 twice" \
    mw.save_epochs=2,1,02

# A learning rate that makes training diverge: the exact sums meet NaN or values beyond their
# range, which they cannot add; the run stops with an error naming the step and a hint, and
# never reports a loss of 0 for a sum that is no number.
set +e
ranks 2 run train data.name=linreg model.spec=mlp:20-1 train.optim=sgd train.lr=100 \
    --out "$SCRATCH/diverged" >"$SCRATCH/diverged.log" 2>&1
code=$?
set -e
check "diverged training names the step" grep -q "training diverged at step" "$SCRATCH/diverged.log"
check "  ... exits 1 (got $code) with a hint, and writes no complete results" \
    test "$code" -eq 1 -a ! -e "$SCRATCH/diverged/results.h5" -a \
    "$(grep -c HINT "$SCRATCH/diverged.log")" -ge 1
finish
