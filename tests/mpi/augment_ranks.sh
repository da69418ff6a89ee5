# Data augmentation (data.augment=crop,flip; issue 15, item 3): `train` of a small CNN is
# bit-identical on 1, 2 and 4 ranks and after a SIGTERM or a SIGKILL in the second epoch and
# resume; so are `mw-train` (co-teaching too: it ranks the augmented examples by loss) and
# `gor-train` on 1 and 2 ranks; augmentation changes the training (on != off) but not the
# evaluation of a given model; non-image data are refused.
source "$(dirname "$0")/lib.bash"
CNN=cnn:1x28x28-conv4k3s2-relu-maxpool2-fc10
AUG=(data.train_limit=300 data.test_limit=100 train.epochs=2 train.batch=50 train.chunk=10
     model.spec=$CNN data.augment=crop,flip data.augment_pad=3 ckpt.every=4)

same_on_ranks aug "train with augmentation" run train "${AUG[@]}"

# SIGTERM in the second epoch, resumed on 4 ranks; SIGKILL in the second epoch (after the
# checkpoint of step 8), resumed from step 8 on 2.
stop_and_resume "augmentation" term@9:1 "from step 9" 4 "$SCRATCH/aug-1/results.h5" \
    "$SCRATCH/term" run train "${AUG[@]}"
stop_and_resume "augmentation" kill@10:0 "from step 8" 2 "$SCRATCH/aug-1/results.h5" \
    "$SCRATCH/kill" run train "${AUG[@]}"

# Off by default, and on changes the training: other parameters than without it.
ranks 2 run train "${AUG[@]}" data.augment=none --out "$SCRATCH/plain" >/dev/null 2>&1
check "data.augment=crop,flip trains another model than data.augment=none" \
    bash -c "! /usr/bin/python3 $(dirname "$0")/same_results.py $SCRATCH/aug-1/results.h5 $SCRATCH/plain/results.h5 >/dev/null"
# Evaluation never augments: runs that start from the augmented run's model (init.from) and keep
# it (learning rate 0) report the same test accuracy with and without augmentation.
for a in none crop,flip; do
    ranks 2 run train "${AUG[@]}" train.epochs=1 train.lr=0 data.augment=$a \
        init.from="$SCRATCH/aug-1" --out "$SCRATCH/eval-$a" >/dev/null 2>&1
done
check "evaluation is the same with and without augmentation" /usr/bin/python3 -c "
import h5py
a, b = (h5py.File('$SCRATCH/eval-' + s + '/results.h5')['metrics/test_acc'][:] for s in ('none', 'crop,flip'))
assert (a == b).all(), (a, b)"

for exp in "mw-train data.noise=symmetric data.noise_rate=0.4" \
           "mw-train mw.mode=coteaching data.noise=symmetric data.noise_rate=0.4" \
           "gor-train gor.lambda=0.1"; do
    name=$(echo "$exp" | tr ' =.' '___')
    for p in 1 2; do
        # shellcheck disable=SC2086
        ranks $p run $exp "${AUG[@]}" --out "$SCRATCH/$name-$p" >"$SCRATCH/$name-$p.log" 2>&1
    done
    check "${exp%% *} (${exp#* }) with augmentation: 2 ranks == 1 rank" \
        same_results "$SCRATCH/$name-1/results.h5" "$SCRATCH/$name-2/results.h5"
done

REFUSAL_BASE=(run train data.name=blobs model.spec=mlp:20-8-4 train.epochs=1)
expect_refusal "augmentation of features that are not images is refused" "are not images" \
    data.augment=flip
expect_refusal "an unknown augmentation is refused" 'unknown augmentation "rotate"' \
    data.augment=crop,rotate
finish
