# `gor-train` (issue 7): bit-identical on 1, 2 and 4 ranks with the penalty's sets split over
# the ranks (6 (matrix, set) terms inter, 8 intra: uneven blocks on 4 ranks), for inter and intra
# grouping, SO, LoRA adapters of a pretrained CNN on the mirrored task, and PGD adversarial
# training; a SIGTERM resume of adapter training is identical; the penalty does what it says (a
# large λ drives it down, and GOR lowers the grouped penalty more than SO does); bad settings are
# refused.
source "$(dirname "$0")/lib.bash"
SMALL_GOR=(data.train_limit=1500 data.test_limit=500 train.epochs=2 train.batch=100
           train.chunk=16 ckpt.every=10
           model.spec=cnn:1x28x28-conv8k3-gn2-relu-maxpool2-conv16k3-gn4-relu-maxpool2-fc10)

same_on_ranks gor "gor inter" run gor-train "${SMALL_GOR[@]}" gor.lambda=0.1
for variant in "gor.grouping=intra" "gor.method=so" "gor.method=none"; do
    name=${variant#*=}
    for p in 1 4; do
        ranks $p run gor-train "${SMALL_GOR[@]}" gor.lambda=0.1 "$variant" \
            --out "$SCRATCH/$name-$p" >"$SCRATCH/$name-$p.log" 2>&1
    done
    check "$variant: 4 ranks == 1 rank" same_results "$SCRATCH/$name-1/results.h5" "$SCRATCH/$name-4/results.h5"
done
check "the regularizer changes the model (gor != none)" \
    bash -c "! /usr/bin/python3 $(dirname "$0")/same_results.py $SCRATCH/gor-1/results.h5 $SCRATCH/none-1/results.h5 >/dev/null"
ranks 2 run gor-train "${SMALL_GOR[@]}" gor.lambda=10 train.lr=0.01 --out "$SCRATCH/strong" >/dev/null 2>&1
check "a large λ drives the penalty down; GOR lowers the grouped penalty more than SO" \
    /usr/bin/python3 - "$SCRATCH"/{none-1,gor-1,so-1,strong}/results.h5 <<'PY'
import sys
import h5py
none, gor, so, strong = (h5py.File(p, "r") for p in sys.argv[1:])
pen = lambda f, k="penalty": f["final/" + k][()]
assert pen(strong) < 0.2 * pen(none), (pen(strong), pen(none))
assert pen(gor) < pen(none) and pen(so, "so_penalty") < pen(none, "so_penalty")
assert pen(gor) < pen(so), (pen(gor), pen(so))
print("penalty: none %.3f, gor %.3f, so %.3f (grouped), λ=10 %.4f" %
      (pen(none), pen(gor), pen(so), pen(strong)))
PY

# (b) LoRA adapters of the pretrained gor-1 model on the mirrored images.
ADAPT=(run gor-train "${SMALL_GOR[@]}" gor.adapt=true data.transform=mirror gor.lambda=0.1
       init.from="$SCRATCH/gor-1")
same_on_ranks adapt adapters "${ADAPT[@]}"
check "adapters change the model but only by low-rank updates of its matrices" \
    /usr/bin/python3 - "$SCRATCH/gor-1/results.h5" "$SCRATCH/adapt-1/results.h5" <<'PY'
import sys
import h5py
import numpy as np
base = h5py.File(sys.argv[1], "r")["arrays/params"][:].astype(np.float64)
adapted = h5py.File(sys.argv[2], "r")["arrays/params"][:].astype(np.float64)
delta = adapted - base
# conv1 weight: 8 x 9 at offset 0; conv2 weight (16, 8·9) after conv1 (8·9 + 8) and gn (8 + 8)
w1 = delta[:72].reshape(8, 9)
off2 = 72 + 8 + 16
w2 = delta[off2:off2 + 16 * 72].reshape(16, 72)
assert np.abs(delta).max() > 1e-4, np.abs(delta).max()
for w in (w1, w2):
    s = np.linalg.svd(w, compute_uv=False)
    assert s[4:].max() < 1e-5 * s[0], s  # rank <= 4
# biases and group-norm parameters are frozen
assert np.all(delta[72:80] == 0) and np.all(delta[80:96] == 0)
PY
stop_and_resume "adapter training" term@17:1 "from step 17" 4 "$SCRATCH/adapt-1/results.h5" \
    "$SCRATCH/adapt-term" "${ADAPT[@]}"

# (c) PGD adversarial training (random starts) with GOR.
for p in 1 2; do
    ranks $p run gor-train "${SMALL_GOR[@]}" train.epochs=1 adv.train=true adv.eps=0.1 adv.random_start=true \
        adv.pgd_steps=2 adv.limit=200 --out "$SCRATCH/adv-$p" >"$SCRATCH/adv-$p.log" 2>&1
done
check "adversarial training with GOR: 2 ranks == 1 rank (robust accuracy included)" \
    same_results "$SCRATCH/adv-1/results.h5" "$SCRATCH/adv-2/results.h5"

REFUSAL_BASE=(run gor-train "${SMALL_GOR[@]}")
expect_refusal "groups not dividing the filters are refused" "does not divide" gor.groups=3
expect_refusal "adapters without a pretrained model are refused" "init.from is empty" gor.adapt=true
expect_refusal "GOR on a model without conv layers is refused" "has no conv" model.spec=mlp:784-32-10
finish
