# The ViT (vit: specs, issue 17): `train` of a small ViT on five Fashion-MNIST classes
# (data.classes_keep) is bit-identical on 1, 2 and 4 ranks and after SIGTERM and SIGKILL
# resumes; `gor-train` adapts it with LoRA to the other five classes, GOR inter, GOR intra and SO
# on the adapters' up-matrices, bit-identical on 1, 2 and 4 ranks, the adapters changing only q, v,
# fc1, fc2 and the head, by low-rank updates; bad vit: specs are refused.
source "$(dirname "$0")/lib.bash"
SPEC=vit:1x28x28-P7-L1-D16-H2-C5
PRE=(run train model.spec=$SPEC data.classes_keep=0,1,2,3,4 data.train_limit=600
     data.test_limit=200 train.epochs=2 train.batch=50 train.chunk=8 train.lr=0.01 ckpt.every=5)

same_on_ranks pre "vit train" "${PRE[@]}"
check "the ViT learns the five classes (test accuracy above chance)" /usr/bin/python3 -c "
import h5py
acc = h5py.File('$SCRATCH/pre-1/results.h5')['final/test_acc'][()]
assert acc > 0.45, acc
print('test accuracy', acc)"

stop_and_resume "ViT training" term@17:1 "from step 17" 4 "$SCRATCH/pre-1/results.h5" \
    "$SCRATCH/term" "${PRE[@]}"
stop_and_resume "ViT training" kill@18:0 "from step 15" 1 "$SCRATCH/pre-1/results.h5" \
    "$SCRATCH/kill" "${PRE[@]}"

# LoRA adapters of the pretrained ViT on classes 5..9, the penalty on their up-matrices.
ADAPT=(run gor-train model.spec=$SPEC data.classes_keep=5,6,7,8,9 data.train_limit=400
       data.test_limit=200 train.epochs=1 train.batch=50 train.chunk=8 gor.adapt=true
       gor.lambda=0.1 init.from="$SCRATCH/pre-1")
same_on_ranks adapt "ViT adapters, GOR inter" "${ADAPT[@]}"
for variant in "gor.grouping=intra" "gor.method=so" "gor.method=none"; do
    name=${variant#*=}
    for p in 1 4; do
        ranks $p "${ADAPT[@]}" "$variant" --out "$SCRATCH/$name-$p" >"$SCRATCH/$name-$p.log" 2>&1
    done
    check "ViT adapters, $variant: 4 ranks == 1 rank" same_results "$SCRATCH/$name-1/results.h5" "$SCRATCH/$name-4/results.h5"
done
check "the penalty changes the adapters (gor != none)" \
    bash -c "! /usr/bin/python3 $(dirname "$0")/same_results.py $SCRATCH/adapt-1/results.h5 $SCRATCH/none-1/results.h5 >/dev/null"
check "adapters change only q, v, fc1, fc2 and the head, by updates of rank <= 4" \
    /usr/bin/python3 - "$SCRATCH/pre-1/results.h5" "$SCRATCH/adapt-1/results.h5" <<'PY'
import sys
import h5py
import numpy as np
base = h5py.File(sys.argv[1], "r")["arrays/params"][:].astype(np.float64)
adapted = h5py.File(sys.argv[2], "r")["arrays/params"][:].astype(np.float64)
delta = adapted - base
d, f, pd, t, k = 16, 64, 49, 16, 5  # the arena of transformer.h: patch, pos, block, lnf, head
at = d * pd + d + t * d + 2 * d
mats = {}
for name, rows, cols in (("q", d, d), ("k", d, d), ("v", d, d), ("o", d, d)):
    mats[name] = (at, rows, cols)
    at += rows * cols + rows
at += 2 * d
mats["fc1"] = (at, f, d)
at += f * d + f
mats["fc2"] = (at, d, f)
at += d * f + d + 2 * d
mats["head"] = (at, k, d)
assert at + k * d + k == delta.size, (at, delta.size)
changed = np.zeros(delta.size, bool)
for name, (off, rows, cols) in mats.items():
    w = delta[off:off + rows * cols].reshape(rows, cols)
    if name in ("k", "o"):
        assert np.all(w == 0), name
        continue
    changed[off:off + rows * cols] = True
    s = np.linalg.svd(w, compute_uv=False)
    assert s[0] > 1e-5 and (len(s) <= 4 or s[4:].max() < 1e-5 * s[0]), (name, s)
assert np.all(delta[~changed] == 0)  # biases, norms, embeddings frozen
PY

REFUSAL_BASE=("${PRE[@]}")
expect_refusal "patches that do not tile the image are refused" "do not tile" model.spec=vit:1x28x28-P5-L1-D16-H2-C5
expect_refusal "a ViT whose classes differ from the data's is refused" "needs 5 outputs" model.spec=vit:1x28x28-P7-L1-D16-H2-C10
expect_refusal "a bad class list is refused" "names class 10" data.classes_keep=0,10
finish
