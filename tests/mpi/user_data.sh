# Users' own data (issue 15): HDF5 files (data.name=h5, uint8 images and float32 features) and
# CIFAR-10 binary batches, all generated here with an easy pattern: `train` learns them, gives
# the same bits on 1 and 2 ranks, records digests of them; every malformed file (and memory
# shared by the node's ranks that would not fit where Open MPI keeps it) is refused with a
# message naming the problem and a HINT, before anything is written.
source "$(dirname "$0")/lib.bash"
data=$SCRATCH/data
mkdir -p "$data"

# The files: good.h5 (uint8 (N, 1, 12, 12): a bright quadrant per class, 4 classes, no
# 'classes' attribute), flat.h5 (float32 (N, 20) blobs, uint8 labels, classes=3), cifar/ (the
# bright 8x8 cell of a 4x4 grid per class, 5 training batches), and the malformed variants.
/usr/bin/python3 - "$data" <<'PY'
import os, sys
import h5py, numpy as np
d = sys.argv[1]
rng = np.random.default_rng(7)

def quadrants(n):
    y = rng.integers(0, 4, n)
    x = rng.integers(0, 60, (n, 1, 12, 12), dtype=np.uint8)
    for i, c in enumerate(y):
        r, s = 6 * (c // 2), 6 * (c % 2)
        x[i, 0, r:r + 6, s:s + 6] += 180
    return x, y.astype(np.int64)

def blobs(n):
    y = rng.integers(0, 3, n)
    centres = np.random.default_rng(1).normal(0, 3, (3, 20))
    return (centres[y] + rng.normal(0, 1, (n, 20))).astype(np.float32), y.astype(np.uint8)

def write(name, train, test, **attrs):
    with h5py.File(f"{d}/{name}", "w") as f:
        for split, (x, y) in (("train", train), ("test", test)):
            if x is not None:
                f[f"{split}/x"] = x
            if y is not None:
                f[f"{split}/y"] = y
        f.attrs.update(attrs)

train, test = quadrants(600), quadrants(200)
write("good.h5", train, test)
write("flat.h5", blobs(600), blobs(200), classes=3)
pixel = train[0].copy()
pixel[3, 0, 5, 5] ^= 1
write("pixel.h5", (pixel, train[1]), test)
write("shape.h5", (train[0].reshape(600, 12, 12), train[1]), (test[0].reshape(200, 12, 12), test[1]))
write("count.h5", (train[0], train[1][:599]), test)
write("float64.h5", (train[0].astype(np.float64), train[1]), (test[0].astype(np.float64), test[1]))
write("float_labels.h5", (train[0], train[1].astype(np.float32)), test)
write("missing.h5", train, (test[0], None))
write("mixed.h5", train, (test[0].astype(np.float32) / 255, test[1]))
write("other_shape.h5", train, (test[0].reshape(200, 1, 6, 24), test[1]))
negative = train[1].copy(); negative[7] = -1
write("negative.h5", (train[0], negative), test)
write("declared.h5", train, test, classes=3)  # labels go up to 3
beyond = test[1].copy(); beyond[5] = 9
write("beyond.h5", train, (test[0], beyond))
features, labels = blobs(600)
features[42, 7] = np.nan
write("nan.h5", (features, labels), blobs(200), classes=3)
with open(f"{d}/good.h5", "rb") as f:
    whole = f.read()
with open(f"{d}/truncated.h5", "wb") as f:
    f.write(whole[: len(whole) // 2])

def cifar(n):
    y = rng.integers(0, 10, n)
    x = rng.integers(0, 80, (n, 3, 32, 32), dtype=np.uint8)
    for i, c in enumerate(y):
        r, s = 8 * (c // 4), 8 * (c % 4)
        x[i, :, r:r + 8, s:s + 8] += 170
    return np.concatenate([y.astype(np.uint8)[:, None], x.reshape(n, -1)], axis=1)

for name in ("cifar", "cifar-cut", "cifar-label"):
    os.makedirs(f"{d}/{name}")
train, test = cifar(1000), cifar(200)
for k in range(5):
    for name in ("cifar", "cifar-cut", "cifar-label"):
        records = train[200 * k: 200 * (k + 1)].copy()
        if name == "cifar-label" and k == 2:
            records[17, 0] = 10
        data = records.tobytes()
        if name == "cifar-cut" and k == 3:
            data = data[:-100]
        open(f"{d}/{name}/data_batch_{k + 1}.bin", "wb").write(data)
for name in ("cifar", "cifar-cut", "cifar-label"):
    open(f"{d}/{name}/test_batch.bin", "wb").write(test.tobytes())
PY

value() { # value FILE PATH: a dataset or attribute of a results file
    /usr/bin/python3 -c "import h5py, sys; f = h5py.File(sys.argv[1]); p = sys.argv[2]
print(f.attrs[p[1:]] if p.startswith('@') else f[p][()])" "$@"
}

# Good files: learned, rank-independent, recorded.
H5_CNN=(data.name=h5 data.path="$data/good.h5" model.spec=cnn:1x12x12-conv4k3-relu-maxpool2-fc4
        train.epochs=3 train.batch=50 train.chunk=16)
H5_MLP=(data.name=h5 data.path="$data/flat.h5" model.spec=mlp:20-16-3 train.epochs=3 train.lr=0.01
        train.batch=50 train.chunk=16)
CIFAR=(data.name=cifar10 data.dir="$data/cifar" model.spec=cnn:3x32x32-conv4k5-relu-maxpool2-fc10
       train.epochs=2 train.batch=50 train.chunk=16)
for p in 1 2; do
    ranks $p run train "${H5_CNN[@]}" --out "$SCRATCH/h5-$p" >"$SCRATCH/h5-$p.log" 2>&1
    ranks $p run train "${H5_MLP[@]}" --out "$SCRATCH/flat-$p" >"$SCRATCH/flat-$p.log" 2>&1
    ranks $p run train "${CIFAR[@]}" --out "$SCRATCH/cifar-$p" >"$SCRATCH/cifar-$p.log" 2>&1
done
for run in h5 flat cifar; do
    check "$run: 2 ranks == 1 rank" same_results "$SCRATCH/$run-1/results.h5" "$SCRATCH/$run-2/results.h5"
    acc=$(value "$SCRATCH/$run-2/results.h5" final/test_acc)
    check "$run: learned (test accuracy $acc > 0.9)" /usr/bin/python3 -c "assert $acc > 0.9"
done
check "h5 uint8 images: inputs recorded with their shape" \
    grep -q "^h5: train 600x1x12x12 crc32 [0-9a-f]*, test 200x1x12x12 crc32" \
    <(value "$SCRATCH/h5-1/results.h5" @inputs)
check "h5 float32 features: inputs recorded" grep -q "^h5: train 600x20 crc32 [0-9a-f]*, test 200x20" \
    <(value "$SCRATCH/flat-1/results.h5" @inputs)
check "cifar10: inputs recorded" grep -q "^cifar10: train 1000x3x32x32 crc32 [0-9a-f]*, test 200x3x32x32" \
    <(value "$SCRATCH/cifar-1/results.h5" @inputs)

# One pixel changed: another digest, and a run stopped on the first file does not resume on it.
set +e
RANKLAB_FAULT=term@10:0 ranks 2 run train "${H5_CNN[@]}" ckpt.every=5 --out "$SCRATCH/stopped" \
    >/dev/null 2>&1
ranks 2 run train "${H5_CNN[@]}" data.path="$data/pixel.h5" --out "$SCRATCH/stopped" \
    >"$SCRATCH/pixel.log" 2>&1
code=$?
set -e
check "h5: resuming on a file with one pixel changed is refused" test $code -ne 0
check "naming both digests" grep -q "was made from other inputs than this run's (checkpoint: h5: train 600x1x12x12 crc32" \
    "$SCRATCH/pixel.log"

# Malformed files: refused on 2 ranks, nothing written.
REFUSAL_BASE=(run train "${H5_CNN[@]}")
expect_refusal "h5: data.path not set" "data.name=h5 reads the file data.path, which is not set" \
    data.path=
expect_refusal "h5: no such file" "$data/nope.h5 does not exist" data.path="$data/nope.h5"
expect_refusal "h5: truncated file" "cannot read .*truncated.h5 as HDF5: truncated file" \
    data.path="$data/truncated.h5"
expect_refusal "h5: wrong shape" "train/x has shape (600, 12, 12); expected (N, C, H, W)" \
    data.path="$data/shape.h5"
expect_refusal "h5: x/y length mismatch" "train/x holds 600 examples but train/y holds 599 labels" \
    data.path="$data/count.h5"
expect_refusal "h5: x as float64" "train/x holds float64 values, but ranklab reads uint8" \
    data.path="$data/float64.h5"
expect_refusal "h5: float labels" "train/y holds float32 values, not integer labels" \
    data.path="$data/float_labels.h5"
expect_refusal "h5: missing dataset" "missing.h5 has no dataset test/y" data.path="$data/missing.h5"
expect_refusal "h5: splits of different types" "train/x is uint8 but test/x is float32" \
    data.path="$data/mixed.h5"
expect_refusal "h5: splits of different shapes" "train/x holds examples of shape (1, 1, 12, 12) but test/x of (1, 1, 6, 24)" \
    data.path="$data/other_shape.h5"
expect_refusal "h5: a negative label" "label -1 of train example 7 is negative" \
    data.path="$data/negative.h5"
expect_refusal "h5: a label beyond the declared classes" \
    "label 3 of train example [0-9]* is outside 0..2 (the root attribute 'classes' is 3)" \
    data.path="$data/declared.h5"
expect_refusal "h5: a test label beyond the training labels" "label 9 of test example 5 is outside the training labels 0..3" \
    data.path="$data/beyond.h5"
REFUSAL_BASE=(run train "${H5_MLP[@]}")
expect_refusal "h5: a feature that is not a number" "train/x holds nan at feature 7 of example 42" \
    data.path="$data/nan.h5"
REFUSAL_BASE=(run train "${H5_CNN[@]}")
OMPI_MCA_osc_sm_backing_directory=/proc expect_refusal \
    "h5: the node's one copy does not fit where Open MPI keeps shared memory" \
    "bytes of memory shared by the 2 ranks of this node do not fit in /proc" data.path="$data/good.h5"
REFUSAL_BASE=(run train "${CIFAR[@]}")
expect_refusal "cifar10: a file that is not whole records" \
    "data_batch_4.bin holds 614500 bytes, not a whole number of 3073-byte records" \
    data.dir="$data/cifar-cut"
expect_refusal "cifar10: a label out of range" "label 10 of record 17 in .*data_batch_3.bin is outside 0..9" \
    data.dir="$data/cifar-label"
expect_refusal "cifar10: no such directory" "cannot open $data/none/data_batch_1.bin" \
    data.dir="$data/none"
expect_refusal "cifar10: a CNN for another image shape" \
    "takes images of 1x28x28, but the data cifar10 has images of 3x32x32" \
    model.spec=cnn:1x28x28-conv4k5-relu-maxpool2-fc10
finish
