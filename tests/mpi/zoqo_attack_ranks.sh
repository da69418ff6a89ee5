# `zoqo-attack` gives bit-identical per-image query counts, success flags and adversarial
# images on 1, 2 and 4 ranks (issue 3, acceptance 2), for the fp32 and the int8 victim; the ZOQO
# attack's adversarial images stay on the 8-bit grid inside the ε-ball and really fool the victim
# (checked by a numpy forward of the fp32 MLP); every attack beats a no-op at ε = 0.2; bad
# attack.* settings are refused before anything is written. A small CNN as the int8 victim: the
# same on 1 and 2 ranks.
source "$(dirname "$0")/lib.bash"
ranks 2 run train "${SMALL_TRAIN[@]}" --out "$SCRATCH/base" >"$SCRATCH/base.log" 2>&1
SMALL_ATTACK=(data.train_limit=3000 data.test_limit=1000 init.from="$SCRATCH/base"
              attack.images=20 attack.max_queries=300 attack.eps=0.05,0.2 attack.save_images=6)

same_on_ranks fp32 "fp32 victim (queries, successes, images)" run zoqo-attack "${SMALL_ATTACK[@]}"
for p in 1 4; do
    ranks $p run zoqo-attack "${SMALL_ATTACK[@]}" attack.victim=int8 --out "$SCRATCH/int8-$p" \
        >"$SCRATCH/int8-$p.log" 2>&1
done
check "int8 victim: 4 ranks == 1 rank" \
    same_results "$SCRATCH/int8-1/results.h5" "$SCRATCH/int8-4/results.h5"
# A small CNN as the int8 victim (int8 convolutions): the same on 1 and 2 ranks.
ranks 2 run train data.train_limit=1000 data.test_limit=300 train.epochs=2 \
    model.spec=cnn:1x28x28-conv4k5-relu-maxpool2-conv8k3s2-relu-fc10 --out "$SCRATCH/cnn" \
    >/dev/null 2>&1
for p in 1 2; do
    ranks $p run zoqo-attack "${SMALL_ATTACK[@]}" init.from="$SCRATCH/cnn" attack.victim=int8 \
        --out "$SCRATCH/cnn-$p" >"$SCRATCH/cnn-$p.log" 2>&1
done
check "int8 CNN victim: 2 ranks == 1 rank" \
    same_results "$SCRATCH/cnn-1/results.h5" "$SCRATCH/cnn-2/results.h5"
check "int8 CNN victim: the ZOQO attack succeeds on some images" /usr/bin/python3 -c "
import h5py
assert h5py.File('$SCRATCH/cnn-1/results.h5')['final/success_zoqo_eps0.2'][()] > 0"
# The comparison can fail: another seed draws other perturbations.
ranks 2 run zoqo-attack "${SMALL_ATTACK[@]}" run.seed=7 --out "$SCRATCH/seed" >/dev/null 2>&1
check "another run.seed gives other query counts" bash -c "! /usr/bin/python3 \
    $(dirname "$0")/same_results.py $SCRATCH/fp32-1/results.h5 $SCRATCH/seed/results.h5 >/dev/null"

check "adversarial images: on the grid, in the ball, fooling the victim; attacks beat a no-op" \
    /usr/bin/python3 - "$SCRATCH/base/results.h5" "$SCRATCH/fp32-2/results.h5" \
    "$SCRATCH/int8-4/results.h5" <<'PY'
import sys
import h5py
import numpy as np
base = h5py.File(sys.argv[1], "r")
params = base["arrays/params"][:].astype(np.float64)
sizes = [int(s) for s in base["arrays/params"].attrs["model"].split(":")[1].split("-")]

def logits(x):  # the fp32 MLP, arena layout W (out, in) then b (out) per layer
    off = 0
    for l, (i, o) in enumerate(zip(sizes[:-1], sizes[1:])):
        w = params[off:off + o * i].reshape(o, i)
        b = params[off + o * i:off + o * i + o]
        off += o * i + o
        x = x @ w.T + b
        if l < len(sizes) - 2:
            x = np.maximum(x, 0)
    return x

for path, fp32 in ((sys.argv[2], True), (sys.argv[3], False)):
    f = h5py.File(path, "r")
    a, fin = f["arrays"], f["final"]
    labels = a["labels"][:].astype(int)
    assert len(labels) == 20 and f["metrics/step"].shape[0] == 6, path
    clean = a["clean_images"][:].reshape(6, -1)
    assert clean.shape[1] == 784 and np.all(clean == np.round(clean)), "clean codes"
    if fp32:
        assert np.all(logits(clean / 255).argmax(1) == labels[:6]), "selected images are correct"
    for method in ("zoqo", "sign", "signhunter"):
        q = {e: a[f"queries_{method}_eps{e}"][:] for e in ("0.05", "0.2")}
        for e, v in q.items():
            ok = (v == -1) | ((v >= 2) & (v <= 300))
            assert np.all(ok) and np.all(v == np.round(v)), (method, e, v)
            assert abs(fin[f"success_{method}_eps{e}"][()] - np.mean(v > 0)) < 1e-12
        assert np.mean(q["0.2"] > 0) > 0, f"{method} never succeeds at eps 0.2 (a no-op's rate)"
        assert np.mean(q["0.2"] > 0) >= np.mean(q["0.05"] > 0), method
    for e, E in (("0.05", 12), ("0.2", 51)):
        adv = a[f"adv_zoqo_eps{e}"][:].reshape(6, -1)
        d = adv - clean
        assert np.all(adv == np.round(adv)) and adv.min() >= 0 and adv.max() <= 255, "grid"
        assert np.abs(d).max() <= E, (e, np.abs(d).max())
        won = a[f"queries_zoqo_eps{e}"][:6] > 0
        if fp32 and won.any():
            z = logits(adv[won] / 255)
            wrong = z.argmax(1) != labels[:6][won]
            top = np.sort(z, 1)
            assert np.all(wrong | (top[:, -1] - top[:, -2] < 1e-4)), "a success that is not"
        if e == "0.2":
            assert won.any() and np.abs(d[won]).max() > 0, "no saved success at eps 0.2"
    print(path.split("/")[-2], {m: float(fin[f"success_{m}_eps0.2"][()])
                                for m in ("zoqo", "sign", "signhunter")})
PY

REFUSAL_BASE=(run zoqo-attack "${SMALL_ATTACK[@]}")
expect_refusal "a radius beyond the int8 codes is refused" "not a radius in" attack.eps=0.1,0.6
expect_refusal "an unknown attack is refused" "unknown attack .square" attack.methods=zoqo,square
expect_refusal "more images than correctly classified is refused" "classifies only" \
    attack.images=999
expect_refusal "non-image data is refused" "not on the 8-bit pixel grid" data.name=blobs \
    data.dim=784 data.classes=10
finish
